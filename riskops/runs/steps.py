"""The steps of a run, in one place for both flows: `riskops run` calls them in-process (riskops.runs.job) and
each KFP component calls one of them in its own pod. Same order, same inputs, same outputs:

    training: ingest(labelled) -> features(labelled) -> train -> evaluate -> gate -> promote (if the gate says so)
    scoring:  ingest(unlabelled) -> score -> report

A step is configured only by its arguments: `config` (a StepConfig as a dict: warehouse, artifact root; it
travels in the compiled spec) and plain values handed on by earlier steps (run id, table names, the model
version). It never reads a local path it was not given. Each step records what it did in
`<run>/steps/<step>.json`; the report step assembles the run's record from those.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast, get_args

from riskops.core.config import StepConfig
from riskops.core.errors import ConfigError
from riskops.core.identity import new_run_id
from riskops.core.progress import Tick
from riskops.data.contract import Cohort, as_of_cutoff, outcome_word, table_name
from riskops.data.contract import Mapping as TableMapping
from riskops.features.engineering import FeatureConfig
from riskops.io.artifacts import ArtifactStore, open_store
from riskops.io.warehouse import Warehouse, open_warehouse
from riskops.model.config import CostMatrix, ModelChoice, TrainConfig
from riskops.runs.parameters import DEFAULTS
from riskops.runs.record import StepRecord, write_step
from riskops.scoring.policy import OffboardConfig

if TYPE_CHECKING:
    from riskops.model.registry import Registry

log = logging.getLogger(__name__)

Config = Mapping[str, Any]


@dataclass
class StepResult:
    value: Any
    record: StepRecord
    run_id: str
    metrics: dict[str, float] = field(default_factory=dict)
    document: str = ""


class _Step:
    """One step's configuration, store and clock; `done` records it in the run and returns its result."""

    def __init__(self, config: Config, run_id: str, name: str) -> None:
        if not run_id:
            raise ValueError(f"step {name} needs the run id (the ingest step makes one)")
        self.config = StepConfig.parse(config)
        self.settings = self.config.settings()
        self.store: ArtifactStore = open_store(self.config.artifact_root, self.settings.gcs_endpoint)
        self.run_id, self.name, self.started = run_id, name, time.perf_counter()

    def registry(self) -> Registry:
        """The model registry in this step's store, approval required as the configuration says."""
        from riskops.model.registry import Registry

        return Registry(self.store, self.config.model_approval)

    @contextmanager
    def warehouse(self) -> Iterator[Warehouse]:
        with open_warehouse(self.settings) as wh:
            yield wh

    def done(
        self,
        value: Any,
        figure: str,
        metrics: dict[str, float] | None = None,
        document: str = "",
        parameters: dict[str, Any] | None = None,
        detail: dict[str, Any] | None = None,
    ) -> StepResult:
        record = StepRecord(
            step=self.name,
            seconds=round(time.perf_counter() - self.started, 2),
            figure=figure,
            parameters=parameters or {},
            detail=detail or {},
        )
        write_step(self.store, self.run_id, record)
        return StepResult(value, record, self.run_id, metrics or {}, document)


def ingest(
    config: Config,
    cohort: Cohort,
    as_of: str,
    run_id: str = "",
    dataset_dir: str = "",
    mapping: TableMapping | Mapping[str, Any] | None = None,
) -> StepResult:
    """Load a dataset folder's cohort into the raw tables (when given) and validate it into the clean and
    quarantine tables. The first step of either pipeline: it makes the run id when none is given. Its value is
    the clean customers table; raises on unusable data after writing the validation report."""
    from riskops.data.ingest import ingest_cohort
    from riskops.data.sources import load_dataset

    run_id = run_id or new_run_id()
    step = _Step(config, run_id, f"ingest-{cohort}")
    if mapping is not None and not isinstance(mapping, TableMapping):  # as a pipeline parameter carries it
        mapping = TableMapping.model_validate(dict(mapping)) if mapping else None
    with step.warehouse() as wh:
        if dataset_dir:
            load_dataset(wh, Path(dataset_dir), mapping, cohorts=(cohort,))
        r = ingest_cohort(wh, cohort, date.fromisoformat(as_of), step.store, f"{run_id}/validation/{cohort}", mapping)
    metrics = {
        "customers_clean": float(r.customers.rows_clean),
        "customers_quarantined": float(r.customers.rows_quarantined),
        "transactions_clean": float(r.transactions.rows_clean),
        "transactions_quarantined": float(r.transactions.rows_quarantined),
    }
    labels = ""
    if r.labels:
        total = sum(r.labels.values()) or 1
        word = outcome_word(mapping.label_words if mapping else {})
        labels = f", {r.labels.get('SUSPENDED', 0):,} {word} ({r.labels.get('SUSPENDED', 0) / total:.1%})"
    figure = (
        f"{r.customers.rows_clean:,} customers{labels}, {r.transactions.rows_clean:,} transactions; quarantined "
        f"{r.customers.rows_quarantined:,} customers, {r.transactions.rows_quarantined:,} transactions"
    )
    data = dataset_dir or f"raw tables in the warehouse ({step.config.warehouse})"
    return step.done(
        table_name(cohort, "customers"),
        figure,
        metrics,
        r.summary(),
        parameters={"as_of": as_of, "mapping": mapping.parameter() if mapping and mapping != TableMapping() else {}},
        detail={"report": r.model_dump(mode="json"), "data": data},
    )


def features(
    config: Config, cohort: Cohort, as_of: str, run_id: str, allow_protected: Mapping[str, str] | None = None
) -> StepResult:
    """Compute `<cohort>_features` in the warehouse: one row per clean customer; the mapping's protected
    attributes are not features unless the policy allows one (`allow_protected`, with its justification). Its
    value is the table."""
    from riskops.features.adapt import adapt
    from riskops.features.engineering import build_features, catalogue_markdown, omit_constant
    from riskops.runs.record import read_steps

    step = _Step(config, run_id, f"features-{cohort}")
    cutoff = as_of_cutoff(date.fromisoformat(as_of))
    ingested = {r.step: r for r in read_steps(step.store, run_id)}.get(f"ingest-{cohort}")
    mapped = (ingested.parameters.get("mapping") or {}) if ingested else {}
    protected, allowed = list(mapped.get("protected", ())), dict(allow_protected or {})
    if set(allowed) - set(protected):
        raise ConfigError(
            f"allow_protected names {sorted(set(allowed) - set(protected))}, which the mapping does not "
            "declare protected",
            "the policy's allow_protected",
            f"name one of {protected or 'none'}: the mapping's `protected`",
        )
    kept_out = tuple(p for p in protected if p not in allowed)
    base = FeatureConfig(
        attribute_words=mapped.get("descriptions", {}),
        protected=kept_out,
        allowed_protected=allowed,
        label_words=mapped.get("label_words", {}),
    )
    with step.warehouse() as wh:  # the book's own types and windows and words; the model keeps them (its card)
        adapted = adapt(wh, cohort, cutoff, base)
        fs = build_features(wh, cohort, cutoff, adapted.config)
        constant: list[str] = []
        if cohort == "labelled":  # the book is adapted on the labelled cohort; others follow the model's card
            fs, constant = omit_constant(wh, cohort, fs)
        n = wh.count(table_name(cohort, "features"))
    if constant:
        adapted.notes.append(
            f"{len(constant)} features had one value for every customer and are not generated: " + ", ".join(constant)
        )
    step.store.write_text(f"{run_id}/{FEATURE_CONFIG}", fs.config.model_dump_json(indent=2))
    step.store.write_text(f"{run_id}/features/catalogue.md", catalogue_markdown(fs))
    metrics = {"customers": float(n), "features": float(len(fs.names))}
    return step.done(
        table_name(cohort, "features"),
        f"{len(fs.names)} features for {n:,} customers",
        metrics,
        detail={"adapted": adapted.notes, "catalogue": step.store.uri(f"{run_id}/features/catalogue.md")},
    )


FEATURE_CONFIG = "features/config.json"  # in the run folder: what the features step chose, for the train step


def train(
    config: Config,
    as_of: str,
    run_id: str,
    trials: int = DEFAULTS.trials,
    tuning_timeout_s: float = DEFAULTS.tuning_timeout_s,
    seed: int = DEFAULTS.seed,
    tick: Tick | None = None,
    outcomes: bool = DEFAULTS.outcomes,
    family: str = DEFAULTS.family,
    registered_by: str = DEFAULTS.registered_by,
) -> StepResult:
    """Train a candidate on `labelled_features` (and, with `outcomes`, current customers' matured outcomes;
    tuning, CV against baselines; `family` is the policy's model family; `registered_by` the person it is
    registered in the name of, who may not approve it); its value is the version."""
    from riskops.runs.candidate import train_candidate
    from riskops.runs.record import read_steps

    step = _Step(config, run_id, "train")
    ingested = {r.step: r for r in read_steps(step.store, run_id)}.get("ingest-labelled")
    snapshot = ingested.detail["report"].get("snapshot", {}) if ingested else {}
    if family not in get_args(ModelChoice):  # a pipeline argument is any string
        raise ConfigError(
            f"unknown model family {family!r}",
            "the run's `family` (the policy's `family`)",
            f"use one of {', '.join(get_args(ModelChoice))}",
        )
    cfg = TrainConfig(
        seed=seed, trials=trials, tuning_timeout_s=tuning_timeout_s, outcomes=outcomes, family=cast(ModelChoice, family)
    )
    chosen = f"{run_id}/{FEATURE_CONFIG}"
    features = FeatureConfig.model_validate_json(step.store.read_text(chosen)) if step.store.exists(chosen) else None
    with step.warehouse() as wh:
        c = train_candidate(
            wh, step.store, date.fromisoformat(as_of), cfg, features, snapshot, tick=tick, registered_by=registered_by
        )
    cv = c.cv[c.family]
    metrics = {"cv_roc_auc": cv["roc_auc_mean"], "cv_pr_auc": cv["pr_auc_mean"]}
    tuned = c.tuning.get("trials", 0)
    figure = f"{c.version}: {c.family}, CV PR-AUC {cv['pr_auc_mean']:.3f}, " + (
        f"{tuned} tuning trials" if tuned else "no tuning"
    )
    params = {
        "trials": trials,
        "tuning_timeout_s": tuning_timeout_s,
        "seed": seed,
        "outcomes": outcomes,
        "family": family,
        "registered_by": c.registered_by,
    }
    if c.outcome_examples:
        metrics["outcome_examples"] = c.outcome_examples["rows"]
    return step.done(c.version, figure, metrics, parameters=params, detail={"version": c.version})


def model_file(config: Config, version: str) -> bytes:
    """A version's model file (model.cbm or model.skops), for the pipeline's Model artifact."""
    from riskops.model.registry import Registry

    cfg = StepConfig.parse(config)
    registry = Registry(open_store(cfg.artifact_root, cfg.gcs_endpoint or None))
    return registry.store.read_bytes(registry.model_key(version))


def evaluate(
    config: Config,
    version: str,
    run_id: str,
    missed_cost: float = DEFAULTS.missed_cost,
    offboard_cost: float = DEFAULTS.offboard_cost,
    fairness: Mapping[str, Any] | None = None,
    max_list_share: float = DEFAULTS.max_list_share,
) -> StepResult:
    """Evaluate the candidate once on its holdout with the run's cost matrix (and fairness limits, the policy's)
    and register it; the report."""
    from riskops.model.fairness import FairnessPolicy
    from riskops.runs.candidate import evaluate_candidate

    step = _Step(config, run_id, "evaluate")
    costs = CostMatrix(missed_cost=missed_cost, offboard_cost=offboard_cost)
    limits = FairnessPolicy.model_validate(dict(fairness or {}))
    card = evaluate_candidate(step.store, version, costs, limits, max_list_share)
    m = card.metrics
    metrics = {
        "holdout_roc_auc": m["roc_auc"],
        "holdout_pr_auc": m["pr_auc"],
        "brier": m["brier"],
        "threshold": card.threshold,
    }
    figure = f"holdout ROC-AUC {m['roc_auc']:.3f}, PR-AUC {m['pr_auc']:.3f}; threshold {card.threshold:.3f}"
    document = step.store.read_text(f"models/{version}/evaluation/report.md")
    return step.done(
        card.report_uri,
        figure,
        metrics,
        document,
        parameters={"missed_cost": missed_cost, "offboard_cost": offboard_cost},
        detail={"version": version},
    )


def reuse(config: Config, run_id: str, training: Mapping[str, Any]) -> StepResult | None:
    """A run given only a new policy re-scores with the champion instead of retraining it, when the champion was
    trained on the same labelled data and configuration (`runs.candidate.retraining_needed`); recorded as the
    `reuse` step, its value the champion. None: the run trains (nothing recorded)."""
    from riskops.runs.candidate import retraining_needed
    from riskops.runs.record import read_steps

    step = _Step(config, run_id, "reuse")
    registry = step.registry()
    champion = registry.champion()
    if champion is None:
        return None
    ingested = {r.step: r for r in read_steps(step.store, run_id)}.get("ingest-labelled")
    snapshot = ingested.detail["report"].get("snapshot", {}) if ingested else {}
    chosen = f"{run_id}/{FEATURE_CONFIG}"
    features = FeatureConfig.model_validate_json(step.store.read_text(chosen)) if step.store.exists(chosen) else None
    why = retraining_needed(registry.card(champion), snapshot, features, dict(training))
    if why:
        log.info("training a new model: %s", why)
        return None
    figure = (
        f"{champion} was trained on this data and configuration: the new policy re-scores with it, no retraining "
        "(--retrain trains anyway)"
    )
    return step.done(champion, figure, detail={"version": champion, "fingerprint": snapshot.get("fingerprint")})


def validate(config: Config, version: str, run_id: str, validation: Mapping[str, Any] | None = None) -> StepResult:
    """The candidate's validation pack (riskops.runs.validate) from the labelled cohort it learned from: what a
    validator reads before approving it. Its value is the pack's overall status."""
    from riskops.model.config import ValidationPolicy
    from riskops.model.pack import FOLDER
    from riskops.runs.validate import validate_version

    step = _Step(config, run_id, "validate")
    policy = ValidationPolicy.model_validate(dict(validation or {}))
    with step.warehouse() as wh:
        pack = validate_version(wh, step.store, version, policy)
    by = {s.name: s for s in pack.sections}
    figure = f"{pack.status}: " + ", ".join(f"{s.name} {s.status}" for s in pack.sections if s.status != "n/a")
    metrics = {f"{name}_{k}": float(x) for name, k, x in _pack_metrics(by) if x is not None}
    document = step.store.read_text(f"models/{version}/{FOLDER}/pack.md")
    detail = {"version": version, "status": pack.status, "pack": step.store.uri(f"models/{version}/{FOLDER}/pack.html")}
    return step.done(pack.status, figure, metrics, document, detail=detail)


def _pack_metrics(by: dict[str, Any]) -> list[tuple[str, str, float | None]]:
    """The pack's headline figures as run metrics."""
    oot, bench, stab = by["out_of_time"].figures, by["benchmark"].figures, by["stability"].figures
    return [  # a section a small book could not judge has no figure
        ("oot", "roc_auc", oot.get("out_of_time", {}).get("roc_auc")),
        ("in_time", "roc_auc", oot.get("in_time", {}).get("roc_auc")),
        ("scorecard", "pr_auc", bench.get("scorecard_pr_auc")),
        ("champion", "lead", bench.get("lead")),
        ("stability", "max_psi", stab.get("largest", {}).get("psi")),
    ]


def gate(
    config: Config,
    version: str,
    run_id: str,
    margin: float = DEFAULTS.margin,
    fairness: Mapping[str, Any] | None = None,
    max_list_share: float = DEFAULTS.max_list_share,
) -> StepResult:
    """Compare the candidate with the champion on the candidate's holdout, PR-AUC then fairness (the policy's
    limits): True means promote."""
    from riskops.model.fairness import FairnessPolicy
    from riskops.model.registry import Registry
    from riskops.runs.candidate import fair_gate

    step = _Step(config, run_id, "gate")
    registry = Registry(step.store)
    limits = FairnessPolicy.model_validate(dict(fairness or {}))
    d = fair_gate(registry, registry.gate(version, "pr_auc", margin), limits, max_list_share)
    metrics = {"challenger_pr_auc": d.challenger_score}
    if d.champion_score is not None:
        metrics["champion_pr_auc"] = d.champion_score
    figure = f"{'promote' if d.promote else 'keep the champion'}: {d.reason}"
    return step.done(d.promote, figure, metrics, d.reason, parameters={"margin": margin}, detail=d.model_dump())


def promote(config: Config, version: str, run_id: str, reason: str) -> StepResult:
    """Make the gate's winner the champion; with approval required, put it in the validators' queue instead
    (the run stops there: an approval promotes it). Its value is the new champion, or "" while it waits."""
    from riskops.model.registry import promote_or_queue

    step = _Step(config, run_id, "promote")
    if promote_or_queue(step.registry(), version, reason):
        return step.done(version, f"{version} is the champion")
    figure = f"{version} awaits approval: a validator runs `riskops models approve {version} --by NAME`"
    return step.done("", figure, detail={"awaiting_approval": version})


def champion(config: Config) -> str | None:
    """The champion the scoring steps would score with, if any."""
    from riskops.model.registry import Registry

    cfg = StepConfig.parse(config)
    return Registry(open_store(cfg.artifact_root, cfg.gcs_endpoint or None), cfg.model_approval).champion()


def shard_plan(shards: int, run_id: str = "") -> list[dict[str, Any]]:
    """The shards a scoring run splits its cohort into, what the pipeline's ParallelFor walks: one item per
    shard with the run id in it (kfp.local binds an upstream task's output inside a loop to the loop item, so
    the loop body reads the run from its item)."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}")
    return [{"shard": k, "run_id": run_id} for k in range(shards)]


def score_shard(
    config: Config,
    as_of: str,
    run_id: str,
    shard: int,
    shards: int,
    cohort: Cohort = "unlabelled",
    policy: Mapping[str, Any] | None = None,
    version: str = "",
) -> StepResult:
    """Score one shard of a validated cohort with the champion, or `version` (all of it when shards is 1); its
    value is the model version, which the score step checks is the same for every shard."""
    from riskops.scoring.offboard import scoring_version
    from riskops.scoring.shards import score_shard as score_one

    step = _Step(config, run_id, f"score-shard-{shard}")
    cfg = OffboardConfig.model_validate(dict(policy)) if policy else None
    version = scoring_version(step.registry(), version or None)
    with step.warehouse() as wh:
        result = score_one(wh, step.store, date.fromisoformat(as_of), cohort, shard, shards, version, cfg)
    figure = f"shard {shard + 1} of {shards}: {len(result.scores):,} customers, {len(result.offboarding):,} listed"
    return step.done(
        version,
        figure,
        {"customers": float(len(result.scores))},
        detail={"model_version": version, "seconds": result.seconds},
    )


def score(
    config: Config,
    as_of: str,
    run_id: str,
    cohort: Cohort = "unlabelled",
    policy: Mapping[str, Any] | None = None,
    shards: int = 1,
    versions: list[str] | None = None,
    publish: bool = True,
) -> StepResult:
    """Gather the scored shards into `<cohort>_scores` and `<cohort>_offboarding` (the review capacity applied to
    the whole list), measure drift, write the scores and the list in the run folder with the policy beside
    them; published (the service serves the run) unless `publish` is false. `versions` are the shards' model
    versions (one per shard)."""
    from riskops.model.registry import Registry
    from riskops.scoring.book import build_book, publish_book
    from riskops.scoring.drift import DRIFT, measure_drift
    from riskops.scoring.offboard import publish_scores
    from riskops.scoring.shards import gather

    step = _Step(config, run_id, "score")
    cfg = OffboardConfig.model_validate(dict(policy)) if policy else None
    with step.warehouse() as wh:
        result = gather(wh, step.store, cohort, shards, list(versions or []), cfg)
        card = Registry(step.store).card(result.model_version)
        drift = measure_drift(wh, step.store, card, cohort, result.policy.drift)
        book, book_meta = build_book(wh, step.store, cohort, result, run_id)  # the console's precomputed rows
    step.store.write_text(f"{run_id}/{DRIFT}", drift.model_dump_json())
    publish_book(step.store, run_id, book, book_meta)
    publish_scores(step.store, run_id, result, publish)
    sizes = result.segment_sizes()
    metrics = {f"segment_{k.lower()}": float(v) for k, v in sizes.items()} | {
        "offboard": float(len(result.offboarding))
    }
    figure = ", ".join(f"{k} {v:,}" for k, v in sizes.items()) + f"; off-board {len(result.offboarding):,}"
    if result.over_limit:
        figure += f" ({result.limit_said()})"
    drifted = drift.drifted() + (["score"] if drift.score.drifted else [])
    figure += f"; drift: {', '.join(drifted) if drifted else 'none'}"
    metrics |= {"drifted_features": float(len(drift.drifted())), "score_psi": drift.score.psi}
    return step.done(
        table_name(cohort, "offboarding"),
        figure,
        metrics,
        parameters={"policy": result.policy.model_dump(), "shards": shards},
        detail={
            "model_version": result.model_version,
            "cohort": cohort,
            "rules_skipped": result.rules_skipped,
            "seconds": result.seconds | {f"book_{k}": v for k, v in book_meta.seconds.items()},
            "drift": drift.summary(),
            "over_limit": result.over_limit,
            "list_limit": result.list_limit,
            "limit_said": result.limit_said(),
            "expected_costs": result.expected_costs,
            "shards": shards,
            "published": publish,
        },
    )


def rescore(
    config: Config,
    run_id: str,
    cohort: Cohort,
    as_of: date | None,
    source: str = "",
    policy: Mapping[str, Any] | None = None,
) -> StepResult:
    """The first step of a re-scoring run (`riskops score`): the cohort as it was ingested (its cut-off from the
    warehouse; another is refused), the run it re-scores and the policy's digest. Its value is the as-of day."""
    from riskops.runs.record import read_steps
    from riskops.scoring.offboard import cohort_as_of
    from riskops.scoring.policy import policy_digest

    step = _Step(config, run_id, "rescore")
    with step.warehouse() as wh:
        day = cohort_as_of(wh, cohort, as_of).isoformat()
    ingested = {r.step: r for r in read_steps(step.store, source)}.get(f"ingest-{cohort}") if source else None
    data = ingested.detail.get("data", "") if ingested else f"the warehouse's {table_name(cohort, 'customers')}"
    digest = policy_digest(OffboardConfig.model_validate(dict(policy))) if policy else "the model's default"
    figure = f"the {cohort} cohort of {f'run {source}' if source else data}, as of {day}; policy {digest[:19]}"
    return step.done(
        day,
        figure,
        parameters={"as_of": day, "rescores": source},
        detail={"data": data, "report": ingested.detail["report"] if ingested else {}, "policy_digest": digest},
    )


def report(config: Config, run_id: str, flow: str, cohort: Cohort = "unlabelled") -> StepResult:
    """The run report (model, segments, the list with reasons) and the run record `<run>/run.json`, from what
    the run's steps recorded and published. Its value is the report's URI."""
    from riskops.runs.report import finish_run

    step = _Step(config, run_id, "report")
    with step.warehouse() as wh:
        record, md = finish_run(wh, step.store, run_id, flow, cohort)
    return step.done(record.report, record.report, {"offboard": float((record.scoring or {}).get("offboard", 0))}, md)


def monitor(config: Config, run_id: str = "") -> StepResult:
    """Every published scoring run against the outcomes known, the latest drift, the shadow challenger; its
    value says whether the policy lets the training pipeline start (retrain_on) and something calls for it, its
    detail's `family` what that training ships (the same policy's)."""
    from riskops.runs.monitor import monitor as check
    from riskops.runs.monitor import read_predictions

    run_id = run_id or new_run_id()
    step = _Step(config, run_id, "monitor")
    with step.warehouse() as wh:
        log = read_predictions(wh, step.settings.home, "bigquery" if step.config.warehouse == "bigquery" else "jsonl")
        m = check(wh, step.store, log)
    drifted = m["latest_drift"].get("drifted", [])
    metrics = {
        "attention": float(len(m["attention"])),
        "runs": float(len(m["runs"])),
        "drifted_features": float(len(drifted)),
        "retrain": float(m["retrain"]),
    }
    figure = (
        f"{len(m['runs'])} runs, {m['outcomes']:,} outcomes; attention {len(m['attention'])}; retrain {m['retrain']}"
    )
    return step.done(
        bool(m["retrain"]),
        figure,
        metrics,
        m["report"],
        detail={"report": m["report"], "attention": m["attention"], "family": m["family"]},
    )

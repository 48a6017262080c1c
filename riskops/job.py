"""The main local job: prepare data, load it into the run's warehouse, ingest and validate both cohorts.

Later steps (features, training, scoring) extend `run_job`; each run lives in its own folder under
settings.home with its DuckDB file, reports and run.json.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

from riskops.amlsim import default_dir, load_amlsim
from riskops.artifacts import ArtifactStore, open_store
from riskops.config import Settings
from riskops.contract import COHORTS, Mapping
from riskops.evaluate import CostMatrix
from riskops.features import read_features
from riskops.ingest import ValidationReport, ingest_cohort
from riskops.modeling import train_and_register
from riskops.offboard import OffboardConfig, ScoringResult, score_cohort
from riskops.registry import GateDecision, ModelCard, Registry
from riskops.run_report import build_report, scoring_record, write_run_report
from riskops.runinfo import code_version, new_run_id
from riskops.sources import dataset_as_of, load_dataset
from riskops.synth import generate
from riskops.train import TrainConfig
from riskops.warehouse import open_warehouse

log = logging.getLogger(__name__)
Step = Callable[[str], None]


@dataclass
class JobResult:
    run_id: str
    run_dir: str
    data_dir: str
    as_of: str
    reports: dict[str, ValidationReport] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    report_uri: str = ""
    model: ModelCard | None = None
    gate: GateDecision | None = None
    scoring: ScoringResult | None = None

    def summary(self) -> str:
        lines = [f"run {self.run_id} (as of {self.as_of}, data {self.data_dir})"]
        for cohort, r in self.reports.items():
            labels = ""
            if r.labels:
                total = sum(r.labels.values()) or 1
                labels = f", {r.labels.get('SUSPENDED', 0):,} SUSPENDED ({r.labels.get('SUSPENDED', 0) / total:.1%})"
            lines.append(
                f"  {cohort:<10} {r.customers.rows_clean:>9,} customers{labels}, "
                f"{r.transactions.rows_clean:,} transactions; quarantined "
                f"{r.customers.rows_quarantined:,} customers, {r.transactions.rows_quarantined:,} transactions"
            )
        if self.model and self.gate:
            lines.append(describe_model(self.model, self.gate, indent="  "))
        if self.scoring:
            s = self.scoring
            sizes = s.segment_sizes()
            lines.append(
                f"  scored {len(s.scores):,} unlabelled customers with {s.model_version}: "
                + ", ".join(f"{k} {v:,}" for k, v in sizes.items())
                + f"; off-board {len(s.offboarding):,}"
            )
        lines.append("  steps: " + ", ".join(f"{k} {v:.1f}s" for k, v in self.timings.items()))
        lines.append(f"  report: {self.report_uri}")
        return "\n".join(lines)


def pipeline_summary(store: ArtifactStore, version: str, report_uri: str) -> str:
    """The end of a pipeline run: the trained model, whether it is the champion, the scored segments."""
    registry = Registry(store)
    card = registry.card(version)
    champion = registry.champion()
    record = json.loads(Path(report_uri).with_name("run.json").read_text())
    scoring = record["scoring"]
    status = "is the champion" if champion == version else f"was not promoted; champion {champion}"
    lines = [describe_model(card, None, indent="  "), f"  model {version} {status}"]
    lines.append(
        f"  scored with {scoring['model_version']}: "
        + ", ".join(f"{k} {v:,}" for k, v in scoring["segments"].items())
        + f"; off-board {scoring['offboard']:,}"
    )
    lines.append(f"  report: {report_uri}")
    return "\n".join(lines)


def describe_model(card: ModelCard, gate: GateDecision | None, indent: str = "") -> str:
    """A few lines on a trained model: CV against the baselines, holdout, threshold, gate, report."""
    m, c = card.metrics, card.metrics["at_cost_optimal"]
    lines = [f"model {card.version} ({card.rows['customers']:,} customers, imbalance: {card.imbalance})"]
    for name, s in card.cv.items():
        lines.append(
            f"  CV {name:<20} ROC-AUC {s['roc_auc_mean']:.3f} ± {s['roc_auc_std']:.3f}  "
            f"PR-AUC {s['pr_auc_mean']:.3f} ± {s['pr_auc_std']:.3f}"
        )
    lines += [
        f"  holdout ROC-AUC {m['roc_auc']:.3f}, PR-AUC {m['pr_auc']:.3f}, Brier {m['brier']:.4f}",
        f"  threshold {card.threshold:.3f} (cost-optimal): precision {c['precision']:.1%}, recall {c['recall']:.1%}; "
        + _saving(m["cost_saving_vs_f1"]),
        f"  model report: {card.report_uri}",
    ]
    if gate is not None:
        lines.insert(-1, f"  gate: {'PROMOTED' if gate.promote else 'kept champion'} - {gate.reason}")
    return "\n".join(indent + line for line in lines)


def _saving(amount: float) -> str:
    if amount >= 0:
        return f"on the holdout it costs {amount:,.0f} less than the F1-optimal threshold"
    return f"on the holdout it costs {-amount:,.0f} more than the F1-optimal one (both chosen out-of-fold)"


def prepare_data(
    source: Literal["synthetic", "amlsim"],
    data_root: Path,
    customers: int,
    seed: int,
    amlsim_dir: Path | None,
) -> Path:
    """Make (or reuse) the dataset folder for `source`; generation is cached by its parameters."""
    if source == "amlsim":
        out = data_root / "amlsim"
        if not (out / "manifest.json").exists():
            load_amlsim(amlsim_dir or default_dir(), out)
        return out
    out = data_root / f"synthetic-{customers}-seed{seed}"
    if not (out / "manifest.json").exists():
        log.info("generating %s customers (seed %s) into %s", f"{customers:,}", seed, out)
        generate(out, customers=customers, seed=seed)
    return out


def run_job(
    settings: Settings,
    source: Literal["synthetic", "amlsim"] = "synthetic",
    customers: int = 20_000,
    seed: int = 42,
    data_root: Path = Path("data"),
    amlsim_dir: Path | None = None,
    mapping: Mapping | None = None,
    as_of: date | None = None,
    step: Step | None = None,
    train_cfg: TrainConfig | None = None,
    costs: CostMatrix | None = None,
    margin: float = 0.0,
    offboard: OffboardConfig | None = None,
) -> JobResult:
    offboard = offboard or OffboardConfig()
    """Run the local job end to end; raises on unusable data after writing the validation report."""
    step = step or (lambda msg: log.info(msg))
    run_id = new_run_id()
    run_dir = settings.home / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.artifacts, settings.gcs_endpoint)
    timings: dict[str, float] = {}

    t = time.perf_counter()
    step(f"[1/5] data: preparing {source}")
    folder = prepare_data(source, data_root, customers, seed, amlsim_dir)
    as_of = as_of or date.fromisoformat(dataset_as_of(folder))
    timings["data"] = time.perf_counter() - t

    result = JobResult(run_id=run_id, run_dir=str(run_dir), data_dir=str(folder), as_of=as_of.isoformat())
    with open_warehouse(settings, duckdb_path=settings.duckdb_path or run_dir / "warehouse.duckdb") as wh:
        t = time.perf_counter()
        step(f"[2/5] load: {folder} -> {wh.backend}")
        counts = load_dataset(wh, folder, mapping)
        timings["load"] = time.perf_counter() - t
        step("        " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        t = time.perf_counter()
        for cohort in COHORTS:
            if not (folder / cohort).exists():
                continue
            step(f"[3/5] ingest + validate: {cohort} cohort as of {as_of}")
            result.reports[cohort] = ingest_cohort(wh, cohort, as_of, store, f"{run_id}/validation/{cohort}", mapping)
        timings["ingest"] = time.perf_counter() - t
        t = time.perf_counter()
        step("[4/5] model: features, CatBoost with tuning and CV, evaluation, registry")
        result.model, result.gate = train_and_register(
            wh, store, as_of, train_cfg, costs, margin=margin,
            snapshot=result.reports["labelled"].snapshot, progress=lambda msg: step(f"        {msg}"),
        )  # fmt: skip
        timings["model"] = time.perf_counter() - t
        if "unlabelled" in result.reports:
            t = time.perf_counter()
            step("[5/5] score: unlabelled cohort with the champion, segments, rules, reasons")
            result.scoring = score_cohort(wh, store, as_of, "unlabelled", offboard)
            scored_card = Registry(store).card(result.scoring.model_version)
            features = read_features(wh, "unlabelled")
            timings["score"] = time.perf_counter() - t
    result.timings = {k: round(v, 2) for k, v in timings.items()}
    run_meta = {
        "run_id": run_id,
        "created": datetime.now(UTC).isoformat(),
        "code_version": code_version(),
        "source": source,
        "parameters": {"customers": customers, "seed": seed, "as_of": as_of.isoformat()},
        "data_dir": str(folder),
        "snapshots": {c: r.snapshot for c, r in result.reports.items()},
        "timings_s": result.timings,
        "reports": {c: r.report_uri for c, r in result.reports.items()},
        "model_version": result.model.version if result.model else None,
        "model_metrics": {k: result.model.metrics[k] for k in ("roc_auc", "pr_auc", "brier")} if result.model else {},
        "gate": result.gate.model_dump() if result.gate else None,
    }
    if result.scoring:
        run_meta["scoring"] = scoring_record(result.scoring)
        assert result.gate is not None
        md, plots = build_report(run_meta, scored_card, result.gate, result.scoring, features, offboard)
        run_meta["report"] = write_run_report(store, run_id, md, plots, result.scoring)
    store.write_text(f"{run_id}/run.json", json.dumps(run_meta, indent=2))
    result.report_uri = str(run_meta.get("report") or store.uri(f"{run_id}/run.json"))
    return result

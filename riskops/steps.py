"""The pipeline's steps as plain functions of plain values, so KFP components stay a few lines each and
the library never imports kfp. Each step returns a StepResult: its value (a table name, a model version, a
decision), metrics for the KFP UI, and a Markdown or HTML document for an output artifact.

Warehouse and artifact store come from Settings (environment); `duckdb_path` names the run's DuckDB file
locally and is ignored on BigQuery.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from riskops.artifacts import ArtifactStore, open_store
from riskops.config import Settings
from riskops.contract import Cohort, as_of_cutoff
from riskops.evaluate import CostMatrix
from riskops.warehouse import Warehouse, open_warehouse


@dataclass
class StepResult:
    value: Any
    metrics: dict[str, float] = field(default_factory=dict)
    document: str = ""


def _open(duckdb_path: str) -> tuple[Warehouse, ArtifactStore]:
    settings = Settings()
    wh = open_warehouse(settings, Path(duckdb_path) if duckdb_path else None)
    return wh, open_store(settings.artifacts, settings.gcs_endpoint)


def ingest(cohort: Cohort, as_of: str, duckdb_path: str = "", dataset_dir: str = "", run_id: str = "") -> StepResult:
    """Load a dataset folder's cohort (when given) and validate it; raises on unusable data."""
    from riskops.ingest import ingest_cohort
    from riskops.runinfo import new_run_id
    from riskops.sources import load_dataset

    wh, store = _open(duckdb_path)
    with wh:
        if dataset_dir:
            load_dataset(wh, Path(dataset_dir), cohorts=(cohort,))
        r = ingest_cohort(wh, cohort, date.fromisoformat(as_of), store, f"{run_id or new_run_id()}/validation/{cohort}")
    metrics = {
        "customers_clean": float(r.customers.rows_clean),
        "customers_quarantined": float(r.customers.rows_quarantined),
        "transactions_clean": float(r.transactions.rows_clean),
        "transactions_quarantined": float(r.transactions.rows_quarantined),
    }
    return StepResult(f"{cohort}_customers", metrics, r.summary())


def features(cohort: Cohort, as_of: str, duckdb_path: str = "") -> StepResult:
    from riskops.features import build_features, features_table

    wh, _ = _open(duckdb_path)
    with wh:
        fs = build_features(wh, cohort, as_of_cutoff(date.fromisoformat(as_of)))
        n = wh.count(features_table(cohort))
    return StepResult(features_table(cohort), {"customers": float(n), "features": float(len(fs.names))})


def train(
    as_of: str, duckdb_path: str = "", trials: int = 8, tuning_timeout_s: float = 90.0, seed: int = 42,
    missed_cost: float = 5_000.0, offboard_cost: float = 400.0,
) -> StepResult:  # fmt: skip
    """Train, evaluate and register a candidate (not promoted: the gate step decides)."""
    from riskops.modeling import train_and_register
    from riskops.train import TrainConfig

    wh, store = _open(duckdb_path)
    with wh:
        card, _ = train_and_register(
            wh, store, date.fromisoformat(as_of),
            TrainConfig(seed=seed, tuning_trials=trials, tuning_timeout_s=tuning_timeout_s),
            CostMatrix(missed_risky=missed_cost, wrongly_offboarded=offboard_cost), promote=False,
        )  # fmt: skip
    cv = card.cv["catboost"]
    metrics = {"cv_roc_auc": cv["roc_auc_mean"], "cv_pr_auc": cv["pr_auc_mean"], "threshold": card.threshold}
    return StepResult(card.version, metrics, store.read_text(f"models/{card.version}/evaluation/report.md"))


def model_file(version: str) -> bytes:
    settings = Settings()
    return open_store(settings.artifacts, settings.gcs_endpoint).read_bytes(f"models/{version}/model.cbm")


def evaluate(version: str, missed_cost: float = 5_000.0, offboard_cost: float = 400.0) -> StepResult:
    """Evaluate a registered version on its holdout with this run's cost matrix; the HTML report."""
    from riskops.modeling import reevaluate

    settings = Settings()
    store = open_store(settings.artifacts, settings.gcs_endpoint)
    card, uri = reevaluate(store, version, CostMatrix(missed_risky=missed_cost, wrongly_offboarded=offboard_cost))
    key = uri[len(store.root) :].lstrip("/") if uri.startswith(store.root) else uri
    m = card.metrics
    metrics = {"holdout_roc_auc": m["roc_auc"], "holdout_pr_auc": m["pr_auc"], "brier": m["brier"]}
    return StepResult(uri, metrics, store.read_text(key))


def gate(version: str, margin: float = 0.0) -> StepResult:
    """Compare the candidate with the champion on the candidate's holdout: True means promote."""
    from riskops.registry import Registry

    settings = Settings()
    d = Registry(open_store(settings.artifacts, settings.gcs_endpoint)).gate(version, "pr_auc", margin)
    metrics = {"challenger_pr_auc": d.challenger_score}
    if d.champion_score is not None:
        metrics["champion_pr_auc"] = d.champion_score
    return StepResult(d.promote, metrics, d.reason)


def promote(version: str, reason: str) -> StepResult:
    from riskops.registry import Registry

    settings = Settings()
    Registry(open_store(settings.artifacts, settings.gcs_endpoint)).set_champion(version, reason)
    return StepResult(version)


def _offboard_config(high_cutoff: float, medium_factor: float, min_rules: int) -> Any:
    from riskops.offboard import OffboardConfig

    return OffboardConfig(high_cutoff=high_cutoff or None, medium_factor=medium_factor, min_rules=min_rules)


def score(
    as_of: str, duckdb_path: str = "", cohort: Cohort = "unlabelled", high_cutoff: float = 0.0,
    medium_factor: float = 0.5, min_rules: int = 1,
) -> StepResult:  # fmt: skip
    """Score a validated cohort with the champion: `<cohort>_scores` and `<cohort>_offboarding` tables."""
    from riskops.offboard import score_cohort

    wh, store = _open(duckdb_path)
    with wh:
        result = score_cohort(
            wh, store, date.fromisoformat(as_of), cohort, _offboard_config(high_cutoff, medium_factor, min_rules)
        )
    sizes = result.segment_sizes()
    metrics = {f"segment_{k.lower()}": float(v) for k, v in sizes.items()} | {
        "offboard": float(len(result.offboarding))
    }
    return StepResult(f"{cohort}_offboarding", metrics)


def report(
    as_of: str, duckdb_path: str = "", cohort: Cohort = "unlabelled", run_id: str = "", high_cutoff: float = 0.0,
    medium_factor: float = 0.5, min_rules: int = 1,
) -> StepResult:  # fmt: skip
    """The run report and run.json from the scoring tables, the champion's card and the cohort's features."""
    from riskops.features import read_features
    from riskops.offboard import ScoringResult
    from riskops.registry import Registry
    from riskops.run_report import build_report, scoring_record, write_run_report
    from riskops.runinfo import code_version, new_run_id

    run_id = run_id or new_run_id()
    cfg = _offboard_config(high_cutoff, medium_factor, min_rules)
    wh, store = _open(duckdb_path)
    with wh:
        scores = wh.read_table(f"{cohort}_scores").to_pandas()
        listing = wh.read_table(f"{cohort}_offboarding").to_pandas().sort_values("score", ascending=False)
        features_frame = read_features(wh, cohort)
    registry = Registry(store)
    card = registry.card(str(registry.champion()))
    high = cfg.high_cutoff if cfg.high_cutoff is not None else card.threshold
    skipped = [f"{r.name} (no feature {r.feature})" for r in cfg.rules if r.feature not in features_frame.columns]
    result = ScoringResult(
        scores=scores,
        offboarding=listing.reset_index(drop=True),
        cutoffs={"high": high, "medium": high * cfg.medium_factor},
        model_version=card.version,
        rules_skipped=skipped,
        seconds={},
    )
    meta = {"run_id": run_id, "parameters": {"as_of": as_of}, "data_dir": duckdb_path or "warehouse",
            "code_version": code_version()}  # fmt: skip
    md, plots = build_report(meta, card, registry.gate(card.version, "pr_auc", 0.0), result, features_frame, cfg)
    uri = write_run_report(store, run_id, md, plots, result)
    record = meta | {
        "created": datetime.now(UTC).isoformat(),
        "source": "pipeline",
        "model_version": card.version,
        "model_metrics": {k: card.metrics[k] for k in ("roc_auc", "pr_auc", "brier")},
        "scoring": scoring_record(result),
        "report": uri,
    }  # fmt: skip
    store.write_text(f"{run_id}/run.json", json.dumps(record, indent=2))
    return StepResult(uri, {"offboard": float(len(listing))}, md)

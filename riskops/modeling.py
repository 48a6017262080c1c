"""Train, evaluate, register and gate a model from a validated labelled cohort: the model half of a run."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from riskops.artifacts import ArtifactStore
from riskops.contract import as_of_cutoff
from riskops.evaluate import CostMatrix, evaluate, write_report
from riskops.features import ID_COLUMN, LABEL_COLUMN, FeatureConfig, build_features, read_features
from riskops.registry import PREFIX, GateDecision, ModelCard, Registry, new_version
from riskops.runinfo import code_version
from riskops.train import TrainConfig, prepare, train
from riskops.warehouse.base import Warehouse

log = logging.getLogger(__name__)


def train_and_register(
    wh: Warehouse,
    store: ArtifactStore,
    as_of: date,
    train_cfg: TrainConfig | None = None,
    costs: CostMatrix | None = None,
    feature_cfg: FeatureConfig | None = None,
    margin: float = 0.0,
    promote: bool = True,
    snapshot: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[ModelCard, GateDecision]:
    say = progress or (lambda msg: log.info(msg))
    train_cfg, costs, feature_cfg = train_cfg or TrainConfig(), costs or CostMatrix(), feature_cfg or FeatureConfig()
    say("features: labelled cohort, in the warehouse")
    fs = build_features(wh, "labelled", as_of_cutoff(as_of), feature_cfg)
    frame = read_features(wh, "labelled")
    ds = prepare(frame, fs.names, fs.categorical)
    if ds.dropped:
        say(f"dropped {len(ds.dropped)} features: " + ", ".join(f"{k} ({v})" for k, v in ds.dropped.items()))
    result = train(ds, train_cfg, progress=say)
    say("evaluation: holdout metrics, thresholds, SHAP, report")
    ev = evaluate(
        result.model, result.holdout_X, result.holdout_y, result.categorical, result.oof_y, result.oof_p, costs
    )
    version = new_version()
    card = ModelCard(
        version=version,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        as_of=as_of.isoformat(),
        code_version=code_version(),
        features=result.features,
        categorical=result.categorical,
        dropped=result.dropped,
        feature_config=feature_cfg.model_dump(),
        threshold=ev.threshold,
        thresholds=ev.thresholds,
        costs=costs.model_dump(),
        params=result.params,
        imbalance=result.imbalance,
        imbalance_comparison=result.imbalance_comparison,
        tuning=result.tuning,
        cv=result.cv,
        metrics=ev.metrics,
        importance=ev.importance[:30],
        rows=result.rows,
        data_snapshot=snapshot or {},
        seconds=result.seconds,
    )
    card.report_uri = write_report(store, f"{PREFIX}/{version}/evaluation", card.model_dump(), ev)
    holdout = frame[frame[ID_COLUMN].isin(set(result.holdout_ids))].reset_index(drop=True)
    oof = pd.DataFrame({ID_COLUMN: result.oof_ids, LABEL_COLUMN: result.oof_y, "p": result.oof_p})
    buf = io.BytesIO()
    oof.to_parquet(buf, index=False)
    store.write_bytes(f"{PREFIX}/{version}/oof.parquet", buf.getvalue())
    registry = Registry(store)
    registry.register(result.model, card, holdout)
    decision = registry.gate(version, "pr_auc", margin)
    if promote and decision.promote:
        registry.set_champion(version, decision.reason)
    return card, decision


def reevaluate(store: ArtifactStore, version: str, costs: CostMatrix) -> tuple[ModelCard, str]:
    """Evaluate a stored version again (e.g. with another cost matrix) on its own holdout."""
    registry = Registry(store)
    model, card = registry.load(version)
    holdout = registry.holdout(version)
    oof = pd.read_parquet(io.BytesIO(store.read_bytes(f"{PREFIX}/{version}/oof.parquet")))
    from riskops.train import align

    X = align(holdout, card.features, card.categorical, list(card.dropped))
    ev = evaluate(
        model, X, holdout[LABEL_COLUMN].to_numpy(), card.categorical, oof[LABEL_COLUMN].to_numpy(), oof["p"].to_numpy(),
        costs,
    )  # fmt: skip
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    meta = card.model_dump() | {"threshold": ev.threshold, "costs": costs.model_dump()}
    uri = write_report(store, f"{PREFIX}/{version}/evaluation-{stamp}", meta, ev)
    return card, uri

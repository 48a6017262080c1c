"""Online scoring for the service: the champion loaded and warmed, swapped atomically, and one customer's
raw payload turned into a score, a segment, a decision and reasons - with the same features as batch.

No web framework here: `serving/` is the HTTP shell over this module.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

from riskops.features import FeatureConfig, FeatureSet, online_features
from riskops.offboard import OffboardConfig, explain, typical_values
from riskops.registry import ModelCard, Registry
from riskops.train import MISSING_CATEGORY, align

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    version: str
    card: ModelCard
    model: Any
    features: FeatureSet
    definitions: dict[str, str]
    typical: dict[str, Any]
    loaded_at: datetime

    def row(self, values: dict[str, Any]) -> list[Any]:
        """A feature vector in the model's order; CatBoost scores a plain row ~10x faster than a DataFrame."""
        cats = set(self.card.categorical)
        out: list[Any] = []
        for name in self.card.features:
            v = values.get(name)
            if name in cats:
                out.append(MISSING_CATEGORY if v is None else str(v))
            else:
                out.append(np.nan if v is None else float(v))
        return out


def load(registry: Registry, version: str) -> LoadedModel:
    """Load a registered version, build its feature set, and smoke-test it on its own holdout rows."""
    model, card = registry.load(version)
    generated = set(FeatureSet(FeatureConfig(**card.feature_config), {}).names)
    attributes = {
        n: ("categorical" if n in card.categorical else "numeric")
        for n in [*card.features, *card.dropped]
        if n not in generated
    }
    fs = FeatureSet(FeatureConfig(**card.feature_config), attributes)
    holdout = registry.holdout(version)
    X = align(holdout, card.features, card.categorical, list(card.dropped))
    smoke = model.predict_proba(X.head(5))[:, 1]
    if len(smoke) == 0 or not np.isfinite(smoke).all():
        raise ValueError(f"model {version} failed its smoke prediction")
    return LoadedModel(
        version=version,
        card=card,
        model=model,
        features=fs,
        definitions={f.name: f.definition for f in fs.features()},
        typical=typical_values(X, card.categorical),
        loaded_at=datetime.now(UTC),
    )


class ModelHolder:
    """Holds the serving model. `current` is one reference read per request, so a request finishes on the
    model it started with while a new champion is loaded and warmed beside it."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.current: LoadedModel | None = None
        self._lock = threading.Lock()
        self.load_failures = 0
        self.loads = 0

    def refresh(self) -> bool:
        """Load the champion if it changed; keep the old model on any failure. True when swapped."""
        with self._lock:
            champion = self.registry.champion()
            if champion is None or (self.current is not None and self.current.version == champion):
                return False
            try:
                loaded = load(self.registry, champion)
            except Exception:  # any failure to load keeps the serving model; the caller counts it
                self.load_failures += 1
                log.exception("model %s refused; keeping %s", champion, self.current and self.current.version)
                return False
            self.current = loaded
            self.loads += 1
            log.info("serving model %s", champion)
            return True


@dataclass
class Decision:
    score: float
    segment: Literal["Low", "Medium", "High"]
    offboard: bool
    rules: list[str]
    reasons: list[str]
    version: str


def decide(m: LoadedModel, values: dict[str, Any], cfg: OffboardConfig, with_reasons: bool = True) -> Decision:
    """Score one feature vector with the off-boarding policy of the batch list."""
    p = float(m.model.predict_proba([m.row(values)])[0][1])
    high = cfg.high_cutoff if cfg.high_cutoff is not None else m.card.threshold
    segment: Literal["Low", "Medium", "High"] = (
        "High" if p >= high else "Medium" if p >= high * cfg.medium_factor else "Low"
    )
    rules = [r.name for r in cfg.rules if bool(r.check(pd.Series([values.get(r.feature)])).iloc[0])]
    offboard = segment == "High" or (segment == "Medium" and len(rules) >= cfg.min_rules)
    reasons: list[str] = []
    if with_reasons and segment != "Low":
        X = pd.DataFrame([m.row(values)], columns=m.card.features)
        reasons = explain(m.model, X, m.card.categorical, m.definitions, m.typical, cfg.reasons)[0]
    return Decision(p, segment, offboard, rules, reasons, m.version)


def score_payload(
    m: LoadedModel, customer: dict[str, Any], transactions: list[dict[str, Any]], cutoff: datetime, cfg: OffboardConfig
) -> Decision:
    """One customer's raw record and transactions -> features (as batch computes them) -> decision."""
    return decide(m, online_features(m.features, customer, transactions, cutoff), cfg)


def score_columns(m: LoadedModel, columns: dict[str, list[Any]], ids: list[str], cfg: OffboardConfig) -> Any:
    """Many customers' precomputed features (column-oriented) -> scores, segments, decisions; no reasons."""
    from riskops.offboard import score_frame

    frame = pd.DataFrame(columns)
    frame.insert(0, "customer_id", ids)
    return score_frame(frame, m.model, m.card, cfg, m.definitions, with_reasons=False).scores


class LookupTable:
    """The latest scoring run's results by customer id, for GET /v1/customers/{id}/risk. Refreshed when a newer
    run publishes `scores.parquet` (the poll that looks for a new champion looks for it too)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.run_id: str | None = None
        self.rows: dict[str, dict[str, Any]] = {}

    def latest_run(self) -> str | None:
        runs = sorted(k.split("/")[0] for k in self.store.list() if k.endswith("/scores.parquet") and k.count("/") == 1)
        return runs[-1] if runs else None

    def refresh(self) -> bool:
        import io

        run = self.latest_run()
        if run is None or run == self.run_id:
            return False
        scores = pd.read_parquet(io.BytesIO(self.store.read_bytes(f"{run}/scores.parquet")))
        reasons: dict[str, str] = {}
        if self.store.exists(f"{run}/offboarding.csv"):
            listing = pd.read_csv(io.StringIO(self.store.read_text(f"{run}/offboarding.csv")), keep_default_na=False)
            reasons = dict(zip(listing["customer_id"].astype(str), listing["reasons"], strict=True))
        rows = {}
        for r in scores.to_dict("records"):
            cid = str(r["customer_id"])
            rows[cid] = {
                "customer_id": cid,
                "score": float(r["score"]),
                "segment": r["segment"],
                "offboard": bool(r["offboard"]),
                "rules": [x for x in str(r["rules"]).split(", ") if x],
                "reasons": [x for x in reasons.get(cid, "").split("; ") if x],
                "run_id": run,
            }
        self.rows, self.run_id = rows, run  # one swap: readers see the old table or the new one
        return True

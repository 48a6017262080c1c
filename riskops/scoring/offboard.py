"""Scoring and the off-boarding list: segments, explainable rules, and reasons in plain words.

- Segments: High at or above the model's cost-optimal threshold, Medium at or above `medium_factor` x that
  threshold, Low below (both cut-offs configurable).
- Rules: simple, explainable conditions on one feature each (pass-through, high-risk corridors,
  chargebacks, structuring), configurable in YAML or code.
- Policy: off-board every High customer, and Medium customers that trigger at least `min_rules` rules.
- Reasons: the customer's largest positive SHAP contributions, each in words with the customer's own value
  and the typical (median) customer's of the model's holdout, plus the rules it triggered, its score and its segment.
"""

from __future__ import annotations

import functools
import io
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from riskops.core import numbers
from riskops.core.errors import RiskOpsError
from riskops.core.markup import safe_csv
from riskops.data.contract import as_of_cutoff, table_name
from riskops.features.engineering import ID_COLUMN, FeatureConfig, FeatureSet, build_features, read_features
from riskops.io.artifacts import ArtifactStore
from riskops.io.warehouse.base import Warehouse
from riskops.model.inputs import align, predict, shap_values
from riskops.model.registry import ModelCard, Registry
from riskops.model.segments import SEGMENTS, offboarded, segments
from riskops.scoring.policy import POLICY, BookTraits, OffboardConfig, model_policy

log = logging.getLogger(__name__)


@dataclass
class ScoringResult:
    scores: pd.DataFrame  # every customer: id, score, segment, rules, offboard
    offboarding: pd.DataFrame  # the list, with reasons
    cutoffs: dict[str, float]
    model_version: str
    rules_skipped: list[str]
    seconds: dict[str, float]
    policy: OffboardConfig  # resolved: the cut-offs it scored with
    over_limit: int = 0  # customers the costs and rules would list beyond the list's limit (not listed)
    list_limit: int | None = None  # the most the list may hold (review capacity, max_list_share)
    # Expected cost of the list, of the list the costs alone make, and of listing nobody (calibrated scores)
    expected_costs: dict[str, float] = field(default_factory=dict)

    def limit_said(self) -> str:
        """Where the list stops and why, when its limit cut it: the run's summary, its report and the CLI say it."""
        if not self.over_limit:
            return ""
        n, listed = len(self.scores), len(self.offboarding)
        said = (
            f"the list is cut at {listed:,} by {self.policy.limited_by(n)}: the costs alone would list "
            f"{self.over_limit:,} more ({(listed + self.over_limit) / max(n, 1):.0%} of the book)"
        )
        c = self.expected_costs
        if c:
            said += (
                f"; expected cost {c['list']:,.0f} for this list, {c['costs_alone']:,.0f} for the costs' list, "
                f"{c['nobody']:,.0f} listing nobody"
            )
        return said

    def segment_sizes(self) -> dict[str, int]:
        counts = self.scores["segment"].value_counts()
        return {s: int(counts.get(s, 0)) for s in SEGMENTS}


def skipped_rules(cfg: OffboardConfig, columns: list[str], book: BookTraits) -> list[str]:
    """The policy's rules that do not fit the book, named for the report: a feature it does not have, a threshold
    in another currency than its main one, a meaning about transaction types it has none of. Never applied."""
    return [
        f"{r.name} ({why})" if (why := r.unfit(book)) else f"{r.name} (no feature {r.feature})"
        for r in cfg.rules
        if r.feature not in columns or not r.fits(book)
    ]


def within_limit(offboard: np.ndarray, p: np.ndarray, limit: int | None) -> int:
    """Keep only the `limit` highest-scored of the customers to off-board (in place); returns how many more
    the policy would have listed."""
    chosen = np.flatnonzero(offboard)
    if limit is None or len(chosen) <= limit:
        return 0
    ranked = chosen[np.argsort(-p[chosen], kind="stable")]
    offboard[ranked[limit:]] = False
    return len(ranked) - limit


Limited = tuple[int, int | None, dict[str, float]]


def limit_list(offboard: np.ndarray, p: np.ndarray, cfg: OffboardConfig, card: ModelCard) -> Limited:
    """Cut the list (in place) to the policy's limit for this cohort; (how many more the costs alone list, the
    limit, the expected costs of the cut list, of the uncut one and of listing nobody when scores are
    probabilities: an off-boarded good customer costs offboard_cost, a kept bad one missed_cost)."""
    uncut = offboard.copy()
    limit = cfg.list_limit(len(p))
    over = within_limit(offboard, p, limit)
    if not card.calibration:
        return over, limit, {}
    missed, wrongly = cfg.costs(card)

    def cost(listed: np.ndarray) -> float:
        return float(np.sum(np.where(listed, wrongly * (1 - p), missed * p)))

    return over, limit, {"list": cost(offboard), "costs_alone": cost(uncut), "nobody": cost(np.zeros_like(uncut))}


@dataclass(frozen=True)
class Glossary:
    """How a model's features read to a person: each one's words, and the currency of its amounts (a reason says
    "12,346 EUR", not "12,346"). One per model, built from its feature set."""

    words: Mapping[str, str]
    units: Mapping[str, str]

    @classmethod
    def of(cls, fs: FeatureSet) -> Glossary:
        features, currency = fs.features(), fs.config.currency  # unknown (a model before it was kept): no unit
        return cls(
            {f.name: f.definition for f in features}, {f.name: currency for f in features if f.money and currency}
        )

    def says(self, name: str) -> str:
        return self.words.get(name, name)

    def reading(self, name: str) -> Callable[[Any], str]:
        return value_format(name, self.units.get(name))

    def read(self, name: str, value: Any) -> str:
        return self.reading(name)(value)


def format_value(name: str, value: Any, unit: str | None = None) -> str:
    return value_format(name, unit)(value)


def value_format(name: str, unit: str | None = None) -> Callable[[Any], str]:
    """How a feature's values read in a reason (riskops.core.numbers), chosen once per feature (a reason list
    formats ~150,000); `unit`, the currency of an amount feature, follows its amounts."""
    if unit:
        return functools.partial(numbers.amount, currency=unit)
    if "share" in name or name.startswith("pass_through"):
        return numbers.share
    if "count" in name or name.startswith(
        ("active_days", "counterparties", "new_counterparties", "senders", "receivers", "countries", "max_tx")
    ):
        return numbers.count
    if name.startswith("days_since") or name == "tenure_days":
        return numbers.days
    if "ratio" in name or "_vs_" in name or "_to_" in name or "per_" in name:
        return numbers.ratio
    return numbers.amount  # amounts and the book's own attributes (codes, months, limits)


def explain(
    model: Any,
    X: pd.DataFrame,
    categorical: list[str],
    glossary: Glossary,
    typical: Mapping[str, Any],
    k: int,
) -> list[list[str]]:
    """Top-k positive SHAP contributions per row, in words with the customer's value and the typical one."""
    if X.empty:
        return []
    return words(shap_values(model, X, categorical)[:, :-1], X, glossary, typical, k)


def words(sv: np.ndarray, X: pd.DataFrame, glossary: Glossary, typical: Mapping[str, Any], k: int) -> list[list[str]]:
    """The reasons of `explain` from SHAP values already computed (one row per row of X, no expected value)."""
    if X.empty:
        return []
    # Candidates beyond k: a contribution whose value reads the same as the typical customer's says nothing to
    # the customer ("1.03, typical 1.03") and gives its place to the next one.
    n = min(2 * k, sv.shape[1])
    top = np.argpartition(-sv, n - 1, axis=1)[:, :n] if n < sv.shape[1] else np.arange(n)[None, :].repeat(len(sv), 0)
    best = np.take_along_axis(sv, top, axis=1)
    order = np.argsort(-best, axis=1)  # the candidates, largest first
    top, best = np.take_along_axis(top, order, axis=1), np.take_along_axis(best, order, axis=1)
    positive = best > 0
    cols = list(X.columns)
    used = sorted({int(j) for j in top[positive]})
    # One array, one way of reading and one phrase per used feature, not a DataFrame lookup per reason.
    values = {j: X.iloc[:, j].to_numpy() for j in used}
    read = {j: glossary.reading(cols[j]) for j in used}
    phrase = {j: (glossary.says(cols[j]), read[j](typical.get(cols[j]))) for j in used}
    reasons: list[list[str]] = []
    for i, (row, keep) in enumerate(zip(top.tolist(), positive.tolist(), strict=True)):
        said: list[str] = []
        for j in (j for j, ok in zip(row, keep, strict=True) if ok):
            value = read[j](values[j][i])
            if value != phrase[j][1]:
                said.append(f"{phrase[j][0]}: {value} (typical customer: {phrase[j][1]})")
            if len(said) == k:
                break
        reasons.append(said)
    return reasons


def holdout_scores(registry: Registry, version: str) -> np.ndarray:
    """A version's scores of its own holdout customers."""
    model, card = registry.load(version)
    return predict(
        model, align(registry.holdout(version), card.features, card.categorical, list(card.dropped)), card.categorical
    )


def holdout_typical(registry: Registry, card: ModelCard) -> dict[str, Any]:
    """The typical customer a model's reasons compare with: its holdout's, the same for every cohort, shard
    and request (the service computes it the same way when it loads the model)."""
    X = align(registry.holdout(card.version), card.features, card.categorical, list(card.dropped))
    return typical_values(X, card.categorical)


def typical_values(X: pd.DataFrame, categorical: list[str]) -> dict[str, Any]:
    """The median customer (most common category) of the scored population."""
    typical: dict[str, Any] = {}
    for c in X.columns:
        if c in categorical:
            mode = X[c].mode(dropna=True)
            typical[c] = mode.iloc[0] if len(mode) else None
        else:
            typical[c] = float(X[c].median()) if X[c].notna().any() else None
    return typical


def score_frame(
    frame: pd.DataFrame,
    model: Any,
    card: ModelCard,
    cfg: OffboardConfig,
    glossary: Glossary,
    typical: Mapping[str, Any],
    with_reasons: bool = True,
) -> ScoringResult:
    """Score a feature frame (one row per customer) with a registered model; build the off-boarding list. The
    reasons compare with `typical` (the model's holdout: `holdout_typical`, as the service does)."""
    seconds: dict[str, float] = {}
    cfg = cfg.resolved(card)
    t = time.perf_counter()
    X = align(frame, card.features, card.categorical, list(card.dropped))
    p = predict(model, X, card.categorical)
    seconds["predict"] = time.perf_counter() - t
    high, medium = cfg.high, cfg.medium
    segment = segments(p, cfg.cutoffs)
    book = BookTraits.of(card)
    skipped = skipped_rules(cfg, list(frame.columns), book)
    fired = {
        r.name: r.check(frame[r.feature]).to_numpy() for r in cfg.rules if r.feature in frame.columns and r.fits(book)
    }
    n_rules = np.sum(list(fired.values()), axis=0) if fired else np.zeros(len(frame), int)
    offboard = offboarded(segment, n_rules, cfg.min_rules)
    over_limit, limit, costs = limit_list(offboard, p, cfg, card)
    rules_text = np.full(len(frame), "", dtype=object)
    for name, hit in fired.items():  # one vectorized pass per rule, not a Python call per customer
        rules_text[hit] = np.where(rules_text[hit] == "", name, rules_text[hit] + ", " + name)
    scores = pd.DataFrame(
        {
            ID_COLUMN: frame[ID_COLUMN].to_numpy(),
            "score": p,
            "segment": segment,
            "rules": rules_text,
            "offboard": offboard,
        }
    )
    t = time.perf_counter()
    chosen = np.flatnonzero(offboard)
    reasons: list[list[str]] = [[] for _ in chosen]
    if with_reasons:
        reasons = explain(model, X.iloc[chosen], card.categorical, glossary, typical, cfg.reasons)
    meanings = {r.name: r.meaning for r in cfg.rules}
    listing = scores.iloc[chosen].copy()
    listing["reasons"] = ["; ".join(r) for r in reasons]
    listing["rules_explained"] = [
        "; ".join(f"{name}: {meanings[name]}" for name in text.split(", ") if name) for text in listing["rules"]
    ]
    listing = listing.sort_values("score", ascending=False).reset_index(drop=True)
    seconds["reasons"] = time.perf_counter() - t
    return ScoringResult(
        scores=scores,
        offboarding=listing,
        cutoffs={"high": float(high), "medium": float(medium)},
        model_version=card.version,
        rules_skipped=skipped,
        seconds={k: round(v, 3) for k, v in seconds.items()},
        policy=cfg,
        over_limit=over_limit,
        list_limit=limit,
        expected_costs=costs,
    )


def scoring_version(registry: Registry, version: str | None = None) -> str:
    """The version to score with: `version`, or the champion; refuses when there is none, and with approval
    required one no validator approved."""
    target = version or registry.champion()
    if not target:
        waiting = registry.approvals.awaiting() if registry.approval_required else []
        raise RiskOpsError(
            "there is no champion model to score with"
            + (f" ({', '.join(waiting)} awaiting approval)" if waiting else ""),
            f"model registry at {registry.store.uri('models')}",
            f"a validator approves it: riskops models approve {waiting[-1]} --by NAME"
            if waiting
            else "train one first: `riskops train --as-of ...` or `make run`",
        )
    registry.check_approved(target)
    return target


def cohort_as_of(wh: Warehouse, cohort: str, asked: date | None = None) -> date:
    """The as-of date to score a cohort at: the one it was ingested with; another (features cut elsewhere than
    the validation) is refused naming both."""
    from riskops.data.ingest import ingested_as_of

    recorded = ingested_as_of(wh, cohort)
    if recorded is None and asked is None:
        raise RiskOpsError(
            f"the {cohort} cohort's as-of date is not recorded (ingested by an older version)",
            f"warehouse ({wh.backend})",
            "pass --as-of with the date it was ingested at",
        )
    if recorded is not None and asked is not None and asked.isoformat() != recorded[:10]:
        raise RiskOpsError(
            f"--as-of {asked} differs from {recorded}, the date the {cohort} cohort was ingested at",
            f"warehouse ({wh.backend})",
            f"leave --as-of out (it is {recorded}), or ingest the cohort again at the other date first",
        )
    return asked or date.fromisoformat(str(recorded)[:10])


def score_cohort(
    wh: Warehouse,
    store: ArtifactStore,
    as_of: date | datetime,
    cohort: str = "unlabelled",
    cfg: OffboardConfig | None = None,
    version: str | None = None,
) -> ScoringResult:
    """Score a validated cohort with the champion (or `version`); write `<cohort>_scores` and
    `<cohort>_offboarding` to the warehouse. Without `cfg`, the model's default policy."""
    registry = Registry(store)
    model, card = registry.load(scoring_version(registry, version))
    cfg = cfg.resolved(card) if cfg else model_policy(store, card)
    fs = build_features(wh, cohort, as_of_cutoff(as_of), FeatureConfig(**card.feature_config))
    frame = read_features(wh, cohort)
    result = score_frame(frame, model, card, cfg, Glossary.of(fs), holdout_typical(registry, card))
    wh.load(table_name(cohort, "scores"), pa.Table.from_pandas(result.scores, preserve_index=False))
    wh.load(table_name(cohort, "offboarding"), pa.Table.from_pandas(result.offboarding, preserve_index=False))
    return result


MODEL_VERSION_KEY = b"riskops.model_version"  # in scores.parquet's metadata: which model produced the scores
SCORES = "scores.parquet"  # a run's scores, written last: its appearance publishes the run
UNPUBLISHED = "scores.unpublished.parquet"  # a re-scoring run's scores that the service is not to serve


def scoring_runs(store: ArtifactStore) -> list[str]:
    """The published scoring runs, oldest first (run ids sort by time): the folders holding `scores.parquet`."""
    return sorted(k.split("/")[0] for k in store.list() if k.endswith(f"/{SCORES}") and k.count("/") == 1)


def latest_scoring_run(store: ArtifactStore) -> str | None:
    runs = scoring_runs(store)
    return runs[-1] if runs else None


REASON = "reason_"  # offboarding.csv: one column per reason, reason_1 the strongest


def listing_csv(listing: pd.DataFrame, bom: bool = False) -> str:
    """The off-boarding list as a person opens it in a spreadsheet: the score to 4 decimals, one column per
    reason (strongest first), the rules and their meanings as text, no cell a formula (`safe_csv`); with `bom`,
    a UTF-8 byte-order mark first, so a spreadsheet reads accents and currency signs right."""
    out = listing.drop(columns=["reasons", "offboard"], errors="ignore")
    out["score"] = listing["score"].astype(float).round(4)
    said = [str(r).split("; ") if isinstance(r, str) and r else [] for r in listing.get("reasons", [])]
    for i in range(max((len(r) for r in said), default=0)):
        out.insert(
            len(out.columns) - ("rules_explained" in out),
            f"{REASON}{i + 1}",
            [r[i] if i < len(r) else "" for r in said],
        )
    return ("\ufeff" if bom else "") + safe_csv(out)


def read_listing(text: str) -> pd.DataFrame:
    """An offboarding.csv back as customer_id (text), score and reasons ("; "-separated, as the warehouse holds
    them); a list written before reasons had a column each is read as it is."""
    frame = pd.read_csv(io.StringIO(text.removeprefix("\ufeff")), dtype={ID_COLUMN: str}, keep_default_na=False)
    parts = sorted((c for c in frame.columns if c.startswith(REASON)), key=lambda c: int(c.removeprefix(REASON)))
    if parts:
        frame["reasons"] = ["; ".join(x for x in row if x) for row in frame[parts].astype(str).itertuples(index=False)]
    return frame


def publish_scores(store: ArtifactStore, run_id: str, result: ScoringResult, publish: bool = True) -> None:
    """Every score (Parquet), the off-boarding list (CSV) and the policy of a run; the service's lookup table
    reads them. scores.parquet is written last: its appearance tells the service the run is complete. Not
    published, the scores are kept as `UNPUBLISHED` instead, which nothing serves."""
    store.write_text(f"{run_id}/{POLICY}", result.policy.model_dump_json(indent=2))
    store.write_text(f"{run_id}/offboarding.csv", listing_csv(result.offboarding))
    table = pa.Table.from_pandas(result.scores, preserve_index=False)
    meta = {**(table.schema.metadata or {}), MODEL_VERSION_KEY: result.model_version.encode()}
    buf = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(meta), buf)
    store.write_bytes(f"{run_id}/{SCORES if publish else UNPUBLISHED}", buf.getvalue())

"""Input and score drift of a scored cohort against the champion's reference profile, counted in the warehouse.

The bins are the reference's frozen ones (model.reference). One BigQuery-dialect query counts every numeric
feature's bins in a single pass over `<cohort>_features` (COUNTIF per bin, the same half-open comparisons as
the reference), one GROUP BY per categorical feature counts its values, and one query bins the scores of
`<cohort>_scores`; only those counts leave the warehouse. From them: the PSI of every feature and of the score,
and for categoricals the Jensen-Shannon divergence. A variable drifts when its PSI is above the policy's
threshold and above what sampling alone gives at that cohort's and the reference's sizes (simulated draws from
the reference shares, empty bins included; the 1 - 1%/variables quantile): a small cohort and many features do
not raise false alarms.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import BaseModel

from riskops.core.markup import compact
from riskops.core.names import ident
from riskops.data.contract import table_name
from riskops.io.artifacts import ArtifactStore
from riskops.io.warehouse.base import Warehouse
from riskops.model.inputs import MISSING_CATEGORY
from riskops.model.reference import REFERENCE, Profile, ReferenceProfile, build_reference, psi
from riskops.model.registry import PREFIX, ModelCard, Registry
from riskops.scoring.policy import DriftPolicy, model_policy

DRIFT = "drift.json"  # in a scoring run's folder: every variable's drift, for the report


class Drift(BaseModel):
    """One variable's drift: its PSI (and JS for categoricals), the threshold it was held to, and both sides'
    shares per bin (the last is missing) for the report's before/after plots."""

    name: str
    kind: str
    psi: float
    js: float | None = None
    threshold: float
    drifted: bool
    labels: list[str]
    reference: list[float]
    current: list[float]


class DriftResult(BaseModel):
    model_version: str
    rows: int
    reference_rows: int
    features: list[Drift]
    score: Drift

    def drifted(self) -> list[str]:
        return [d.name for d in self.features if d.drifted]

    def summary(self) -> dict[str, Any]:
        top = max(self.features, key=lambda d: d.psi, default=None)
        return {
            "drifted": self.drifted(),
            "max_psi": round(top.psi, 4) if top else 0.0,
            "max_psi_feature": top.name if top else "",
            "score_psi": round(self.score.psi, 4),
            "score_drifted": self.score.drifted,
            "rows": self.rows,
        }

    def table(self) -> pa.Table:
        rows = [*self.features, self.score]
        return pa.table(
            {
                "variable": [d.name for d in rows],
                "kind": [d.kind for d in rows],
                "psi": [d.psi for d in rows],
                "js": [d.js for d in rows],
                "threshold": [d.threshold for d in rows],
                "drifted": [d.drifted for d in rows],
                "rows": [self.rows] * len(rows),
                "reference_rows": [self.reference_rows] * len(rows),
                "model_version": [self.model_version] * len(rows),
            }
        )


def reference(store: ArtifactStore, card: ModelCard) -> ReferenceProfile:
    """The version's reference profile: read, or built from its holdout and written once (a version registered
    before profiles existed gets the same profile it would have had: its holdout never changes)."""
    key = f"{PREFIX}/{card.version}/{REFERENCE}"
    if store.exists(key):
        return ReferenceProfile.model_validate_json(store.read_text(key))
    registry = Registry(store)
    holdout = registry.holdout(card.version)
    scores = registry.score(card.version, holdout)
    policy = model_policy(store, card)
    profile = build_reference(
        card.version, holdout, card.features, card.categorical, scores, policy.high, policy.medium
    )
    store.write_text(key, profile.model_dump_json())
    return profile


def _bin_conditions(column: str, edges: list[float]) -> list[str]:
    """SQL conditions of a numeric variable's bins, then missing; edges are floats, written by repr."""
    e = [repr(float(x)) for x in edges]
    if not e:
        return [f"{column} IS NOT NULL", f"{column} IS NULL"]
    conds = [f"{column} < {e[0]}"]
    conds += [f"{column} >= {lo} AND {column} < {hi}" for lo, hi in itertools.pairwise(e)]
    return [*conds, f"{column} >= {e[-1]}", f"{column} IS NULL"]


def count_numeric_sql(wh: Warehouse, table: str, profiles: list[Profile]) -> str:
    """One pass: COUNT(*) and, per numeric profile, one COUNTIF per bin (aliases c<i>_<bin>)."""
    parts = ["COUNT(*) AS n"]
    for i, p in enumerate(profiles):
        col = f"CAST({ident(p.name)} AS FLOAT64)"
        parts += [f"COUNTIF({c}) AS c{i}_{b}" for b, c in enumerate(_bin_conditions(col, p.edges))]
    return f"SELECT {', '.join(parts)} FROM {wh.ref(table)}"


def _numeric_counts(wh: Warehouse, table: str, profiles: list[Profile]) -> tuple[int, list[list[int]]]:
    row = wh.query(count_numeric_sql(wh, table, profiles)).to_pylist()[0]
    return int(row["n"]), [[int(row[f"c{i}_{b}"]) for b in range(p.bins)] for i, p in enumerate(profiles)]


def _categorical_counts(wh: Warehouse, table: str, p: Profile) -> list[int]:
    col = ident(p.name)
    rows = wh.query(f"SELECT CAST({col} AS STRING) AS v, COUNT(*) AS n FROM {wh.ref(table)} GROUP BY v").to_pylist()
    counts = [0] * p.bins
    index = {c: i for i, c in enumerate(p.categories)}
    for r in rows:
        v = r["v"]
        slot = p.bins - 1 if v is None or v == MISSING_CATEGORY else index.get(v, len(p.categories))
        counts[slot] += int(r["n"])
    return counts


def _js(p: np.ndarray, q: np.ndarray) -> float:
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        used = a > 0  # where a > 0, m > 0 too
        return float(np.sum(a[used] * np.log2(a[used] / m[used])))

    return (kl(p) + kl(q)) / 2


def _null_quantiles(shares: np.ndarray, rows: int, ref_rows: int, q: float, draws: int = 20_000) -> tuple[float, float]:
    """The q-quantiles of PSI and JS between two samples of `rows` and `ref_rows` drawn from the same
    population (the reference's shares): what chance alone gives at these sizes, empty bins included."""
    rng = np.random.default_rng(0)  # deterministic: the same cohort always gets the same verdict
    shares = shares / shares.sum()
    cur = rng.multinomial(max(rows, 1), shares, size=draws) / max(rows, 1)
    ref = rng.multinomial(max(ref_rows, 1), shares, size=draws) / max(ref_rows, 1)
    m = (cur + ref) / 2
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 x log 0 is 0: masked by the where
        js = sum(np.nansum(np.where(a > 0, a * np.log2(a / m), 0.0), axis=1) for a in (cur, ref)) / 2
    return float(np.quantile(psi(cur, ref), q)), float(np.quantile(js, q))


def compare(p: Profile, counts: list[int], rows: int, policy: DriftPolicy, variables: int = 1) -> Drift:
    """One variable's drift from its counts in the cohort and its reference shares. The threshold is the
    policy's, raised to what chance alone reaches at these sample sizes (simulated) when the PSI or JS passes
    the policy's; `variables` compared at once share the policy's false-alarm rate (Bonferroni), so 140
    features do not give one alarm a run."""
    ref = np.array([*p.shares, p.missing])
    cur = np.array(counts, dtype=float) / max(rows, 1)
    value = float(psi(cur, ref))
    js = _js(cur, ref) if p.kind == "categorical" else None
    threshold, js_threshold = policy.psi, policy.js
    if value > threshold or (js is not None and js > js_threshold):  # only then can chance make a difference
        quantile = 1 - (1 - policy.confidence) / max(variables, 1)
        noise_psi, noise_js = _null_quantiles(ref, rows, p.rows, quantile)
        threshold, js_threshold = max(threshold, noise_psi), max(js_threshold, noise_js)
    drifted = rows >= policy.min_rows and (value > threshold or (js is not None and js > js_threshold))
    if p.kind == "numeric":
        e_ = [compact(x) for x in p.edges]
        inner = [f"{lo}..{hi}" for lo, hi in itertools.pairwise(e_)]
        labels = [f"< {e_[0]}", *inner, f">= {e_[-1]}"] if e_ else ["any"]
    else:
        labels = [*p.categories, "(other)"]
    return Drift(
        name=p.name,
        kind=p.kind,
        psi=round(value, 6),
        js=None if js is None else round(js, 6),
        threshold=round(threshold, 6),
        drifted=drifted,
        labels=[*labels, "(missing)"],
        reference=ref.round(6).tolist(),
        current=cur.round(6).tolist(),
    )


def measure_drift(
    wh: Warehouse, store: ArtifactStore, card: ModelCard, cohort: str, policy: DriftPolicy
) -> DriftResult:
    """Drift of `<cohort>_features` and `<cohort>_scores` against the version's reference; the result is also
    written to the warehouse table `<cohort>_drift`."""
    result = drift_of(wh, reference(store, card), table_name(cohort, "features"), table_name(cohort, "scores"), policy)
    wh.load(table_name(cohort, "drift"), result.table())
    return result


def drift_of(wh: Warehouse, ref: ReferenceProfile, features: str, scores: str, policy: DriftPolicy) -> DriftResult:
    """Drift of a features table and a scores table (`score` column) against a reference profile."""
    numeric = [p for p in ref.features if p.kind == "numeric"]
    rows, counts = _numeric_counts(wh, features, numeric)
    n = len(ref.features)
    drifts = {p.name: compare(p, c, rows, policy, n) for p, c in zip(numeric, counts, strict=True)}
    for p in ref.features:
        if p.kind == "categorical":
            drifts[p.name] = compare(p, _categorical_counts(wh, features, p), rows, policy, n)
    score_rows, (score_counts,) = _numeric_counts(wh, scores, [ref.score.model_copy(update={"name": "score"})])
    return DriftResult(
        model_version=ref.version,
        rows=rows,
        reference_rows=ref.rows,
        features=sorted(drifts.values(), key=lambda d: -d.psi),
        score=compare(ref.score, score_counts, score_rows, policy),
    )

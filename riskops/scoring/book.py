"""The scored book as the risk console reads it: one row per scored customer with everything a page shows,
precomputed by the scoring run so a page costs a lookup, not a model call, on a book of a million customers.

Per customer: score, segment, rules, off-boarding; its percentile in the book; the values of the model's key
features (the numeric features with the largest mean |SHAP| over the book), their percentiles among all
customers and within the segment, and their contributions to the score (log-odds, the rest summed as
`other`); the reasons in words (the same words and typical customer as the off-boarding list); its nearest
neighbours within its segment on the key features' contributions (customers the model sees alike; their book
row numbers); and the
customer's own attributes, for the client view.

Published as `<run>/book.parquet` beside `<run>/book.json` (the key features, their words, the typical
customer, the cut-offs), both before `scores.parquet`, whose appearance tells the service a run is complete.
"""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from riskops.data.contract import table_name
from riskops.features.engineering import ID_COLUMN, FeatureConfig, feature_set, read_features
from riskops.io.artifacts import ArtifactStore
from riskops.io.warehouse.base import Warehouse
from riskops.model.fairness import fairness_summary
from riskops.model.inputs import align, shap_values
from riskops.model.registry import ModelCard, Registry
from riskops.scoring.offboard import Glossary, ScoringResult, holdout_typical, words

log = logging.getLogger(__name__)

BOOK = "book.parquet"
BOOK_META = "book.json"
KEY_FEATURES = 8  # features a page charts: enough to explain a score, few enough to read
OWN = 8  # each customer's own largest contributions, in the client view's chart
NEIGHBOURS = 5
NEIGHBOUR_POOL = 20_000  # candidates per segment for the neighbours
CHUNK = 50_000  # rows per SHAP call: bounded memory on a book of millions
HIDDEN_ATTRIBUTES = ("account_state",)  # the label is not a description (unlabelled customers have none)


class KeyFeature(BaseModel):
    name: str
    words: str  # the feature's definition, as reasons say it
    typical: str  # the typical customer's value, formatted
    unit: str | None = None  # the currency of an amount feature
    importance: float  # mean |SHAP| over the book

    @classmethod
    def of(cls, name: str, glossary: Glossary, typical: Mapping[str, Any], importance: float = 0.0) -> KeyFeature:
        return cls(name=name, words=glossary.says(name), typical=glossary.read(name, typical.get(name)),
                   unit=glossary.units.get(name), importance=importance)  # fmt: skip


class BookMeta(BaseModel):
    """What every page needs besides the rows."""

    run_id: str
    model_version: str
    cohort: str = "unlabelled"  # whose features table the run scored (what-if reads a customer's row there)
    customers: int
    high: float
    medium: float
    key_features: list[KeyFeature]
    # Descriptive columns beside the key features (the table, the scatter, sorting): not the model's own, no
    # contributions; e.g. how many transactions a customer made. Empty for a book without transactions.
    activity: list[KeyFeature] = []
    rules: dict[str, str]  # rule -> its meaning
    fairness: dict[str, Any] = {}  # the model's, per protected attribute (`model.fairness.fairness_summary`)
    attributes: list[str]  # the customers' descriptive columns, in order
    # Every model feature, in the model's order: `own.feature.<k>` of a row is a position in this list.
    features: list[KeyFeature] = []
    seconds: dict[str, float]


def _percentile(values: np.ndarray) -> np.ndarray:
    """Each value's percentile (0-100) in the array, ties counted half (mid-rank): a value most customers share
    sits in the middle of them, not at their top; missing stays NaN."""
    out = np.full(len(values), np.nan)
    ok = ~np.isnan(values)
    if ok.any():
        v = values[ok]
        s = np.sort(v)
        out[ok] = (np.searchsorted(s, v, side="left") + np.searchsorted(s, v, side="right")) / (2 * len(v)) * 100
    return out


def _neighbours(points: np.ndarray, segment: np.ndarray, k: int, seed: int = 0) -> list[list[int]]:
    """Each customer's k nearest customers within its segment (Euclidean on `points`; itself excluded), as
    book row numbers. The candidates are a fixed random sample of up to NEIGHBOUR_POOL customers per segment:
    similar customers to show, not the exact nearest in a million (which took minutes on two cores)."""
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(seed)
    out: list[list[int]] = [[] for _ in range(len(points))]
    for seg in np.unique(segment):
        rows = np.flatnonzero(segment == seg)
        if len(rows) < 2:
            continue
        pool = np.sort(rng.choice(rows, NEIGHBOUR_POOL, replace=False)) if len(rows) > NEIGHBOUR_POOL else rows
        nn = NearestNeighbors(n_neighbors=min(k + 1, len(pool)), algorithm="kd_tree", n_jobs=-1).fit(points[pool])
        for start in range(0, len(rows), CHUNK):
            part = rows[start : start + CHUNK]
            _, idx = nn.kneighbors(points[part])
            for r, found in zip(part.tolist(), pool[idx].tolist(), strict=True):
                out[r] = [j for j in found if j != r][:k]
    return out


def build_book(
    wh: Warehouse, store: ArtifactStore, cohort: str, result: ScoringResult, run_id: str,
) -> tuple[pd.DataFrame, BookMeta]:  # fmt: skip
    """The console's rows and their metadata for a gathered scoring result of `cohort`."""
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    registry = Registry(store)
    model, card = registry.load(result.model_version)
    frame = read_features(wh, cohort)
    scores = result.scores.set_index(ID_COLUMN).loc[frame[ID_COLUMN]].reset_index()  # the frame's order
    X = align(frame, card.features, card.categorical, list(card.dropped))
    seconds["read"] = time.perf_counter() - t

    t = time.perf_counter()
    sv = np.vstack([shap_values(model, X.iloc[i : i + CHUNK], card.categorical)[:, :-1]
                    for i in range(0, max(len(X), 1), CHUNK)]) if len(X) else np.zeros((0, X.shape[1]))  # fmt: skip
    seconds["contributions"] = time.perf_counter() - t

    t = time.perf_counter()
    key = _key_features(card, X, sv)
    fs = feature_set(wh, cohort, FeatureConfig(**card.feature_config))
    glossary = Glossary.of(fs)
    typical = holdout_typical(registry, card)
    reasons = words(sv, X, glossary, typical, result.policy.reasons)
    cols = list(X.columns)
    segment = scores["segment"].to_numpy()
    book = pd.DataFrame(
        {
            ID_COLUMN: frame[ID_COLUMN].astype(str).to_numpy(),
            "score": scores["score"].to_numpy(float),
            "score_pct": _percentile(scores["score"].to_numpy(float)),
            "segment": segment,
            "offboard": scores["offboard"].to_numpy(bool),
            "rules": scores["rules"].astype(str).to_numpy(),
            "reasons": ["; ".join(r) for r in reasons],
        }
    )
    key_idx = [cols.index(f) for f in key]
    for f, j in zip(key, key_idx, strict=True):
        v = X[f].to_numpy(float)
        book[f"value.{f}"] = v
        book[f"pct.{f}"] = _percentile(v)
        seg_pct = np.full(len(v), np.nan)
        for seg in np.unique(segment):
            rows = segment == seg
            seg_pct[rows] = _percentile(v[rows])
        book[f"segpct.{f}"] = seg_pct
        book[f"contrib.{f}"] = sv[:, j]
    others = np.setdiff1d(np.arange(len(cols)), key_idx)
    book["contrib.other"] = sv[:, others].sum(axis=1) if len(others) else 0.0
    seconds["percentiles"] = time.perf_counter() - t

    _own_contributions(book, X, sv, card.categorical)
    activity = [f for f in _activity(X) if f not in key]
    for f in activity:
        book[f"value.{f}"] = X[f].to_numpy(float)

    t = time.perf_counter()
    points = sv[:, key_idx] if key_idx else np.zeros((len(book), 1))
    book["neighbours"] = _neighbours(points, segment, NEIGHBOURS)
    seconds["neighbours"] = time.perf_counter() - t

    attributes = _attributes(wh, cohort, book[ID_COLUMN], card.feature_config.get("protected", ()))
    for a in attributes.columns:  # each attribute its own column: the client view and the book's filters
        book[f"attr.{a}"] = attributes[a].to_numpy()
    meta = BookMeta(
        run_id=run_id, model_version=card.version, cohort=cohort, customers=len(book), high=result.cutoffs["high"],
        medium=result.cutoffs["medium"],
        key_features=[KeyFeature.of(f, glossary, typical, float(np.abs(sv[:, cols.index(f)]).mean())) for f in key],
        activity=[KeyFeature.of(f, glossary, typical) for f in activity],
        rules={r.name: r.meaning for r in result.policy.rules}, attributes=list(attributes.columns),
        fairness=fairness_summary(card.metrics.get("fairness", {})),
        features=[KeyFeature.of(f, glossary, typical, float(np.abs(sv[:, j]).mean()) if len(sv) else 0.0)
                  for j, f in enumerate(cols)],
        seconds={k: round(v, 3) for k, v in seconds.items()},
    )  # fmt: skip
    return book, meta


def _own_contributions(book: pd.DataFrame, X: pd.DataFrame, sv: np.ndarray, categorical: list[str]) -> None:
    """Each customer's OWN largest contributions (by size, signed), what the client view charts: for the k-th,
    `own.feature.<k>` (the feature's position in the model), `own.contrib.<k>`, `own.value.<k>` (numeric) or
    `owntext.<k>` (a category); `own.other` the sum of all the rest. The reasons are the largest positive
    ones, so the chart and the reasons agree. Vectorised: a gather per (rank, feature), no loop over rows."""
    n, p = sv.shape
    k = min(OWN, p)
    if not n or not k:
        return
    top = np.argpartition(-np.abs(sv), k - 1, axis=1)[:, :k] if k < p else np.tile(np.arange(p), (n, 1))
    contrib = np.take_along_axis(sv, top, axis=1)
    order = np.argsort(-np.abs(contrib), axis=1, kind="stable")
    top, contrib = np.take_along_axis(top, order, axis=1), np.take_along_axis(contrib, order, axis=1)
    cols = list(X.columns)
    for r in range(k):
        values, text = np.full(n, np.nan), np.full(n, None, dtype=object)
        for j in np.unique(top[:, r]).tolist():
            rows = top[:, r] == j
            column = X.iloc[:, j].to_numpy()[rows]
            if cols[j] in categorical:
                text[rows] = [None if v is None or v != v else str(v) for v in column]
            else:
                values[rows] = column.astype(float)
        book[f"own.feature.{r}"] = top[:, r].astype(np.int32)
        book[f"own.contrib.{r}"] = contrib[:, r]
        book[f"own.value.{r}"] = values
        book[f"owntext.{r}"] = text
    book["own.other"] = sv.sum(axis=1) - contrib.sum(axis=1)


def _key_features(card: ModelCard, X: pd.DataFrame, sv: np.ndarray) -> list[str]:
    numeric = [j for j, c in enumerate(X.columns) if c not in card.categorical]
    if not numeric or not len(sv):
        return [X.columns[j] for j in numeric[:KEY_FEATURES]]
    importance = np.abs(sv[:, numeric]).mean(axis=0)
    order = np.argsort(-importance, kind="stable")[:KEY_FEATURES]
    return [str(X.columns[numeric[i]]) for i in order]


def _activity(X: pd.DataFrame) -> list[str]:
    """How many transactions each customer made over the longest window (`all_count_<W>d`): what an analyst
    sorts the book by first, whatever the model found important."""
    counts = sorted((int(m.group(1)), c) for c in X.columns if (m := re.fullmatch(r"all_count_(\d+)d", c)))
    return [counts[-1][1]] if counts else []


def _attributes(wh: Warehouse, cohort: str, ids: pd.Series, protected: Any = ()) -> pd.DataFrame:
    """The customers' own columns (as strings) in the book's order; protected ones are never shown (nor filtered
    or compared on)."""
    table = wh.read_table(table_name(cohort, "customers")).to_pandas()
    table[ID_COLUMN] = table[ID_COLUMN].astype(str)
    keep = [c for c in table.columns if c != ID_COLUMN and c not in {*HIDDEN_ATTRIBUTES, *protected}]
    shown = table.set_index(ID_COLUMN).reindex(ids)[keep]
    text = shown.astype(object).where(shown.notna(), None)
    return text.apply(lambda col: col.map(lambda v: v if v is None else _plain(v)))


def _plain(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return f"{v:.0f}"
    if hasattr(v, "isoformat"):
        return str(v.isoformat())
    return str(v)


def publish_book(store: ArtifactStore, run_id: str, book: pd.DataFrame, meta: BookMeta) -> None:
    """The book and its metadata in the run folder (written before scores.parquet)."""
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(book, preserve_index=False), buf, compression="zstd")
    store.write_bytes(f"{run_id}/{BOOK}", buf.getvalue())
    store.write_text(f"{run_id}/{BOOK_META}", meta.model_dump_json(indent=2))

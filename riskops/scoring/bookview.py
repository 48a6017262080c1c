"""The published book held in memory for the service's console routes: a customer's profile, the score
histogram, the filtered and sorted table, and a scatter of two features. Columns are numpy arrays and the id
index a dict, so a profile is a lookup and a book query a few vectorised passes over a million rows."""

from __future__ import annotations

import io
import json
from typing import Any, Literal

import numpy as np
import pyarrow.parquet as pq

from riskops.core.errors import RiskOpsError
from riskops.scoring.book import BOOK, BOOK_META, BookMeta
from riskops.scoring.offboard import format_value

HISTOGRAM_BINS = 40
MAX_ROWS = 500  # one page of the table
MAX_POINTS = 5000  # one scatter
SEGMENT_ORDER = ("Low", "Medium", "High")


class BookQueryError(RiskOpsError):
    """A query naming a column or value the book does not have (the service answers 422)."""


def meaning(score: float, segment: str, high: float, medium: float, offboard: bool) -> str:
    """One sentence on what a score means under the run's policy, for someone who is not a data scientist."""
    listed = " It is on the off-boarding list for review." if offboard else " It is not on the off-boarding list."
    if segment == "High":
        return (f"A score of {score:.1%} is High risk: at or above the off-boarding threshold of {high:.1%}, "
                f"where the bank's policy proposes off-boarding.{listed}")  # fmt: skip
    if segment == "Medium":
        return (f"A score of {score:.1%} is Medium risk: between {medium:.1%} and the off-boarding threshold of "
                f"{high:.1%}; it is listed only when the bank's rules also fire.{listed}")  # fmt: skip
    return f"A score of {score:.1%} is Low risk: below {medium:.1%}, no action is proposed.{listed}"


class BookView:
    def __init__(self, meta: BookMeta, columns: dict[str, np.ndarray]) -> None:
        self.meta = meta
        self.cols = columns
        ids = columns["customer_id"]
        self.index = {str(c): i for i, c in enumerate(ids.tolist())}
        self.keys = [f.name for f in meta.key_features]
        self.words = {f.name: f.words for f in meta.key_features}
        self.typical = {f.name: f.typical for f in meta.key_features}
        self.histogram = self._histogram()

    @classmethod
    def load(cls, store: Any, run: str) -> BookView | None:
        """The book a run published, or None for a run published without one."""
        if not (store.exists(f"{run}/{BOOK}") and store.exists(f"{run}/{BOOK_META}")):
            return None
        meta = BookMeta.model_validate_json(store.read_text(f"{run}/{BOOK_META}"))
        table = pq.read_table(io.BytesIO(store.read_bytes(f"{run}/{BOOK}")))
        cols = {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
        neighbours = np.empty(table.num_rows, dtype=object)  # one list per row (np.array would make a matrix)
        neighbours[:] = table.column("neighbours").to_pylist()
        cols["neighbours"] = neighbours
        return cls(meta, cols)

    def __len__(self) -> int:
        return len(self.cols["customer_id"])

    def _histogram(self) -> dict[str, Any]:
        edges = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
        score, segment = self.cols["score"], self.cols["segment"]
        counts = {s: np.histogram(score[segment == s], bins=edges)[0].tolist() for s in SEGMENT_ORDER}
        return {"edges": edges.round(4).tolist(), "counts": counts}

    def profile(self, customer_id: str) -> dict[str, Any] | None:
        i = self.index.get(customer_id)
        if i is None:
            return None
        c, m = self.cols, self.meta
        segment, score, offboard = str(c["segment"][i]), float(c["score"][i]), bool(c["offboard"][i])
        contributions = [
            {"feature": f, "words": self.words[f], "value": format_value(f, c[f"value.{f}"][i]),
             "typical": self.typical[f], "contribution": float(c[f"contrib.{f}"][i])}
            for f in self.keys
        ]  # fmt: skip
        comparisons = [
            {"feature": f, "words": self.words[f], "value": format_value(f, c[f"value.{f}"][i]),
             "pct_all": _num(c[f"pct.{f}"][i]), "pct_segment": _num(c[f"segpct.{f}"][i])}
            for f in self.keys
        ]  # fmt: skip
        neighbours = []
        for n in c["neighbours"][i] or []:
            j = self.index.get(n)
            if j is not None:
                neighbours.append({"customer_id": n, "score": float(c["score"][j]), "segment": str(c["segment"][j]),
                                   "values": {f: format_value(f, c[f"value.{f}"][j]) for f in self.keys}})  # fmt: skip
        rules = [r for r in str(c["rules"][i]).split(", ") if r]
        return {
            "customer_id": customer_id, "run_id": m.run_id, "model_version": m.model_version, "score": score,
            "score_pct": _num(c["score_pct"][i]), "segment": segment, "offboard": offboard,
            "high": m.high, "medium": m.medium, "meaning": meaning(score, segment, m.high, m.medium, offboard),
            "reasons": [r for r in str(c["reasons"][i]).split("; ") if r],
            "rules": [{"name": r, "meaning": m.rules.get(r, "")} for r in rules],
            "attributes": json.loads(c["attributes"][i]) if c["attributes"][i] else {},
            "contributions": contributions, "other": float(c["contrib.other"][i]), "comparisons": comparisons,
            "neighbours": neighbours,
        }  # fmt: skip

    def summary(self) -> dict[str, Any]:
        segment = self.cols["segment"]
        return {
            **self.meta.model_dump(exclude={"seconds"}),
            "segments": {s: int((segment == s).sum()) for s in SEGMENT_ORDER},
            "offboard": int(self.cols["offboard"].sum()),
            "histogram": self.histogram,
        }

    def _column(self, name: str) -> np.ndarray:
        if name in ("score", "customer_id"):
            return self.cols[name]
        if name in self.keys:
            return self.cols[f"value.{name}"]
        raise BookQueryError(f"{name!r} is not a column of the book", "the query",
                             f"use score, customer_id or one of the key features: {', '.join(self.keys)}")  # fmt: skip

    def mask(self, segment: str | None = None, rule: str | None = None, score_min: float | None = None,
             score_max: float | None = None, offboard: bool | None = None, q: str | None = None,
             attribute: str | None = None, value: str | None = None) -> np.ndarray:  # fmt: skip
        c = self.cols
        keep = np.ones(len(self), dtype=bool)
        if segment:
            if segment not in SEGMENT_ORDER:
                raise BookQueryError(f"{segment!r} is not a segment", "segment", f"use {', '.join(SEGMENT_ORDER)}")
            keep &= c["segment"] == segment
        if rule:
            if rule not in self.meta.rules:
                raise BookQueryError(f"{rule!r} is not a rule of the run's policy", "rule",
                                     f"use one of {', '.join(self.meta.rules) or '(none)'}")  # fmt: skip
            keep &= np.char.find(c["rules"].astype(str), rule) >= 0
        if score_min is not None:
            keep &= c["score"] >= score_min
        if score_max is not None:
            keep &= c["score"] <= score_max
        if offboard is not None:
            keep &= c["offboard"] == offboard
        if q:
            keep &= np.char.startswith(c["customer_id"].astype(str), q)
        if attribute:
            if attribute not in self.meta.attributes:
                raise BookQueryError(f"{attribute!r} is not an attribute of the book", "attribute",
                                     f"use one of {', '.join(self.meta.attributes)}")  # fmt: skip
            keep &= c[f"attr.{attribute}"] == value
        return keep

    def customers(self, keep: np.ndarray, sort: str = "score", order: Literal["asc", "desc"] = "desc",
                  limit: int = 50, offset: int = 0) -> dict[str, Any]:  # fmt: skip
        """One page of the filtered book, sorted (missing values last)."""
        limit = max(1, min(limit, MAX_ROWS))
        rows = np.flatnonzero(keep)
        col = self._column(sort)[rows]
        if col.dtype.kind == "f":
            key = np.where(np.isnan(col), np.inf, -col if order == "desc" else col)
        else:
            key = col.astype(str)
        want = offset + limit
        if col.dtype.kind == "f" and want < len(rows) // 4:  # a page near the top: partition, then sort it
            top = np.argpartition(key, want)[:want]
            ranked = top[np.lexsort((rows[top], key[top]))]
        else:
            ranked = np.lexsort((rows, key))
            if order == "desc" and col.dtype.kind != "f":
                ranked = ranked[::-1]
        page = rows[ranked[offset:want]]
        c = self.cols
        return {
            "total": len(rows),
            "rows": [
                {"customer_id": str(c["customer_id"][i]), "score": float(c["score"][i]),
                 "segment": str(c["segment"][i]), "offboard": bool(c["offboard"][i]), "rules": str(c["rules"][i]),
                 "reasons": [r for r in str(c["reasons"][i]).split("; ") if r],
                 "values": {f: _num(c[f"value.{f}"][i]) for f in self.keys}}
                for i in page.tolist()
            ],
        }  # fmt: skip

    def scatter(self, keep: np.ndarray, x: str, y: str, limit: int = MAX_POINTS) -> dict[str, Any]:
        """Up to `limit` customers of the filtered book (every k-th, so the sample is stable) on two columns."""
        xs, ys = self._column(x), self._column(y)
        rows = np.flatnonzero(keep)
        limit = max(1, min(limit, MAX_POINTS))
        step = max(1, int(np.ceil(len(rows) / limit)))
        rows = rows[::step]
        return {
            "x": x, "y": y, "total": int(keep.sum()),
            "ids": self.cols["customer_id"][rows].astype(str).tolist(),
            "xs": [_num(v) for v in xs[rows].tolist()], "ys": [_num(v) for v in ys[rows].tolist()],
            "segments": self.cols["segment"][rows].astype(str).tolist(),
        }  # fmt: skip


def _num(v: Any) -> float | None:
    f = float(v)
    return None if np.isnan(f) else round(f, 6)

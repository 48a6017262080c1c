"""The published book held in memory for the service's console routes: a customer's profile, the score
histogram, the filtered and sorted table, and a scatter of two features. Numbers are numpy arrays, text stays
in Arrow, the id index is a dict: a profile is a lookup and a book query a few vectorised passes over a
million rows."""

from __future__ import annotations

import io
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from riskops.core.errors import RiskOpsError
from riskops.scoring.book import BOOK, BOOK_META, BookMeta
from riskops.scoring.offboard import format_value

HISTOGRAM_BINS = 40
MAX_ROWS = 500  # one page of the table
MAX_POINTS = 5000  # one scatter
SEGMENT_ORDER = ("Low", "Medium", "High")
NUMERIC = ("value", "pct", "segpct", "contrib", "own")  # the prefixes of the book's numeric columns


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
    """The book as Arrow columns: text stays in Arrow's buffers (a Python string per row and column would take
    gigabytes at a million rows), numbers are numpy views of them, segments small codes, the id index a dict."""

    def __init__(self, meta: BookMeta, table: pa.Table) -> None:
        self.meta = meta
        near = table.schema.field("neighbours").type if "neighbours" in table.column_names else None
        if near is None or not (pa.types.is_list(near) and pa.types.is_integer(near.value_type)):
            # a book written before neighbours were row numbers: shown without them
            empty = pa.nulls(table.num_rows, pa.list_(pa.int64()))
            table = table.drop_columns(["neighbours"]) if near is not None else table
            table = table.append_column("neighbours", empty)
        self.table = table
        self.keys = [f.name for f in meta.key_features]
        self.columns = [*self.keys, *(f.name for f in meta.activity)]  # what the table and the scatter show
        self.words = {f.name: f.words for f in meta.key_features}
        self.typical = {f.name: f.typical for f in meta.key_features}
        self.units = {f.name: f.unit for f in meta.key_features}
        self.num = {name: self._numbers(name) for name in self.table.column_names
                    if name in ("score", "score_pct", "offboard") or name.split(".", 1)[0] in NUMERIC}  # fmt: skip
        segment = np.asarray(self.table.column("segment").to_numpy(zero_copy_only=False), dtype=object)
        self.segment = np.full(len(segment), -1, dtype=np.int8)
        for code, name in enumerate(SEGMENT_ORDER):
            self.segment[segment == name] = code
        self.index = {c: i for i, c in enumerate(self.table.column("customer_id").to_pylist())}
        self.histogram = self._histogram()

    def _numbers(self, name: str) -> np.ndarray:
        col = self.table.column(name)
        if pa.types.is_boolean(col.type):
            return np.asarray(col.to_numpy(zero_copy_only=False), dtype=bool)
        return np.asarray(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)

    @classmethod
    def load(cls, store: Any, run: str) -> BookView | None:
        """The book a run published, or None for a run published without one."""
        if not (store.exists(f"{run}/{BOOK}") and store.exists(f"{run}/{BOOK_META}")):
            return None
        meta = BookMeta.model_validate_json(store.read_text(f"{run}/{BOOK_META}"))
        return cls(meta, pq.read_table(io.BytesIO(store.read_bytes(f"{run}/{BOOK}"))))

    def read(self, feature: str, value: Any) -> str:
        """A key feature's value as the reasons write it (an amount with the book's currency)."""
        return format_value(feature, value, self.units.get(feature))

    def __len__(self) -> int:
        return self.table.num_rows

    def _histogram(self) -> dict[str, Any]:
        edges = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
        score = self.num["score"]
        counts = {s: np.histogram(score[self.segment == k], bins=edges)[0].tolist()
                  for k, s in enumerate(SEGMENT_ORDER)}  # fmt: skip
        return {"edges": edges.round(4).tolist(), "counts": counts}

    def _rows(self, rows: list[int], columns: list[str]) -> list[dict[str, Any]]:
        # A slice per row: `take` on a chunked text column costs milliseconds whatever the count.
        table = self.table.select(columns)
        return [table.slice(i, 1).to_pylist()[0] for i in rows]

    def profile(self, customer_id: str) -> dict[str, Any] | None:
        i = self.index.get(customer_id)
        if i is None:
            return None
        m, n = self.meta, self.num
        attributes = [f"attr.{a}" for a in m.attributes]
        (row,) = self._rows([i], ["segment", "rules", "reasons", "neighbours", *attributes])
        segment, score, offboard = row["segment"], float(n["score"][i]), bool(n["offboard"][i])
        contributions, other = _own(self, i)
        comparisons = [
            {"feature": f, "words": self.words[f], "value": self.read(f, n[f"value.{f}"][i]),
             "typical": self.typical[f], "pct_all": _num(n[f"pct.{f}"][i]), "pct_segment": _num(n[f"segpct.{f}"][i])}
            for f in self.keys
        ]  # fmt: skip
        near = [j for j in row["neighbours"] or [] if 0 <= j < len(self)]
        neighbours = [
            {"customer_id": r["customer_id"], "score": float(n["score"][j]), "segment": r["segment"],
             "values": {f: self.read(f, n[f"value.{f}"][j]) for f in self.keys}}
            for j, r in zip(near, self._rows(near, ["customer_id", "segment"]), strict=True)
        ]  # fmt: skip
        rules = [r for r in str(row["rules"] or "").split(", ") if r]
        return {
            "customer_id": customer_id, "run_id": m.run_id, "model_version": m.model_version, "score": score,
            "score_pct": _num(n["score_pct"][i]), "segment": segment, "offboard": offboard,
            "high": m.high, "medium": m.medium, "meaning": meaning(score, segment, m.high, m.medium, offboard),
            "reasons": [r for r in str(row["reasons"] or "").split("; ") if r],
            "rules": [{"name": r, "meaning": m.rules.get(r, "")} for r in rules],
            "attributes": {a: row[f"attr.{a}"] for a in m.attributes},
            "contributions": contributions, "other": other, "comparisons": comparisons,
            "neighbours": neighbours,
        }  # fmt: skip

    def summary(self) -> dict[str, Any]:
        return {
            **self.meta.model_dump(exclude={"seconds"}),
            "segments": {s: int((self.segment == k).sum()) for k, s in enumerate(SEGMENT_ORDER)},
            "offboard": int(self.num["offboard"].sum()),
            "histogram": self.histogram,
        }

    def _column(self, name: str) -> np.ndarray:
        if name == "score":
            return self.num["score"]
        if name == "customer_id":
            return np.asarray(self.table.column("customer_id").to_numpy(zero_copy_only=False), dtype=object)
        if name in self.columns:
            return self.num[f"value.{name}"]
        raise BookQueryError(f"{name!r} is not a column of the book", "the query",
                             f"use score, customer_id or one of {', '.join(self.columns)}")  # fmt: skip

    def mask(self, segment: str | None = None, rule: str | None = None, score_min: float | None = None,
             score_max: float | None = None, offboard: bool | None = None, q: str | None = None,
             attribute: str | None = None, value: str | None = None) -> np.ndarray:  # fmt: skip
        keep = np.ones(len(self), dtype=bool)
        if segment:
            if segment not in SEGMENT_ORDER:
                raise BookQueryError(f"{segment!r} is not a segment", "segment", f"use {', '.join(SEGMENT_ORDER)}")
            keep &= self.segment == SEGMENT_ORDER.index(segment)
        if rule:
            if rule not in self.meta.rules:
                raise BookQueryError(f"{rule!r} is not a rule of the run's policy", "rule",
                                     f"use one of {', '.join(self.meta.rules) or '(none)'}")  # fmt: skip
            keep &= self._text("rules", pc.match_substring, rule)
        if score_min is not None:
            keep &= self.num["score"] >= score_min
        if score_max is not None:
            keep &= self.num["score"] <= score_max
        if offboard is not None:
            keep &= self.num["offboard"] == offboard
        if q:
            keep &= self._text("customer_id", lambda col, p: pc.starts_with(col, p, ignore_case=True), q)
        if attribute:
            if attribute not in self.meta.attributes:
                raise BookQueryError(f"{attribute!r} is not an attribute of the book", "attribute",
                                     f"use one of {', '.join(self.meta.attributes)}")  # fmt: skip
            keep &= self._text(f"attr.{attribute}", pc.equal, value)
        return keep

    def _text(self, column: str, test: Any, pattern: Any) -> np.ndarray:
        """A string test over a text column in Arrow (no Python string per row); missing is False."""
        result = test(self.table.column(column), pattern)
        return np.asarray(pc.fill_null(result, False).to_numpy(zero_copy_only=False), dtype=bool)

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
        page = rows[ranked[offset:want]].tolist()
        n = self.num
        return {
            "total": len(rows),
            "rows": [
                {"customer_id": r["customer_id"], "score": float(n["score"][i]), "segment": r["segment"],
                 "offboard": bool(n["offboard"][i]), "rules": r["rules"] or "",
                 "reasons": [x for x in str(r["reasons"] or "").split("; ") if x],
                 "values": {f: _num(n[f"value.{f}"][i]) for f in self.columns}}
                for i, r in zip(page, self._rows(page, ["customer_id", "segment", "rules", "reasons"]), strict=True)
            ],
        }  # fmt: skip

    def scatter(self, keep: np.ndarray, x: str, y: str, limit: int = MAX_POINTS) -> dict[str, Any]:
        """Up to `limit` customers of the filtered book on two columns: every High customer first (up to the
        limit: the risky few are the point of the chart), the rest every k-th, so the sample is stable."""
        if "customer_id" in (x, y):  # an id is not a number to plot (it was a 500)
            raise BookQueryError("customer_id is not a number to plot", "x" if x == "customer_id" else "y",
                                 f"use score or one of {', '.join(self.columns)}")  # fmt: skip
        xs, ys = self._column(x), self._column(y)
        rows = np.flatnonzero(keep)
        limit = max(1, min(limit, MAX_POINTS))
        high = rows[self.segment[rows] == SEGMENT_ORDER.index("High")][:limit]
        rest = np.setdiff1d(rows, high, assume_unique=True)
        room = limit - len(high)
        step = max(1, int(np.ceil(len(rest) / room))) if room > 0 else 0
        rows = np.sort(np.concatenate([high, rest[::step] if step else rest[:0]]))
        return {
            "x": x, "y": y, "total": int(keep.sum()),
            "ids": [r["customer_id"] for r in self._rows(rows.tolist(), ["customer_id"])],
            "xs": [_num(v) for v in xs[rows].tolist()], "ys": [_num(v) for v in ys[rows].tolist()],
            "segments": [SEGMENT_ORDER[k] for k in self.segment[rows].tolist()],
        }  # fmt: skip


def _own(book: BookView, i: int) -> tuple[list[dict[str, Any]], float]:
    """Row i's own largest contributions, largest first, and the sum of the rest (a book published before
    they were kept: its key features' contributions)."""
    n, features = book.num, book.meta.features
    if "own.other" not in n or not features:
        keyed = [
            {"feature": f, "words": book.words[f], "value": book.read(f, n[f"value.{f}"][i]),
             "typical": book.typical[f], "contribution": float(n[f"contrib.{f}"][i])}
            for f in book.keys
        ]  # fmt: skip
        return keyed, float(n["contrib.other"][i])
    own = []
    for r in range(sum(1 for c in n if c.startswith("own.contrib."))):
        f = features[int(n[f"own.feature.{r}"][i])]
        text = book.table.column(f"owntext.{r}")[i].as_py()
        value = text if text is not None else format_value(f.name, n[f"own.value.{r}"][i], f.unit)
        own.append({"feature": f.name, "words": f.words, "value": value, "typical": f.typical,
                    "contribution": float(n[f"own.contrib.{r}"][i]), "numeric": text is None})  # fmt: skip
    return own, float(n["own.other"][i])


def _num(v: Any) -> float | None:
    f = float(v)
    return None if np.isnan(f) else round(f, 6)

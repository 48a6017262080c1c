"""Online scoring for the service: the champion loaded and warmed, swapped atomically, and one customer's
raw payload turned into a score, a segment, a decision and reasons - with the same features as batch.

No web framework here: `serving/` is the HTTP shell over this module.
"""

from __future__ import annotations

import io
import json
import logging
import struct
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from riskops.core.errors import DataContractError
from riskops.features.engineering import ID_COLUMN, TX_COLUMNS, FeatureConfig, FeatureSet, online_features
from riskops.model.inputs import MISSING_CATEGORY, align, check_columns, shap_values
from riskops.model.reference import REFERENCE, Profile, ReferenceProfile, psi
from riskops.model.registry import ModelCard, Registry
from riskops.model.segments import Segment, offboarded, segment_of, shares
from riskops.scoring.bookview import BookView
from riskops.scoring.offboard import (
    MODEL_VERSION_KEY,
    SCORES,
    Glossary,
    explain,
    latest_scoring_run,
    read_listing,
    score_frame,
    typical_values,
)
from riskops.scoring.payloads import ScoreRequest
from riskops.scoring.policy import BookTraits, OffboardConfig, model_policy, read_policy

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    version: str
    card: ModelCard
    model: Any
    features: FeatureSet
    glossary: Glossary
    typical: dict[str, Any]
    loaded_at: datetime
    reference_shares: dict[str, float]  # segment mix of its holdout customers: the baseline for drift alerts
    policy: OffboardConfig  # the model's default policy, resolved; a published scoring run's policy overrides it
    score_profile: Profile | None = None  # its holdout's score bins (reference.json), for online drift

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
    scores = model.predict_proba(X)[:, 1]
    if len(scores) == 0 or not np.isfinite(scores).all():
        raise ValueError(f"model {version} failed its smoke prediction")
    shap_values(model, X.head(1), card.categorical)  # reasons work, and the first request does not make the table
    policy = model_policy(registry.store, card)
    reference_shares = shares(scores, policy.cutoffs)
    return LoadedModel(
        version=version,
        card=card,
        model=model,
        features=fs,
        glossary=Glossary.of(fs),
        typical=typical_values(X, card.categorical),
        loaded_at=datetime.now(UTC),
        reference_shares=reference_shares,
        policy=policy,
        score_profile=_score_profile(registry, version),
    )


def _score_profile(registry: Registry, version: str) -> Profile | None:
    """The version's frozen score bins, when its reference profile was written (the service never writes one)."""
    key = f"models/{version}/{REFERENCE}"
    if not registry.store.exists(key):
        return None
    return ReferenceProfile.model_validate_json(registry.store.read_text(key)).score


@dataclass
class WindowDrift:
    scores: int
    psi: float | None  # None when the model has no reference profile
    shares: dict[str, float]


class ShadowQueue:
    """Work done off the response path, one thread, bounded: scoring the challenger beside the champion. When
    the queue is full the shadow score is skipped and counted (`skipped`): the response never waits for it."""

    def __init__(
        self,
        capacity: int = 1_000,
        on_skip: Callable[[], None] | None = None,
        on_error: Callable[[], None] | None = None,
    ) -> None:
        import queue

        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue(capacity)
        self.skipped = self.failed = self.done = 0
        self.on_skip, self.on_error = on_skip, on_error
        self._thread = threading.Thread(target=self._run, name="shadow", daemon=True)
        self._thread.start()

    def submit(self, work: Callable[[], None]) -> bool:
        import queue

        try:
            self._queue.put_nowait(work)
            return True
        except queue.Full:
            self.skipped += 1
            if self.on_skip:
                self.on_skip()
            return False

    def _run(self) -> None:
        while (work := self._queue.get()) is not None:
            try:
                work()
                self.done += 1
            except Exception:  # a challenger that cannot score this request: counted, serving goes on
                self.failed += 1
                log.exception("shadow scoring failed")
                if self.on_error:
                    self.on_error()

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)


class ScoreWindow:
    """The last `size` scores served (every route), for online drift: their PSI against the serving model's
    holdout score bins and their segment mix. Cleared when the model changes: another model's scores are not
    comparable."""

    def __init__(self, size: int = 5_000) -> None:
        self._scores: deque[float] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, scores: Iterable[float]) -> None:
        with self._lock:
            self._scores.extend(scores)

    def clear(self) -> None:
        with self._lock:
            self._scores.clear()

    def drift(self, m: LoadedModel, cfg: OffboardConfig) -> WindowDrift:
        with self._lock:
            s = np.fromiter(self._scores, dtype=float)
        n = len(s)
        window = shares(s, cfg.cutoffs)
        p = m.score_profile
        if p is None or not n:
            return WindowDrift(n, None, window)
        counts = np.bincount(np.searchsorted(p.edges, s, side="right"), minlength=len(p.edges) + 1)
        value = float(psi(np.append(counts / n, 0.0), np.array([*p.shares, p.missing])))
        return WindowDrift(n, value, window)


class ModelHolder:
    """Holds the serving model. `current` is one reference read per request, so a request finishes on the
    model it started with while a new champion is loaded and warmed beside it."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.current: LoadedModel | None = None
        self._lock = threading.Lock()
        self.load_failures = 0
        self.last_failure = ""  # "champion X failed to load: ..." while the champion cannot be served
        self.champion_named = False  # the last read of the pointer named a version
        self.shadow: LoadedModel | None = None  # the named challenger, scored beside the champion, never served
        self.awaiting: list[str] = []  # with approval required: the versions waiting for a validator

    def refresh_shadow(self) -> None:
        """Load the named challenger if it changed (none, or the champion itself: no shadow). A challenger that
        fails to load is logged and not shadowed; the champion is never affected."""
        name = self.registry.challenger()
        if name is None or (self.current is not None and name == self.current.version):
            self.shadow = None
        elif self.shadow is None or self.shadow.version != name:
            try:
                self.shadow = load(self.registry, name)
                log.info("shadow-scoring challenger %s", name)
            except Exception:  # a broken challenger must never touch serving
                log.exception("challenger %s refused; no shadow scoring", name)
                self.shadow = None

    def refresh(self) -> bool:
        """Load the champion if it changed; keep the old model on any failure, and with approval required
        never load one no validator approved. True when swapped."""
        with self._lock:
            champion = self.registry.champion()
            self.champion_named = champion is not None
            if self.registry.approval_required:
                self.awaiting = self.registry.approvals.awaiting()
            if champion is None or (self.current is not None and self.current.version == champion):
                return False
            state = self.registry.approvals.state(champion) if self.registry.approval_required else "approved"
            if state != "approved":  # a champion named before approval was required: it may not decide
                self.load_failures += 1
                self.last_failure = (
                    f"champion {champion} is {state} and approval is required: "
                    f"riskops models approve {champion} --by NAME"
                )
                log.warning("%s; keeping %s", self.last_failure, self.current and self.current.version)
                return False
            try:
                loaded = load(self.registry, champion)
            except Exception as e:  # any failure to load keeps the serving model; the caller counts it
                self.load_failures += 1
                self.last_failure = f"champion {champion} failed to load: {type(e).__name__}: {str(e)[:300]}"
                log.exception("model %s refused; keeping %s", champion, self.current and self.current.version)
                return False
            self.current, self.last_failure = loaded, ""
            log.info("serving model %s", champion)
            return True


@dataclass
class Decision:
    score: float
    segment: Segment
    offboard: bool
    rules: list[str]
    reasons: list[str]
    version: str


def decide(m: LoadedModel, values: dict[str, Any], cfg: OffboardConfig, with_reasons: bool = True) -> Decision:
    """Score one feature vector with the off-boarding policy of the batch list."""
    return decide_many(m, [values], cfg, with_reasons, thread_count=1)[0]  # one row: no worker threads


def decide_many(
    m: LoadedModel,
    vectors: Sequence[dict[str, Any]],
    cfg: OffboardConfig,
    with_reasons: bool = True,
    thread_count: int = -1,
) -> list[Decision]:
    """Score feature vectors in one predict (and the non-Low ones' reasons in one explanation)."""
    if not vectors:
        return []
    rows = [m.row(v) for v in vectors]
    scores = m.model.predict_proba(rows, thread_count=thread_count)[:, 1]
    cfg = cfg.resolved(m.card)
    book = BookTraits.of(m.card)
    cut = cfg.cutoffs
    out: list[Decision] = []
    for p, values in zip(scores.tolist(), vectors, strict=True):
        segment = segment_of(p, cut)
        rules = [r.name for r in cfg.rules if r.fits(book) and r.fires(values.get(r.feature))]
        out.append(
            Decision(float(p), segment, bool(offboarded(segment, len(rules), cfg.min_rules)), rules, [], m.version)
        )
    explained = [i for i, d in enumerate(out) if d.segment != "Low"] if with_reasons else []
    if explained:
        X = pd.DataFrame([rows[i] for i in explained], columns=m.card.features)
        for i, reasons in zip(
            explained, explain(m.model, X, m.card.categorical, m.glossary, m.typical, cfg.reasons), strict=True
        ):
            out[i].reasons = reasons
    return out


def request_features(m: LoadedModel, request: ScoreRequest, now: datetime | None = None) -> dict[str, Any]:
    """One customer's raw record and transactions -> its feature vector, as batch computes it. The cut-off is
    the request's `as_of`, else now."""
    columns = {c: [t.get(c) for t in request.transactions] for c in TX_COLUMNS}
    cutoff = request.as_of or now or datetime.now(UTC)
    return online_features(m.features, request.customer.record(), columns, cutoff)


def score_request(m: LoadedModel, request: ScoreRequest, cfg: OffboardConfig, with_reasons: bool = True) -> Decision:
    """A validated score request -> its decision, with reasons unless told (POST /v1/score)."""
    return decide(m, request_features(m, request), cfg, with_reasons)


def score_payload(
    m: LoadedModel,
    customer: dict[str, Any],
    transactions: Mapping[str, Sequence[Any]] | Sequence[dict[str, Any]],
    cutoff: datetime,
    cfg: OffboardConfig,
) -> Decision:
    """One customer's raw record and transactions (columns or row dicts) -> features (as batch computes them)
    -> decision."""
    return decide(m, online_features(m.features, customer, transactions, cutoff), cfg)


def score_columns(
    m: LoadedModel, columns: Mapping[str, Sequence[Any]], ids: Sequence[str], cfg: OffboardConfig
) -> pd.DataFrame:
    """Many customers' precomputed features (column-oriented) -> scores, segments, decisions; no reasons.
    Each column is checked against the model's type for it: numbers or null for numeric features, strings or
    null for categorical ones; anything else is refused naming the column and the row."""
    check_columns(list(columns), m.card.features, list(m.card.dropped))
    cats = set(m.card.categorical)
    frame: dict[str, Any] = {ID_COLUMN: np.asarray(ids, dtype=object)}
    for name in m.card.features:
        values = columns[name]
        if name in cats:
            text = np.asarray(values, dtype=object)
            # pandas' C type inference first (strings and nulls: "string", or "empty" when all null); the
            # per-value walk only to name the offending row
            if pd.api.types.infer_dtype(text, skipna=True) not in ("string", "empty"):
                bad = next((i for i, v in enumerate(values) if v is not None and not isinstance(v, str)), 0)
                raise _bad_value(name, bad, values[bad], "a string or null (the feature is categorical)")
            frame[name] = text
            continue
        try:
            arr = np.asarray(values, dtype=float)  # None -> NaN, as a missing value
        except (TypeError, ValueError, OverflowError):
            arr = np.zeros((0, 0))
        if arr.ndim != 1 or np.isinf(arr).any():
            bad = next((i for i, v in enumerate(values) if not _finite_number(v)), 0)
            raise _bad_value(name, bad, values[bad], "a finite number or null (the feature is numeric)")
        frame[name] = arr
    return score_frame(pd.DataFrame(frame), m.model, m.card, cfg, m.glossary, m.typical, with_reasons=False).scores


def _flatbuffer_table(buf: bytes, pos: int) -> Callable[[int], int | None]:
    """Field `i` of the flatbuffer table at `pos`: its absolute position, or None when absent."""
    vtable = pos - struct.unpack_from("<i", buf, pos)[0]
    size = struct.unpack_from("<H", buf, vtable)[0]

    def field(i: int) -> int | None:
        if 4 + 2 * i >= size:
            return None
        offset = struct.unpack_from("<H", buf, vtable + 4 + 2 * i)[0]
        return pos + offset if offset else None

    return field


def _record_batch_header(meta: bytes) -> tuple[int, bool] | None:
    """(rows, compressed) of an IPC message that carries a record batch (or a dictionary batch), read from its
    flatbuffer metadata (Message.fbs) before the body is touched; None for other messages."""

    def deref(pos: int) -> int:
        return pos + int(struct.unpack_from("<I", meta, pos)[0])

    message = _flatbuffer_table(meta, deref(0))
    kind_at, header_at = message(1), message(2)  # the MessageHeader union: type, then value
    kind = meta[kind_at] if kind_at is not None else 0
    if kind not in (2, 3) or header_at is None:  # 2 DictionaryBatch, 3 RecordBatch
        return None
    batch_at = deref(header_at)
    if kind == 2:
        data_at = _flatbuffer_table(meta, batch_at)(1)
        if data_at is None:
            return None
        batch_at = deref(data_at)
    batch = _flatbuffer_table(meta, batch_at)
    length_at = batch(0)
    rows = int(struct.unpack_from("<q", meta, length_at)[0]) if length_at is not None else 0
    return rows, batch(3) is not None  # field 3: BodyCompression


def check_arrow_stream(data: bytes, max_rows: int, max_columns: int) -> None:
    """Bound an Arrow IPC stream before any of it is decoded: compressed bodies are refused (a few KB can
    decompress to GBs), and the rows of all batches and the schema's columns are counted from the metadata.
    Uncompressed, what is decoded is then no larger than the body, which the service bounds."""
    where = "request body (Arrow IPC stream)"
    try:
        reader = pa.ipc.MessageReader.open_stream(data)
        rows, first = 0, True
        while True:
            try:
                message = reader.read_next_message()
            except StopIteration:
                break
            if message is None:
                break
            meta = message.metadata.to_pybytes()
            if first and message.type == "schema":
                n = len(pa.ipc.read_schema(message))
                if n > max_columns:
                    raise DataContractError(
                        f"{n} columns; at most {max_columns} are accepted",
                        where,
                        "send customer_id and the model's features only",
                    )
            first = False
            header = _record_batch_header(meta)
            if header is None:
                continue
            batch_rows, compressed = header
            if compressed:
                raise DataContractError(
                    "compressed Arrow IPC bodies are refused",
                    where,
                    "write the stream without compression (IpcWriteOptions(compression=None)); compress the HTTP "
                    "body instead if you must",
                )
            rows += max(batch_rows, 0)
        if rows > max_rows:
            raise DataContractError(f"{rows} rows; 1 to {max_rows} are accepted", where, "split the customers")
    except (pa.ArrowException, OSError, ValueError, struct.error, IndexError) as e:
        raise DataContractError(
            f"the body is not a readable Arrow IPC stream ({e})", where, "send pyarrow.ipc stream bytes"
        ) from None


def arrow_columns(data: bytes, max_rows: int, max_columns: int = 10_000) -> tuple[list[str], dict[str, Any]]:
    """An Arrow IPC stream (a `customer_id` string column and one column per feature) -> ids and columns for
    `score_columns`, without a per-value parse: the fast way to send many customers. Bounded before decoding
    (`check_arrow_stream`)."""
    import pyarrow.compute as pc

    check_arrow_stream(data, max_rows, max_columns)
    try:
        table = pa.ipc.open_stream(data).read_all()
    except (pa.ArrowException, OSError, ValueError) as e:
        raise DataContractError(
            f"the body is not a readable Arrow IPC stream ({e})", "request body", "send pyarrow.ipc stream bytes"
        ) from None
    if len(set(table.column_names)) != len(table.column_names):
        raise DataContractError("column names repeat", "request body", "send each feature once")
    if ID_COLUMN not in table.column_names or not pa.types.is_string(table.schema.field(ID_COLUMN).type):
        raise DataContractError(f"no string column {ID_COLUMN}", "request body", f"add {ID_COLUMN} as strings")
    ids = table.column(ID_COLUMN)
    if not 0 < table.num_rows <= max_rows or ids.null_count:
        raise DataContractError(
            f"{table.num_rows} rows ({ids.null_count} without {ID_COLUMN}); 1 to {max_rows} with ids are accepted",
            "request body",
            "split the customers into several requests",
        )
    columns: dict[str, Any] = {}
    for name in table.column_names:
        if name == ID_COLUMN:
            continue
        col = table.column(name)
        numeric = pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_boolean(col.type)
        columns[name] = (pc.cast(col, pa.float64()) if numeric else col).to_numpy(zero_copy_only=False)
    return ids.to_pylist(), columns


def _finite_number(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(np.isfinite(float(v)))
    except (TypeError, ValueError, OverflowError):
        return False


def _bad_value(name: str, row: int, value: Any, expected: str) -> DataContractError:
    return DataContractError(
        f"feature {name}, row {row}: {str(value)[:80]!r} is not {expected}",
        f"features.{name}[{row}]",
        "send the features as the model's card lists them (GET /v1/model)",
    )


class PublishedPolicy:
    """The policy online decisions use when only the policy of the latest scoring run is needed (the stream
    worker): that run's policy when it scored with the serving model, else the model's default, as
    `LookupTable.policy_for` decides for the service."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.run_id: str | None = None
        # (model version, policy) the run scored with: one reference, so a reader never pairs one run's policy
        # with another run's model.
        self.scored_with: tuple[str | None, OffboardConfig | None] = (None, None)

    def refresh(self) -> bool:
        run = latest_scoring_run(self.store)
        if run is None or run == self.run_id:
            return False
        schema = pq.read_schema(io.BytesIO(self.store.read_bytes(f"{run}/{SCORES}")))
        version = (schema.metadata or {}).get(MODEL_VERSION_KEY, b"").decode() or None
        self.scored_with, self.run_id = (version, read_policy(self.store, run)), run
        return True

    def policy_for(self, m: LoadedModel) -> OffboardConfig:
        """The latest published run's policy when that run scored with the serving model (so /v1/score, the
        batch route, the lookup and the stream agree with the list), else the model's default."""
        version, policy = self.scored_with
        return policy if policy is not None and version == m.version else m.policy


class LookupTable(PublishedPolicy):
    """The latest scoring run's results by customer id, for GET /v1/customers/{id}/risk. Refreshed when a newer
    run publishes `scores.parquet` (the poll that looks for a new champion looks for it too). Held as columns
    and an id index (a dict per customer took about 1 GB for a million), the reasons of listed customers only."""

    def __init__(self, store: Any) -> None:
        super().__init__(store)
        self.results = ScoredRun()
        self.record: dict[str, Any] = {}  # the run's run.json, when it wrote one
        self.book: BookView | None = None  # the run's precomputed book for the console, when it wrote one

    def row(self, customer_id: str) -> dict[str, Any] | None:
        return self.results.row(customer_id)

    def refresh(self) -> bool:
        run = latest_scoring_run(self.store)
        if run is None or run == self.run_id:
            return False
        table = pq.read_table(io.BytesIO(self.store.read_bytes(f"{run}/{SCORES}")))
        version = (table.schema.metadata or {}).get(MODEL_VERSION_KEY, b"").decode() or None
        reasons: dict[str, str] = {}
        if self.store.exists(f"{run}/offboarding.csv"):
            listing = read_listing(self.store.read_text(f"{run}/offboarding.csv"))
            reasons = dict(zip(listing["customer_id"], listing["reasons"], strict=True))
        results = ScoredRun(table, reasons, run, version)
        record = json.loads(self.store.read_text(f"{run}/run.json")) if self.store.exists(f"{run}/run.json") else {}
        self.scored_with = (version, read_policy(self.store, run))
        book = BookView.load(self.store, run)
        self.results, self.record, self.book, self.run_id = results, record, book, run  # old or new, never mixed
        return True


class ScoredRun:
    """One run's scores as columns: score, segment, offboard, rules; a customer's row built when asked."""

    def __init__(
        self,
        table: pa.Table | None = None,
        reasons: dict[str, str] | None = None,
        run_id: str = "",
        version: str | None = None,
    ) -> None:
        self.run_id, self.version, self.reasons = run_id, version, reasons or {}
        if table is None:
            self.index: dict[str, int] = {}
            return
        self.index = {str(c): i for i, c in enumerate(table.column("customer_id").to_pylist())}
        self.score = np.asarray(table.column("score").to_numpy(zero_copy_only=False), dtype=float)
        self.offboard = np.asarray(table.column("offboard").to_numpy(zero_copy_only=False), dtype=bool)
        self.segment = table.column("segment").combine_chunks().dictionary_encode()
        self.rules = table.column("rules").combine_chunks()

    def row(self, customer_id: str) -> dict[str, Any] | None:
        i = self.index.get(customer_id)
        if i is None:
            return None
        return {
            "customer_id": customer_id,
            "score": float(self.score[i]),
            "segment": self.segment[i].as_py(),
            "offboard": bool(self.offboard[i]),
            "rules": [x for x in str(self.rules[i].as_py() or "").split(", ") if x],
            "reasons": [x for x in self.reasons.get(customer_id, "").split("; ") if x],
            "run_id": self.run_id,
            "model_version": self.version,
        }

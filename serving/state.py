"""What the service holds between requests, on `app.state.service`: the serving model, the latest scoring run
(lookups and its policy), the accepted API keys and the prediction log; and how it refreshes them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from riskops.core.config import Settings
from riskops.core.errors import ConfigError
from riskops.io.artifacts import open_store
from riskops.io.warehouse import open_warehouse
from riskops.model.registry import Registry
from riskops.scoring.online import LookupTable, ModelHolder, ScoreWindow, ShadowQueue, score_columns, score_request
from riskops.scoring.payloads import ScoreRequest
from riskops.scoring.predlog import BigQuerySink, JsonlSink, PredictionLog, Pseudonyms, Records, Sink
from riskops.scoring.refresh import Refreshes, latest_monitoring, refresh_champion
from serving import metrics
from serving.errors import NotReady

log = logging.getLogger("riskops.service")
T = TypeVar("T")


def _hashes(setting: str) -> frozenset[str]:
    return frozenset(h.strip().lower() for h in setting.split(",") if h.strip())


def api_key_hashes(settings: Settings) -> frozenset[str]:
    """The SHA-256 digests of the accepted keys; production refuses to start without any."""
    hashes = _hashes(settings.api_key_hashes)
    if settings.environment == "production" and not hashes:
        raise ConfigError(
            "refusing to start in production without API keys",
            "RISKOPS_API_KEY_HASHES",
            "set it to comma-separated SHA-256 hex digests of the accepted keys",
        )
    return hashes


def prediction_sink(settings: Settings) -> Sink:
    if settings.prediction_log == "bigquery":
        from riskops.io.warehouse.bigquery import BigQueryWarehouse

        return BigQuerySink(BigQueryWarehouse.from_settings(settings).client, settings.bq_dataset)
    return JsonlSink(settings.home / "predictions")


def publish_run_metrics(record: dict[str, Any]) -> None:
    """The latest published scoring run as gauges, for the pipeline dashboard and its staleness alert."""
    if "created" in record:
        metrics.RUN_TIME.set(datetime.fromisoformat(record["created"]).timestamp())
    if record.get("timings_s"):
        metrics.RUN_DURATION.set(sum(record["timings_s"].values()))
    scoring = record.get("scoring") or {}
    for segment, n in (scoring.get("segments") or {}).items():
        metrics.RUN_CUSTOMERS.labels(segment).set(n)
    if "offboard" in scoring:
        metrics.RUN_OFFBOARDED.set(scoring["offboard"])


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.api_key_hashes = api_key_hashes(settings)
        self.reviewer_key_hashes = _hashes(settings.reviewer_key_hashes) & self.api_key_hashes
        production = settings.environment == "production"
        self.pseudonyms = Pseudonyms.from_setting(settings.pseudonym_keys.get_secret_value(), production)
        store = open_store(settings.artifacts, settings.gcs_endpoint)
        self.holder = ModelHolder(Registry(store, settings.approval_required))
        self.lookup = LookupTable(store)
        self.window = ScoreWindow()
        self.refreshes = Refreshes()
        self.shadow_queue = ShadowQueue(
            on_skip=metrics.SHADOW.labels("skipped").inc, on_error=metrics.SHADOW.labels("failed").inc
        )
        self._predictions: PredictionLog | None = None

    @property
    def predictions(self) -> PredictionLog:
        if self._predictions is None:
            raise RuntimeError("the prediction log opens with the service's lifespan")
        return self._predictions

    def open(self) -> None:
        self._predictions = PredictionLog(prediction_sink(self.settings))
        self._predictions.on_drop = metrics.PREDICTION_LOG_DROPS.inc

    def close(self) -> None:
        self.shadow_queue.close()  # its records go to the prediction log, closed next
        if self._predictions is not None:
            self._predictions.close()

    def warehouse_do(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(warehouse, *args)` for a review read or write: BigQuery on GKE; locally the DuckDB file the
        pipeline also writes, so it is held no longer than the call."""
        try:
            wh = open_warehouse(self.settings)
        except ModuleNotFoundError as e:  # the service image carries no DuckDB
            raise NotReady(
                f"review decisions live in the warehouse and this service cannot open it ({e}): run it "
                "with RISKOPS_WAREHOUSE=bigquery, or locally with the dev install"
            ) from e
        with wh:
            return fn(wh, *args)

    def refresh(self) -> None:
        """Look for a new champion, a newer scoring run (and its policy) and the challenger; any of them failing
        (a store outage, a bad write, a policy that does not validate) leaves what is served as it is, is counted
        and shown in /readyz, and is tried again at the next poll (`riskops.scoring.refresh`)."""
        self._refresh_model()
        run = self.lookup.run_id
        if self.refreshes.attempt("run", self.lookup.refresh, f"lookups and policy stay on run {run}"):
            publish_run_metrics(self.lookup.record)
        self.refreshes.attempt("challenger", self._refresh_shadow, "shadow scoring unchanged")
        self.refreshes.attempt("monitoring", self._refresh_monitoring, "the approved-range gauge keeps its value")
        self._publish_window()

    def _refresh_monitoring(self) -> None:
        found = latest_monitoring(self.holder.registry.store)
        metrics.OUTSIDE_APPROVED.set(1 if found and found.get("outside_approved") else 0)

    def _refresh_shadow(self) -> None:
        self.holder.refresh_shadow()
        metrics.SHADOW_MODEL.clear()
        if self.holder.shadow is not None:
            metrics.SHADOW_MODEL.labels(self.holder.shadow.version).set(1)

    def policy_source(self) -> str:
        """Which policy decides: the latest published run's, or the serving model's own, and why (/readyz)."""
        holder, lookup = self.holder, self.lookup
        if holder.current is not None and lookup.policy_for(holder.current) is not holder.current.policy:
            return f"run {lookup.run_id}"
        why = (
            "no published run scored with it"
            if "run" not in self.refreshes.failing
            else ("the latest published run could not be read")
        )
        return f"model {holder.current and holder.current.version} ({why})"

    def shadow_score(self, request: ScoreRequest, rid: str) -> None:
        """Score the challenger on the same request off the response path, logged with `shadow: true` and the
        same request id; its own default policy, no reasons."""
        shadow = self.holder.shadow
        if shadow is None:
            return

        def work() -> None:
            started = time.perf_counter()
            d = score_request(shadow, request, shadow.policy, with_reasons=False)
            self.predictions.record(
                self.record_for(
                    rid,
                    shadow.version,
                    request.customer.customer_id,
                    d.score,
                    d.segment,
                    d.offboard,
                    started,
                    shadow=True,
                )
            )
            metrics.SHADOW.labels("scored").inc()

        self.shadow_queue.submit(work)

    def shadow_batch(self, columns: Any, ids: list[str], rid: str) -> None:
        """The challenger on the same batch (the champion's feature columns; a challenger needing others fails,
        counted)."""
        shadow = self.holder.shadow
        if shadow is None:
            return

        def work() -> None:
            started = time.perf_counter()
            scores = score_columns(shadow, columns, ids, shadow.policy)
            self.log_batch(rid, shadow.version, ids, scores, started, shadow=True)
            metrics.SHADOW.labels("scored").inc(len(ids))

        self.shadow_queue.submit(work)

    def log_batch(
        self, rid: str, version: str, ids: list[str], scores: Any, started: float, shadow: bool = False
    ) -> None:
        """One prediction record per customer of a batch, built in the log's thread (`record_many`) and kept
        by column (`Records`)."""
        common = {
            "request_id": rid,
            "time": datetime.now(UTC).isoformat(),
            "model_version": version,
            "key_id": self.pseudonyms.current,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            "shadow": shadow,
        }
        score, segment, offboard = scores["score"].tolist(), scores["segment"].tolist(), scores["offboard"].tolist()
        many = self.pseudonyms.many
        self.predictions.record_many(len(ids), lambda: Records(common, many(ids), score, segment, offboard))

    def record_for(
        self,
        rid: str,
        version: str,
        customer_id: str,
        score: float,
        segment: str,
        offboard: bool,
        started: float,
        shadow: bool = False,
    ) -> dict[str, Any]:
        """One prediction-log record (pseudonymised customer)."""
        return {
            "request_id": rid,
            "time": datetime.now(UTC).isoformat(),
            "model_version": version,
            "customer_key": self.pseudonyms.key(customer_id),
            "key_id": self.pseudonyms.current,
            "score": score,
            "segment": segment,
            "offboard": offboard,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            "shadow": shadow,
        }

    def _publish_window(self) -> None:
        """Online drift of the scores served lately, as gauges (the poll's pace)."""
        m = self.holder.current
        if m is None:
            return
        d = self.window.drift(m, self.lookup.policy_for(m))
        metrics.WINDOW_SCORES.set(d.scores)
        if d.psi is not None:
            metrics.WINDOW_PSI.set(d.psi)
        for segment, share in d.shares.items():
            metrics.WINDOW_SHARE.labels(segment).set(share)

    def _refresh_model(self) -> None:
        holder, before = self.holder, self.holder.load_failures
        swapped = refresh_champion(holder, self.refreshes)
        unread = "champion" in self.refreshes.failing and holder.load_failures == before  # the pointer, not the model
        metrics.CHAMPION_POINTER.set(0 if unread or not holder.champion_named else 1)
        if swapped:
            assert holder.current is not None
            self.window.clear()
            metrics.MODEL_LOADS.labels("success").inc()
            metrics.MODEL.clear()
            metrics.MODEL.labels(holder.current.version).set(1)
            for name in ("roc_auc", "pr_auc", "brier"):
                metrics.MODEL_METRIC.labels(name).set(float(holder.current.card.metrics[name]))
            for segment, share in holder.current.reference_shares.items():
                metrics.REFERENCE_SHARE.labels(segment).set(share)
        elif holder.load_failures > before:
            metrics.MODEL_LOADS.labels("failure").inc()

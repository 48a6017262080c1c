"""A live feed for the stream worker, made from a dataset folder (`riskops generate`): the unlabelled cohort's
customers as customer events (their record and transactions, as of the dataset's cut-off, so the stream scores
them exactly as the batch does), and, every so often, outcome events for customers already sent, their final
account state taken from the generator's hidden truth (a later account state, as a bank's core system sends)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from riskops.core.errors import DataContractError
from riskops.data.contract import LABEL_ACTIVE, LABEL_SUSPENDED, as_of_cutoff
from riskops.data.sources import dataset_as_of
from riskops.features.engineering import TX_COLUMNS
from riskops.io.pubsub import PubSub
from riskops.scoring.payloads import MAX_TRANSACTIONS

_TX_FIELDS = ("transaction_id", "amount", "currency", *[c for c in TX_COLUMNS if c != "amount"])


def _iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, datetime) else v


def customer_events(dataset: Path, cohort: str = "unlabelled", limit: int | None = None) -> Iterator[dict[str, Any]]:
    """One `customer` event per customer of the cohort, with at most its latest MAX_TRANSACTIONS transactions."""
    folder = dataset / cohort
    if not (folder / "customers").exists():
        raise DataContractError(
            f"no {cohort}/customers in {dataset}", str(dataset), "give a folder written by `riskops generate`"
        )
    as_of = as_of_cutoff(date.fromisoformat(dataset_as_of(dataset))).isoformat()  # the batch's exclusive cut-off
    customers = pq.read_table(folder / "customers")
    if limit is not None:
        customers = customers.slice(0, limit)
    tx = pq.read_table(folder / "transactions")
    tx = tx.filter(pc.is_in(tx.column("customer_id"), customers.column("customer_id"))).sort_by("ts")
    by_customer: dict[str, list[dict[str, Any]]] = {}
    for row in tx.to_pylist():
        by_customer.setdefault(row["customer_id"], []).append(
            {k: _iso(row[k]) for k in _TX_FIELDS if k in row and row[k] is not None}
        )
    skip = {"customer_id", "signup_ts", "account_state"}
    for c in customers.to_pylist():
        cid = str(c["customer_id"])
        yield {
            "kind": "customer",
            "event_id": f"{cid}@{dataset_as_of(dataset)}",
            "customer": {
                "customer_id": cid,
                "signup_ts": _iso(c["signup_ts"]),
                "attributes": {k: v for k, v in c.items() if k not in skip},
            },
            "transactions": by_customer.get(cid, [])[-MAX_TRANSACTIONS:],
            "as_of": as_of,
        }


def outcome_event(event: dict[str, Any], suspended: bool, decided_at: datetime) -> dict[str, Any]:
    """A customer event's customer, now labelled: its final account state."""
    return {
        **{k: event[k] for k in ("customer", "transactions", "as_of")},
        "kind": "outcome",
        "event_id": f"outcome:{event['customer']['customer_id']}",
        "account_state": LABEL_SUSPENDED if suspended else LABEL_ACTIVE,
        "decided_at": decided_at.isoformat(),
        "source": "account_state",
    }


def hidden_truth(dataset: Path) -> dict[str, bool]:
    """Customer id -> suspended, from the generator's truth file (never read by a loader or the model)."""
    path = dataset / "truth.parquet"
    if not path.exists():
        return {}
    t = pq.read_table(path, columns=["customer_id", "suspended"])
    return dict(zip(t.column("customer_id").to_pylist(), t.column("suspended").to_pylist(), strict=True))


@dataclass
class FeedSummary:
    customers: int = 0
    outcomes: int = 0
    seconds: float = 0.0


def run_feed(
    pubsub: PubSub,
    topic: str,
    events: Iterator[dict[str, Any]],
    rate: float,
    stop: threading.Event,
    truth: dict[str, bool] | None = None,
    outcomes_every_s: float = 60.0,
    outcomes_per_tick: int = 20,
    tick: Callable[[FeedSummary], None] | None = None,
) -> FeedSummary:
    """Publish the events at `rate` per second (in bursts of a tenth of a second) and, every `outcomes_every_s`,
    outcome events for up to `outcomes_per_tick` customers already sent whose truth is known; after the last
    customer, the outcomes go on until every sent customer's is published (or `stop`)."""
    summary, started = FeedSummary(), time.monotonic()
    sent: list[dict[str, Any]] = []
    next_outcomes = started + outcomes_every_s
    burst = max(1, round(rate / 10))
    exhausted = False
    while not stop.is_set():
        chunk = [] if exhausted else [e for _, e in zip(range(burst), events, strict=False)]
        exhausted = not chunk
        if exhausted and not sent:
            break  # every customer sent and every known outcome too
        if chunk:
            pubsub.publish_all(topic, [(json.dumps(e).encode(), {"kind": "customer"}) for e in chunk])
            summary.customers += len(chunk)
            sent += [e for e in chunk if truth and e["customer"]["customer_id"] in truth]
        now = time.monotonic()
        if truth and now >= next_outcomes and sent:
            due, sent = sent[:outcomes_per_tick], sent[outcomes_per_tick:]
            at = datetime.now().astimezone()
            outcomes = [outcome_event(e, truth[e["customer"]["customer_id"]], at) for e in due]
            pubsub.publish_all(topic, [(json.dumps(e).encode(), {"kind": "outcome"}) for e in outcomes])
            summary.outcomes += len(outcomes)
            next_outcomes = now + outcomes_every_s
        if tick:
            tick(summary)
        # Customers at `rate`; once they are all sent, wake for the next outcomes.
        wait = (next_outcomes if exhausted else started + summary.customers / rate) - time.monotonic()
        if wait > 0:
            stop.wait(wait)
    summary.seconds = round(time.monotonic() - started, 2)
    return summary

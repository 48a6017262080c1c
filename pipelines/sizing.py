"""CPU and memory for each pipeline task, by book size: what a compiled spec asks Kubernetes or Vertex AI for.

The pipeline functions run at compile time; each task passes through `sized`, which reads the sizing that
`sizing_for(customers)` made active (`riskops pipeline compile --customers N`; 20,000 by default). The figures
come from the measurements at one size (features 1.5M transactions/s on one core, CatBoost 100k customers x
500 trees in 46 s, scoring 1M customers in ~3 s with a 4.1 GiB peak; bench/) scaled linearly with headroom;
docs/operations.md has the table. Requests equal limits: Vertex AI picks the machine type from the limits, and a
step that outgrows them should fail loudly rather than be throttled by a neighbour.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

COMPONENTS = (
    "ingest",
    "features",
    "train",
    "evaluate",
    "validate",
    "gate",
    "promote",
    "shard_plan",
    "score_shard",
    "score",
    "report",
    "monitor",
)
SHARD_CUSTOMERS = 1_000_000  # one scoring task per million customers: ~3 s of scoring, a few GiB of SHAP


@dataclass(frozen=True)
class Resources:
    cpu: str  # Kubernetes quantity: cores
    memory: str  # Kubernetes quantity: G


@dataclass(frozen=True)
class Sizing:
    tier: str
    customers: int
    resources: dict[str, Resources]

    @property
    def shards(self) -> int:
        """Scoring tasks for the cohort (about a fifth of the book is unlabelled, but a book grows)."""
        return max(1, math.ceil(self.customers / SHARD_CUSTOMERS))


_LIGHT = Resources("1", "2G")  # steps whose work runs in BigQuery, or that move a few records
# Up to this many customers -> the resources of the heavy steps (train, validate, evaluate, score_shard, score); the
# BigQuery-bound steps (ingest, features) and the bookkeeping ones stay light.
TIERS: tuple[tuple[str, int, dict[str, Resources]], ...] = (
    (
        "small",
        100_000,
        {
            "train": Resources("4", "8G"),
            "validate": Resources("4", "8G"),  # refits the recipe out of time
            "evaluate": Resources("2", "4G"),
            "score_shard": Resources("2", "4G"),
            "score": Resources("2", "8G"),
        },
    ),
    (
        "medium",
        2_000_000,
        {
            "train": Resources("8", "32G"),
            "validate": Resources("8", "32G"),  # refits the recipe out of time
            "evaluate": Resources("4", "16G"),
            "score_shard": Resources("4", "16G"),
            "score": Resources("4", "32G"),
            "ingest": Resources("1", "4G"),
            "features": Resources("1", "4G"),
        },
    ),
    (
        "large",
        10_000_000,
        {
            "train": Resources("16", "64G"),
            "validate": Resources("16", "64G"),  # refits the recipe out of time
            "evaluate": Resources("8", "32G"),
            "score_shard": Resources("4", "16G"),
            "score": Resources("8", "64G"),
            "ingest": Resources("2", "8G"),
            "features": Resources("2", "8G"),
        },
    ),
    (
        "xlarge",
        50_000_000,
        {
            "train": Resources("32", "128G"),
            "validate": Resources("32", "128G"),  # refits the recipe out of time
            "evaluate": Resources("16", "64G"),
            "score_shard": Resources("4", "16G"),
            "score": Resources("16", "128G"),
            "ingest": Resources("2", "8G"),
            "features": Resources("2", "8G"),
        },
    ),
)


def sizing_for(customers: int) -> Sizing:
    """The tier that holds a book of `customers`; above the largest, the largest (the docs say to measure)."""
    if customers < 1:
        raise ValueError(f"a book has at least one customer, got {customers}")
    tier, _, heavy = next((t for t in TIERS if customers <= t[1]), TIERS[-1])
    return Sizing(tier, customers, {c: heavy.get(c, _LIGHT) for c in COMPONENTS})


DEFAULT = sizing_for(20_000)  # the embedded demo's book
_active: ContextVar[Sizing | None] = ContextVar("sizing", default=None)


@contextmanager
def sized_for(customers: int) -> Iterator[Sizing]:
    """Compile the pipelines inside this block to ask for the resources of a book of `customers`."""
    token = _active.set(sizing_for(customers))
    try:
        yield sizing_for(customers)
    finally:
        _active.reset(token)


def sized(task: Any, component: str) -> Any:
    """The task with its CPU and memory requests and limits for the active sizing."""
    r = (_active.get() or DEFAULT).resources[component]
    return task.set_cpu_request(r.cpu).set_cpu_limit(r.cpu).set_memory_request(r.memory).set_memory_limit(r.memory)

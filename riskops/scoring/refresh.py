"""How a running process (the service, the stream worker) picks up what is published while it runs: a new
champion, a newer scoring run and its policy. A bad published artifact never stops it: the process keeps what
it loaded last, counts the failure (`riskops_refresh_failures_total{what}`, alert RiskopsRefreshFailing), keeps
the reason and since when (the service's /readyz shows them), and tries again at the next poll, so the next
good artifact is picked up."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from prometheus_client import Counter

log = logging.getLogger(__name__)
T = TypeVar("T")

REFRESH_FAILURES = Counter(
    "riskops_refresh_failures_total",
    "Polls that could not load a published artifact (champion, run, policy, challenger); the last good one is kept",
    ["what"],
)


@dataclass
class Failure:
    reason: str
    since: datetime
    attempts: int


class Refreshes:
    """The refresh failures of one process, by what failed, until that thing loads again."""

    def __init__(self) -> None:
        self.failing: dict[str, Failure] = {}

    def ok(self, what: str) -> None:
        if self.failing.pop(what, None) is not None:
            log.info("%s refreshed again", what)

    def failed(self, what: str, reason: str) -> None:
        REFRESH_FAILURES.labels(what).inc()
        before = self.failing.get(what)
        since = before.since if before else datetime.now(UTC)
        self.failing[what] = Failure(reason[:500], since, (before.attempts if before else 0) + 1)

    def attempt(self, what: str, fn: Callable[[], T], keeping: str) -> T | None:
        """`fn()`, or None when it raised: logged with what is kept instead, and counted."""
        try:
            result = fn()
        except Exception as e:  # any failure: a store outage, a truncated write, a policy that does not validate
            log.exception("%s not refreshed; %s", what, keeping)
            self.failed(what, f"{type(e).__name__}: {e}")
            return None
        self.ok(what)
        return result

    def report(self) -> dict[str, dict[str, Any]]:
        """What is failing, why, since when and how many polls in a row (for /readyz)."""
        return {
            what: {"error": f.reason, "since": f.since.isoformat(timespec="seconds"), "attempts": f.attempts}
            for what, f in sorted(self.failing.items())
        }


def refresh_champion(holder: Any, refreshes: Refreshes) -> bool:
    """Load the champion if it changed (`ModelHolder.refresh`); a pointer that cannot be read or a model that
    does not load is a failure of `champion`, and the serving model stays. True when swapped."""
    before = holder.load_failures
    try:
        swapped = bool(holder.refresh())
    except Exception as e:  # the pointer could not be read: a store outage, a truncated write
        log.exception("champion not refreshed; still serving %s", holder.current and holder.current.version)
        refreshes.failed("champion", f"{type(e).__name__}: {e}")
        return False
    if holder.load_failures > before:
        refreshes.failed("champion", holder.last_failure)
    else:
        refreshes.ok("champion")
    return swapped


MONITORING = "monitoring"  # the outcome loop's results, `<stamp>.json` and `.md` (riskops.runs.monitor)


def latest_monitoring(store: Any) -> dict[str, Any] | None:
    """The newest monitoring result in the artifact store, if any (the service publishes what it found)."""
    keys = [k for k in store.list(MONITORING) if k.endswith(".json")]
    return json.loads(store.read_text(keys[-1])) if keys else None

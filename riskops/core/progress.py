"""Progress of long work: the two callback types every step reports through (a line, a count), and the
count's pipeline-task form."""

from __future__ import annotations

import json
from collections.abc import Callable

Say = Callable[[str], None]
"""A line of progress: what a long step is doing now, e.g. "tuning: up to 8 trials"."""

Tick = Callable[[str, int, int], None]
"""Progress of a long step: (what, done, total), e.g. ("tuning", 3, 8)."""


PROGRESS_MARK = "riskops-progress "  # a line a step prints in a pipeline task; the local runner draws a bar from it


def print_tick(what: str, done: int, total: int) -> None:
    """A `Tick` for a step in a pipeline task: one marked line on stdout, drawn as a bar by the local runner."""
    print(PROGRESS_MARK + json.dumps({"what": what, "done": done, "total": total}), flush=True)

"""Progress of long work: the one callback type every step reports through, and its pipeline-task form."""

from __future__ import annotations

import json
from collections.abc import Callable

Tick = Callable[[str, int, int], None]
"""Progress of a long step: (what, done, total), e.g. ("tuning", 3, 8)."""


PROGRESS_MARK = "riskops-progress "  # a line a step prints in a pipeline task; the local runner draws a bar from it


def print_tick(what: str, done: int, total: int) -> None:
    """A `Tick` for a step in a pipeline task: one marked line on stdout, drawn as a bar by the local runner."""
    print(PROGRESS_MARK + json.dumps({"what": what, "done": done, "total": total}), flush=True)

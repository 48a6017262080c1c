"""What a long run shows: one line per finished step (its seconds and key figure) and, in a terminal, a progress
bar per long phase (imbalance folds, tuning trials, CV folds, the final fit) with the time left, drawn with rich;
without one (CI, a log file) a line per fold, trial or fit with the elapsed time and the time left."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from riskops.runs.record import StepRecord


class StepConsole:
    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("  {task.description:<16}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.bars: dict[str, TaskID] = {}
        self.started: dict[str, float] = {}  # without a terminal: when each phase began

    def __enter__(self) -> StepConsole:
        self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.progress.stop()

    def say(self, message: str) -> None:
        self.progress.console.print(f"  {message}")

    def finished(self, record: StepRecord) -> None:
        for bar in self.bars.values():
            self.progress.remove_task(bar)
        self.bars.clear()
        self.progress.console.print(f"  {record.step:<18} {record.seconds:>7.1f}s  {record.figure}")

    def tick(self, what: str, done: int, total: int) -> None:
        if not self.progress.console.is_terminal:
            self._line(what, done, total)
            return
        if what not in self.bars:
            self.bars[what] = self.progress.add_task(what, total=total)
        self.progress.update(self.bars[what], completed=done, total=total)

    def _line(self, what: str, done: int, total: int) -> None:
        """A line per fold, trial or fit: what a bar shows, for CI and log files."""
        start = self.started.setdefault(what, time.monotonic())
        if done == 0:
            return
        elapsed = time.monotonic() - start
        left = f", ~{elapsed / done * (total - done):.0f}s left" if done < total else ""
        self.progress.console.print(f"  {what} {done}/{total} ({elapsed:.0f}s{left})")

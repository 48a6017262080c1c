"""What a long run shows on the terminal: one line per finished step (its seconds and key figure) and a
progress bar per long phase (tuning trials, CV folds), drawn with rich."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from riskops.runs.record import StepRecord


class StepConsole:
    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("  {task.description:<16}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.bars: dict[str, TaskID] = {}

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
        if what not in self.bars:
            self.bars[what] = self.progress.add_task(what, total=total)
        self.progress.update(self.bars[what], completed=done, total=total)

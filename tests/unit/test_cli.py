from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.core import TyperGroup, TyperOption
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


def _commands(group: TyperGroup, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found: list[tuple[tuple[str, ...], Any]] = []
    for name, cmd in group.commands.items():
        path = (*prefix, name)
        found.append((path, cmd))
        if isinstance(cmd, TyperGroup):
            found += _commands(cmd, path)
    return found


ALL = _commands(typer.main.get_command(app))  # type: ignore[arg-type]


def test_the_commands_a_user_needs_exist() -> None:
    names = {" ".join(p) for p, _ in ALL}
    assert {
        "generate",
        "amlsim",
        "load",
        "ingest",
        "run",
        "train",
        "evaluate",
        "features build",
        "features catalogue",
        "models list",
        "models show",
        "models promote",
        "models rollback",
        "models validate",
        "models approve",
        "models reject",
        "pipeline estimate",
        "score",
        "runs list",
        "runs compare",
        "pipeline compile",
        "pipeline run",
    } <= names


@pytest.mark.parametrize(("path", "cmd"), ALL, ids=[" ".join(p) for p, _ in ALL])
def test_every_command_and_option_has_help(path: tuple[str, ...], cmd: Any) -> None:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert cmd.help
    for param in cmd.params:
        assert getattr(param, "help", None), f"{' '.join(path)} {param.name} has no help text"
        if isinstance(param, TyperOption):
            assert param.opts[0] in result.output


def test_bad_date_is_a_clear_usage_error() -> None:
    result = runner.invoke(app, ["ingest", "--as-of", "30/06/2026"])
    assert result.exit_code == 2
    assert "use YYYY-MM-DD" in result.output


def test_without_a_terminal_each_fold_is_a_line_with_the_time_left() -> None:
    import io

    from rich.console import Console

    from cli.terminal import StepConsole

    buf = io.StringIO()
    steps = StepConsole(Console(file=buf, width=200))  # a file: no terminal
    for done in range(4):
        steps.tick("CV folds", done, 3)
    lines = buf.getvalue().splitlines()
    assert [line.split(" (")[0] for line in lines] == ["  CV folds 1/3", "  CV folds 2/3", "  CV folds 3/3"]
    assert "s left)" in lines[0] and "left" not in lines[-1]


def test_without_a_terminal_no_line_is_folded_at_80_columns(tmp_path: Any) -> None:
    """In CI or a log file (stderr not a TTY) a message stays one line however long, even with COLUMNS=80."""
    env = {"COLUMNS": "80", "NO_COLOR": "1", "RISKOPS_HOME": str(tmp_path), "RISKOPS_BOOK": "a-book-name-long-enough"}
    result = runner.invoke(app, ["runs", "compare", "20261201-000000-001", "20261202-000000-001"], env=env)
    assert result.exit_code == 2
    said = result.output.splitlines()
    sentence = "what to do: name two complete runs from `riskops runs list` (--book chooses the book)"
    assert len(sentence) > 80 and any(line.strip() == sentence for line in said), said
    assert any(len(line) > 80 for line in said)


def test_a_book_name_that_could_leave_its_folder_is_a_clear_error(tmp_path: Any) -> None:
    result = runner.invoke(app, ["--book", "../etc", "runs", "list"], env={"RISKOPS_HOME": str(tmp_path)})
    assert result.exit_code == 2 and "book name '../etc' cannot be used" in result.output

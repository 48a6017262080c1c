from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from riskops.cli import app

runner = CliRunner()
COMMANDS = ["generate", "amlsim", "load", "ingest", "run"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_and_option_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    click_cmd = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    assert click_cmd.help
    for param in click_cmd.params:
        assert getattr(param, "help", None), f"{command} {param.name} has no help text"
        assert param.opts[0] in result.output


def test_bad_date_is_a_clear_usage_error() -> None:
    result = runner.invoke(app, ["ingest", "--as-of", "30/06/2026"])
    assert result.exit_code == 2
    assert "use YYYY-MM-DD" in result.output

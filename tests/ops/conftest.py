"""Checks of the deploy code with the real tools (installed by `make ops-tools`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OPS_BIN = ROOT / ".venv-ops" / "bin"


def tool(name: str) -> str:
    """The path of a checker: the ops virtualenv first, then PATH; a clear failure when neither has it."""
    for candidate in (OPS_BIN / name, shutil.which(name)):
        if candidate and Path(candidate).exists():
            return str(candidate)
    pytest.fail(f"{name} is not installed: run `make ops-tools`")


def run(*args: str, cwd: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=timeout)

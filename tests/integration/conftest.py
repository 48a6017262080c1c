"""Real emulators on 127.0.0.1, started and stopped by the tests themselves."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from riskops.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
BQEMU = ROOT / ".venv-bqemu" / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"emulator exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"emulator did not listen on 127.0.0.1:{port} within {timeout}s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_uvicorn(
    env: dict[str, str], log: Path, cwd: Path | None = None, root_path: str = "", ready_s: float = 30
) -> tuple[subprocess.Popen[bytes], str]:
    """`uvicorn serving.main:create_app --factory` on a free loopback port with exactly `env`, once /readyz
    answers 200 (or after `ready_s`, for the tests of a service that cannot become ready)."""
    import httpx

    port = free_port()
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "serving.main:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
        )
    wait_for_port(port, proc, log)
    url = f"http://127.0.0.1:{port}{root_path}"
    deadline = time.monotonic() + ready_s
    while time.monotonic() < deadline and httpx.get(f"{url}/readyz").status_code != 200:
        time.sleep(0.1)
    return proc, url


def start_console(
    env: dict[str, str], users: dict[str, str], service_url: str, key: str, folder: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """The risk console (`uvicorn console.main:create_app --factory`) on a free loopback port over the service at
    `service_url`, with a users file of `users` (name -> role; each password is the name and "-pw")."""
    from console.users import password_hash

    listed = [{"name": n, "role": r, "password_sha256": password_hash(f"{n}-pw")} for n, r in users.items()]
    (folder / "users.yaml").write_text(json.dumps({"users": listed}))
    port = free_port()
    console_env = env | {
        "RISKOPS_CONSOLE_SERVICE_URL": service_url,
        "RISKOPS_CONSOLE_API_KEY": key,
        "RISKOPS_CONSOLE_USERS": str(folder / "users.yaml"),
        "RISKOPS_CONSOLE_SESSION_SECRET": "x" * 40,
        "RISKOPS_DUCKDB_PATH": str(folder / "nowhere" / "never-opened.duckdb"),  # the console never opens one
    }
    command = [sys.executable, "-m", "uvicorn", "console.main:create_app", "--factory", "--host", "127.0.0.1"]
    with (folder / "console.log").open("wb") as fh:
        proc = subprocess.Popen([*command, "--port", str(port)], stdout=fh, stderr=subprocess.STDOUT, env=console_env)
    wait_for_port(port, proc, folder / "console.log")
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def bigquery_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The bqemulator BigQuery emulator (REST + Storage Read gRPC) in its own virtualenv."""
    if not (BQEMU / "bqemulator").exists():
        pytest.fail("the BigQuery emulator is not installed: run `make emulators`")
    # bqemulator loads DuckDB's spatial extension; install it from the wheel (no network needed).
    subprocess.run(
        [str(BQEMU / "python"), "-c", "from duckdb_extensions import import_extension; import_extension('spatial')"],
        check=True,
    )
    rest, grpc_port = free_port(), free_port()
    log = tmp_path_factory.mktemp("bqemu") / "bqemulator.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [
                str(BQEMU / "bqemulator"),
                "start",
                "--rest-host",
                "127.0.0.1",
                "--rest-port",
                str(rest),
                "--grpc-host",
                "127.0.0.1",
                "--grpc-port",
                str(grpc_port),
                "--project",
                "local",
                "--log-level",
                "warning",
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TMPDIR": str(log.parent)},
        )
    try:
        wait_for_port(rest, proc, log)
        wait_for_port(grpc_port, proc, log)
        yield Settings(
            warehouse="bigquery",
            bq_project="local",
            bq_dataset="riskops_it",
            bq_endpoint=f"http://127.0.0.1:{rest}",
            bq_storage_endpoint=f"127.0.0.1:{grpc_port}",
        )
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def gcs_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """gcp-storage-emulator with a default bucket `riskops-it`."""
    exe = Path(sys.executable).parent / "gcp-storage-emulator"
    port = free_port()
    log = tmp_path_factory.mktemp("gcs") / "gcs.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [
                str(exe),
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--in-memory",
                "--default-bucket",
                "riskops-it",
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)

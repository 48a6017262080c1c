"""The remote path: the real kfp.Client against a local HTTP server that records what it is sent and answers
as the KFP v2beta1 API does (no KFP server runs here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration
RISKOPS = str(Path(sys.executable).parent / "riskops")


class FakeKfp(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.calls: list[tuple[str, str, Any]] = []
        self.experiments: dict[str, dict[str, str]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeKfp

    def _send(self, body: dict[str, Any], code: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.server.calls.append(("GET", self.path, None))
        url = urlparse(self.path)
        if url.path == "/apis/v2beta1/healthz":
            return self._send({"multi_user": False})
        if url.path == "/apis/v2beta1/experiments":
            wanted = json.loads(parse_qs(url.query).get("filter", ["{}"])[0] or "{}")
            names = [p.get("stringValue") for p in wanted.get("predicates", [])]
            found = [e for n, e in self.server.experiments.items() if n in names]
            return self._send({"experiments": found, "total_size": len(found)} if found else {})
        self._send({"error": "not found"}, 404)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        self.server.calls.append(("POST", urlparse(self.path).path, body))
        path = urlparse(self.path).path
        if path == "/apis/v2beta1/experiments":
            exp = {"experiment_id": f"exp-{len(self.server.experiments) + 1}", "display_name": body["display_name"]}
            self.server.experiments[body["display_name"]] = exp
            return self._send(exp)
        if path == "/apis/v2beta1/runs":
            return self._send(
                {
                    "run_id": "run-1",
                    "display_name": body["display_name"],
                    "state": "PENDING",
                    "experiment_id": body.get("experiment_id"),
                }
            )
        if path == "/apis/v2beta1/recurringruns":
            return self._send({"recurring_run_id": "rr-1", "display_name": body["display_name"], "status": "ENABLED"})
        self._send({"error": "not found"}, 404)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def kfp_api() -> Iterator[FakeKfp]:
    server = FakeKfp()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("specs")
    r = subprocess.run([RISKOPS, "pipeline", "compile", "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


def _riskops(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([RISKOPS, *args], capture_output=True, text=True, env=env, timeout=120)


def test_submit_sends_the_spec_arguments_and_experiment(kfp_api: FakeKfp, specs: Path) -> None:
    r = _riskops(
        "pipeline",
        "submit",
        "--host",
        kfp_api.url,
        "--spec",
        str(specs / "training.yaml"),
        "--arg",
        "as_of=2026-09-30",
        "--arg",
        "trials=3",
        "--experiment",
        "risk-weekly",
        "--run-name",
        "t1",
        "--no-caching",
    )
    assert r.returncode == 0, r.stderr
    assert "run run-1 submitted" in r.stdout
    posts = {path: body for method, path, body in kfp_api.calls if method == "POST"}
    assert posts["/apis/v2beta1/experiments"]["display_name"] == "risk-weekly"
    run = posts["/apis/v2beta1/runs"]
    assert run["display_name"] == "t1" and run["experiment_id"] == "exp-1"
    assert run["pipeline_spec"]["pipelineInfo"]["name"] == "riskops-training"
    assert run["runtime_config"]["parameters"] == {"as_of": "2026-09-30", "trials": 3}
    tasks = run["pipeline_spec"]["root"]["dag"]["tasks"]
    assert all(t.get("cachingOptions", {}).get("enableCache") is not True for t in tasks.values())


def test_schedule_creates_a_recurring_run(kfp_api: FakeKfp, specs: Path) -> None:
    r = _riskops(
        "pipeline",
        "schedule",
        "--host",
        kfp_api.url,
        "--spec",
        str(specs / "scoring.yaml"),
        "--cron",
        "0 0 2 * * *",
        "--arg",
        "as_of=2026-09-30",
        "--name",
        "nightly",
    )
    assert r.returncode == 0, r.stderr
    body = next(b for m, p, b in kfp_api.calls if p == "/apis/v2beta1/recurringruns")
    assert body["display_name"] == "nightly"
    assert body["trigger"]["cron_schedule"]["cron"] == "0 0 2 * * *"
    assert body["pipeline_spec"]["pipelineInfo"]["name"] == "riskops-scoring"


def test_an_unreachable_host_is_said_plainly(specs: Path) -> None:
    host = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    r = _riskops("pipeline", "submit", "--host", host, "--spec", str(specs / "training.yaml"), "--arg", "as_of=x")
    assert r.returncode == 2
    assert f"the KFP API at {host} is unreachable" in r.stderr and "what to do:" in r.stderr


def test_a_missing_spec_points_to_compile(tmp_path: Path) -> None:
    r = _riskops("pipeline", "submit", "--host", "http://127.0.0.1:9", "--spec", str(tmp_path / "none.yaml"))
    assert r.returncode == 2 and "riskops pipeline compile" in r.stderr


def test_vertex_job_carries_names_labels_parameters_root_and_caching(specs: Path) -> None:
    """No Vertex AI endpoint is reachable here: check the job the real aiplatform client builds."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import aiplatform

    from pipelines.remote import vertex_job

    aiplatform.init(project="acme-risk", location="europe-west4", credentials=AnonymousCredentials())
    job = vertex_job(
        "acme-risk",
        "europe-west4",
        specs / "training.yaml",
        {"as_of": "2026-09-30", "trials": 3},
        "gs://acme-risk-pipelines/root",
        "weekly-retrain",
        {"team": "risk", "trigger": "schedule"},
        False,
    )
    pj = job._gca_resource
    assert pj.display_name == "weekly-retrain"
    assert dict(pj.labels) == {"team": "risk", "trigger": "schedule"}
    assert pj.runtime_config.gcs_output_directory == "gs://acme-risk-pipelines/root"
    params = pj.runtime_config.parameter_values
    assert params["as_of"] == "2026-09-30" and params["trials"] == 3
    tasks = pj.pipeline_spec["root"]["dag"]["tasks"]
    assert all(t["cachingOptions"].get("enableCache") is not True for t in tasks.values())


def test_vertex_needs_project_region_and_root(specs: Path) -> None:
    r = _riskops("pipeline", "submit", "--vertex", "--spec", str(specs / "training.yaml"), "--region", "europe-west4")
    assert r.returncode == 2 and "--vertex needs --project, --pipeline-root" in r.stderr
    r = _riskops("pipeline", "submit", "--spec", str(specs / "training.yaml"))
    assert r.returncode == 2 and "pass --host URL, or --vertex" in r.stderr

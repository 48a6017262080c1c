"""The Dockerfile is hadolint-clean; the images build with buildah on a debootstrap base (images/build.sh), and
inside them a pipeline component's entrypoint (the command KFP runs, from the compiled spec) and the service
and the console run as the non-root user and do their job."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ops.conftest import ROOT, run, tool

# Building the three images from nothing takes ~5 minutes on a quiet 2-core machine and more than 10 beside a
# `make run`: the module's tests (the build is the first one's setup) get the fixture's own limit, not 600 s.
pytestmark = pytest.mark.timeout(3000)
TAG = "test"
ENV = {**os.environ, "STORAGE_DRIVER": "vfs", "BUILDAH_ISOLATION": "chroot"}


def test_hadolint_is_clean_and_bites(tmp_path: Path) -> None:
    out = run(tool("hadolint"), str(ROOT / "images" / "Dockerfile"))
    assert out.returncode == 0, out.stdout + out.stderr
    (tmp_path / "Dockerfile").write_text("FROM debian:latest\nRUN apt-get update && apt-get install curl\n")
    bad = run(tool("hadolint"), str(tmp_path / "Dockerfile"))
    assert bad.returncode != 0 and "DL3007" in bad.stdout  # 'latest' is not a pinned base


def buildah(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["buildah", *args], capture_output=True, text=True, env=ENV, timeout=timeout)


@pytest.fixture(scope="module")
def images() -> None:
    tool("buildah")
    if os.geteuid() != 0:
        pytest.fail("building images with buildah here needs root (or a configured rootless buildah)")
    out = subprocess.run(
        ["bash", str(ROOT / "images" / "build.sh"), TAG], capture_output=True, text=True, env=ENV, timeout=3000
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    print(out.stdout)  # the build times and image sizes, for the record


@pytest.fixture
def container(request: pytest.FixtureRequest) -> Iterator[str]:
    name = buildah("from", f"localhost/riskops-{request.param}:{TAG}").stdout.strip()
    assert name, f"could not start a container from riskops-{request.param}"
    yield name
    buildah("rm", name)


def _executor(spec: Path, component: str) -> list[str]:
    executor = yaml.safe_load(spec.read_text())["deploymentSpec"]["executors"][f"exec-{component}"]["container"]
    return [*executor["command"], *executor["args"]]


@pytest.mark.parametrize("container", ["pipeline"], indirect=True)
def test_a_pipeline_component_runs_in_its_image(images: None, container: str, tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    out = run(
        str(ROOT / ".venv" / "bin" / "riskops"),
        "pipeline",
        "compile",
        "--out",
        str(specs),
        "--image",
        f"localhost/riskops-pipeline:{TAG}",
    )
    assert out.returncode == 0, out.stderr
    command = _executor(specs / "training.yaml", "ingest")
    executor_input = {
        "inputs": {
            "parameterValues": {
                "config": {
                    "warehouse": "duckdb",
                    "artifact_root": "/tmp/run",
                    "duckdb_path": "/tmp/run/warehouse.duckdb",
                },
                "cohort": "labelled",
                "as_of": "2026-09-30",
                "run_id": "",
                "dataset_dir": "/tmp/data",
                "mapping": {"categorical": ["kyc_level"]},
            }
        },
        "outputs": {
            "artifacts": {
                "report": {
                    "artifacts": [
                        {
                            "name": "report",
                            "type": {"schemaTitle": "system.Markdown"},
                            "uri": "/tmp/out/report",
                            "metadata": {},
                        }
                    ]
                },
                "metrics": {
                    "artifacts": [
                        {
                            "name": "metrics",
                            "type": {"schemaTitle": "system.Metrics"},
                            "uri": "/tmp/out/metrics",
                            "metadata": {},
                        }
                    ]
                },
            },
            "parameters": {"table": {"outputFile": "/tmp/out/table"}, "run_id": {"outputFile": "/tmp/out/run_id"}},
            "outputFile": "/tmp/out/executor_output.json",
        },
    }
    args = [json.dumps(executor_input) if a == "{{$}}" else a for a in command]
    script = (
        "set -e; id -u; mkdir -p /tmp/out /tmp/run; export RISKOPS_HOME=/tmp/run; "
        "riskops generate --out /tmp/data --customers 400 --seed 3 >/dev/null; "
        + " ".join(shlex.quote(a) for a in args)
        + '; printf "\\nEXECUTOR_OUTPUT "; cat /tmp/out/executor_output.json; echo; find /tmp/out -type f'
    )
    result = buildah("run", container, "--", "sh", "-c", script, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "10001"  # the image's non-root user
    output = json.loads(next(x for x in lines if x.startswith("EXECUTOR_OUTPUT ")).split(" ", 1)[1])
    assert output["parameterValues"]["table"] == "labelled_customers", output
    assert re.fullmatch(r"\d{8}-\d{6}-\d{3}", output["parameterValues"]["run_id"]), output  # the run id it made
    assert any("report" in x for x in lines), result.stdout[-2000:]  # the Markdown artifact was written


def _trained_store(root: Path) -> tuple[Path, str, dict[str, Any]]:
    """A small registry with a champion, and one customer's scoring request, made on the host."""
    from datetime import date, datetime

    from riskops.data.ingest import ingest_cohort
    from riskops.data.sources import load_dataset
    from riskops.data.synth import generate
    from riskops.io.artifacts import LocalStore
    from riskops.io.warehouse.duckdb import DuckDBWarehouse
    from riskops.model.config import CostMatrix, TrainConfig
    from riskops.runs.candidate import train_and_register

    as_of = date(2026, 9, 30)
    generate(root / "data", customers=1500, seed=4)
    store = LocalStore(root / "store")
    with DuckDBWarehouse(root / "w.duckdb") as wh:
        load_dataset(wh, root / "data")
        ingest_cohort(wh, "labelled", as_of, store, "v/labelled")
        fast = TrainConfig(folds=3, trials=0, max_iterations=60, baselines=False, imbalance="none")
        card, _ = train_and_register(wh, store, as_of, fast, CostMatrix())
        cust = wh.read_table("labelled_customers").to_pylist()[0]
        txs = wh.query(f"SELECT * FROM main.labelled_transactions WHERE customer_id = '{cust['customer_id']}'")
    iso = lambda v: v.isoformat() if isinstance(v, datetime) else v  # noqa: E731
    body = {
        "customer": {
            "customer_id": cust["customer_id"],
            "signup_ts": iso(cust["signup_ts"]),
            "attributes": {k: v for k, v in cust.items() if k not in ("customer_id", "signup_ts")},
        },
        "transactions": [{k: iso(v) for k, v in t.items() if k != "customer_id"} for t in txs.to_pylist()],
        "as_of": "2026-09-30T23:59:59+00:00",
    }
    return root / "store", card.version, body


@pytest.mark.parametrize("container", ["serving"], indirect=True)
def test_the_service_scores_in_its_image(images: None, container: str, tmp_path: Path) -> None:
    store, version, body = _trained_store(tmp_path)
    (tmp_path / "body.json").write_text(json.dumps(body))
    for src, dest in ((store, "/var/lib/riskops/store"), (tmp_path / "body.json", "/var/lib/riskops/body.json")):
        copied = buildah("copy", "--chown", "10001:10001", container, str(src), dest)
        assert copied.returncode == 0, copied.stderr
    probe = (
        "import json, sys, urllib.request as u\n"
        "req = u.Request('http://127.0.0.1:18765/v1/score', data=open('body.json', 'rb').read(),\n"
        "                headers={'Content-Type': 'application/json'})\n"
        "print('SCORED', u.urlopen(req).read().decode())\n"
        "try:\n"  # review decisions need the warehouse: BigQuery in production; this image has no DuckDB
        "    u.urlopen(u.Request('http://127.0.0.1:18765/v1/review/decisions', headers={'X-Riskops-Staff': 'a'}))\n"
        "except u.HTTPError as e:\n"
        "    print('REVIEW', e.code, json.loads(e.read())['detail'])\n"
    )
    script = (
        "id -u; RISKOPS_ARTIFACT_ROOT=/var/lib/riskops/store uvicorn serving.main:create_app --factory "
        "--host 127.0.0.1 --port 18765 --no-access-log 2>/tmp/log & pid=$!; "
        'for i in $(seq 240); do python3 -c "import urllib.request as u; '
        "print(u.urlopen('http://127.0.0.1:18765/readyz').read().decode())\" 2>/dev/null && break; sleep 0.5; done; "
        f"python3 -c {shlex.quote(probe)}; kill $pid; wait $pid; grep -c '\"level\"' /tmp/log"
    )
    result = buildah("run", container, "--", "sh", "-c", script, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "10001"  # the image's non-root user
    ready = json.loads(lines[1])
    assert (ready["status"], ready["model_version"], ready["refresh_failing"]) == ("ready", version, {})
    scored = json.loads(next(x for x in lines if x.startswith("SCORED ")).split(" ", 1)[1])
    assert (
        scored["model_version"] == version
        and 0 <= scored["score"] <= 1
        and scored["segment"] in ("Low", "Medium", "High")
    )
    review = next(x for x in lines if x.startswith("REVIEW "))
    assert review.startswith("REVIEW 503") and "RISKOPS_WAREHOUSE=bigquery" in review, review
    assert int(lines[-1]) > 0  # JSON log lines


@pytest.mark.parametrize("container", ["console"], indirect=True)
def test_the_console_serves_its_pages_in_its_image(images: None, container: str) -> None:
    copied = buildah(
        "copy",
        "--chown",
        "10001:10001",
        container,
        str(ROOT / "configs" / "console-users.yaml"),
        "/var/lib/riskops/users.yaml",
    )
    assert copied.returncode == 0, copied.stderr
    probe = (
        "import urllib.request as u\n"
        "page = u.urlopen('http://127.0.0.1:18766/signin').read().decode()\n"
        "js = u.urlopen('http://127.0.0.1:18766/vendor/plotly.min.js').read()\n"
        "print('SIGNIN', 'name=\"password\"' in page, len(js) > 1_000_000)\n"
    )
    script = (
        "id -u; RISKOPS_CONSOLE_USERS=/var/lib/riskops/users.yaml uvicorn console.main:create_app --factory "
        "--host 127.0.0.1 --port 18766 --no-access-log 2>/tmp/log & pid=$!; "
        'for i in $(seq 120); do python3 -c "import urllib.request as u; '
        "print(u.urlopen('http://127.0.0.1:18766/healthz').read().decode())\" 2>/dev/null && break; sleep 0.5; done; "
        f"python3 -c {shlex.quote(probe)}; kill $pid; wait $pid; "
        "python3 -c 'import matplotlib' 2>/dev/null && echo MATPLOTLIB || echo NO-MATPLOTLIB; "
        "python3 -c 'import duckdb' 2>/dev/null && echo DUCKDB || echo NO-DUCKDB"
    )
    result = buildah("run", container, "--", "sh", "-c", script, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "10001" and json.loads(lines[1]) == {"status": "ok"}
    assert "SIGNIN True True" in lines and lines[-2:] == ["NO-MATPLOTLIB", "NO-DUCKDB"]  # reads only the service


def test_images_are_recorded_with_their_sizes(images: None) -> None:
    listing = buildah("images", "--format", "{{.Name}}:{{.Tag}} {{.Size}}").stdout
    for name in ("pipeline", "serving", "console"):
        line = next(x for x in listing.splitlines() if f"riskops-{name}:{TAG}" in x)
        size = re.search(r"([\d.]+) (MB|GB)", line)
        assert size, line
        mb = float(size.group(1)) * (1000 if size.group(2) == "GB" else 1)
        assert mb < 2500, f"{name} image is {mb} MB"

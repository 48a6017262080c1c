"""Compile the pipelines to YAML specs with their configuration, and run the compiled specs locally with
kfp.local in production shape: every task its own process, in its own empty working directory with its own
HOME and no inherited environment, so the spec is all that configures a step.

The tasks' output (KFP's executor logs) goes to a log file in the run folder; the console gets one line per
finished step and progress bars from the marked lines steps print (riskops.runs.record).
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kfp import compiler, components, local
from kfp.local import subprocess_task_handler

from pipelines.sizing import sized_for
from riskops.core.errors import RiskOpsError
from riskops.core.progress import PROGRESS_MARK, Tick
from riskops.runs.record import STEP_MARK, Finished, StepRecord


def compile_all(out: Path, config: dict[str, Any], customers: int = 20_000) -> dict[str, Path]:
    """training.yaml, scoring.yaml and monitoring.yaml under `out`, with `config` (a StepConfig's fields) as the
    default of their `config` parameter (what every step of a run on KFP or Vertex reads its warehouse and store
    from), each task's CPU and memory sized for a book of `customers`, and the scoring fan-out's default shards."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    with sized_for(customers) as sizing:
        for name, fn in _defined().items():
            path = out / f"{name}.yaml"
            defaults = {"config": config} | ({"shards": sizing.shards} if name == "scoring" else {})
            compiler.Compiler().compile(fn, str(path), pipeline_parameters=defaults)
            paths[name] = path
    return paths


def _defined() -> dict[str, Any]:
    """The three pipelines defined again under the active sizing: KFP builds a pipeline's tasks (and their
    resources) when its function is decorated, i.e. when its module is imported. Training first: monitoring
    nests it."""
    import importlib

    import pipelines.monitoring
    import pipelines.scoring
    import pipelines.training

    modules = [importlib.reload(m) for m in (pipelines.training, pipelines.scoring, pipelines.monitoring)]
    return {
        "training": modules[0].training_pipeline,
        "scoring": modules[1].scoring_pipeline,
        "monitoring": modules[2].monitoring_pipeline,
    }


def spec_config(spec: Path) -> dict[str, Any]:
    """The `config` a compiled spec carries (its parameter's default)."""
    import yaml

    doc = yaml.safe_load(spec.read_text())
    return dict(doc["root"]["inputDefinitions"]["parameters"]["config"].get("defaultValue") or {})


class TaskOutput(io.TextIOBase):
    """Stands in for stdout during a local run: every line to the log file; a step's record line becomes one
    console line, a progress line a bar; the last lines are kept to show when a task fails."""

    def __init__(self, log: io.TextIOBase, finished: Finished, tick: Tick | None) -> None:
        self.log, self.finished, self.tick = log, finished, tick
        self.tail: collections.deque[str] = collections.deque(maxlen=25)
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self.log.write(s)
        self._partial += s
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self._line(line)
        return len(s)

    def _line(self, line: str) -> None:
        line = line.strip()  # kfp.local indents a task's lines
        if line:
            self.tail.append(line)
        if line.startswith(STEP_MARK):
            self.finished(StepRecord.model_validate_json(line[len(STEP_MARK) :]))
        elif line.startswith(PROGRESS_MARK) and self.tick:
            p = json.loads(line[len(PROGRESS_MARK) :])
            self.tick(str(p["what"]), int(p["done"]), int(p["total"]))

    def flush(self) -> None:
        self.log.flush()


def _isolated(full_command: list[str], env_vars: dict[str, str] | None = None) -> int:
    """kfp.local's task launcher, isolated: a new empty folder as working directory, HOME and TMPDIR, and an
    environment of PATH only (plus what the spec sets), removed when the task ends."""
    task_dir = tempfile.mkdtemp(prefix="riskops-task-")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": task_dir, "TMPDIR": task_dir, "LANG": "C.UTF-8"}
    try:
        with subprocess.Popen(
            full_command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            cwd=task_dir,
            env={**env, **(env_vars or {})},
        ) as proc:
            assert proc.stdout is not None
            for line in iter(proc.stdout.readline, ""):
                print(line, end="")
            return proc.wait()
    finally:
        shutil.rmtree(task_dir, ignore_errors=True)


@contextlib.contextmanager
def _local_run(out: TaskOutput) -> Iterator[None]:
    """While kfp.local runs: tasks launched isolated, and its output, logs and warnings into `out`."""
    original = subprocess_task_handler.run_local_subprocess
    subprocess_task_handler.run_local_subprocess = _isolated
    root = logging.getLogger()
    handlers, root.handlers = root.handlers, [logging.StreamHandler(out)]
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(out):
            # The Python check of the base image: our image is a Python one under its own name.
            warnings.filterwarnings("ignore", "You may be attemping", RuntimeWarning)
            # A spec's CPU and memory requests are for Kubernetes and Vertex; locally they have no effect.
            warnings.filterwarnings("ignore", r"Task '.*': settings \[.*\] have no effect in the current local runner")
            yield
    finally:
        subprocess_task_handler.run_local_subprocess = original
        root.handlers = handlers


def run_specs(
    specs: dict[str, Path],
    run_dir: Path,
    arguments: dict[str, dict[str, Any]],
    finished: Finished,
    tick: Tick | None = None,
) -> dict[str, Any]:
    """Run the compiled training then scoring specs with kfp.local, one run id through both; returns the run
    id and the report's URI. `arguments` holds each pipeline's arguments beside `config` (which the specs carry)."""
    log_path = run_dir / "pipeline.log"
    run_dir.mkdir(parents=True, exist_ok=True)
    training = components.load_component_from_file(str(specs["training"]))
    scoring = components.load_component_from_file(str(specs["scoring"]))
    local.init(
        runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(run_dir / "pipeline-root"), raise_on_error=True
    )
    with log_path.open("w", buffering=1) as log:  # line-buffered: tail -f shows a running task
        out = TaskOutput(log, finished, tick)
        try:
            with _local_run(out):
                run_id = str(training(**arguments["training"]).output)
                report = str(scoring(**arguments["scoring"], run_id=run_id).output)
        except RuntimeError as e:
            message = re.sub(r"\x1b\[[0-9;]*m", "", str(e))  # kfp.local colours its messages
            raise RiskOpsError(
                f"a pipeline task failed: {message}\n" + "\n".join(f"    | {line}" for line in out.tail),
                f"task log {log_path}",
                "read the step's error above; the full executor output is in the log",
            ) from None
    return {"run_id": run_id, "report": report}


def run_local(
    settings: Any,
    dataset_dir: Path,
    as_of: str,
    params: Any,
    finished: Finished,
    tick: Tick | None = None,
    mapping: Any = None,
) -> tuple[Any, str]:
    """`riskops pipeline run`: compile both pipelines with this machine's settings into a new run folder, run
    the compiled specs on `dataset_dir`, and return the run's record and closing summary."""
    from riskops.core.config import StepConfig
    from riskops.core.identity import new_run_id
    from riskops.io.artifacts import open_store
    from riskops.runs.job import failures_recorded
    from riskops.runs.record import read_record
    from riskops.runs.report import run_summary

    run_id = new_run_id()
    run_dir = settings.home / run_id
    config = StepConfig.from_settings(settings, settings.duckdb_path or run_dir / "warehouse.duckdb")
    specs = compile_all(run_dir / "specs", config.model_dump())
    data = {
        "as_of": as_of,
        "dataset_dir": str(dataset_dir),
        "mapping": mapping.parameter() if mapping else {},
    }
    training = {**data, "run_id": run_id, **params.training()}
    scoring = {**data, **params.scoring()}
    store = open_store(config.artifact_root, config.gcs_endpoint or None)
    with failures_recorded(store, run_id, "pipeline"):
        run_specs(specs, run_dir, {"training": training, "scoring": scoring}, finished, tick)
    record = read_record(store, run_id)
    return record, run_summary(store, record)

"""Compile the pipelines to YAML specs and run them locally with kfp.local (subprocesses, no venv per task)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kfp import compiler, local

from pipelines.scoring import scoring_pipeline
from pipelines.training import training_pipeline

PIPELINES = {"training": training_pipeline, "scoring": scoring_pipeline}


def compile_all(out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, fn in PIPELINES.items():
        path = out / f"{name}.yaml"
        compiler.Compiler().compile(fn, str(path))
        paths[name] = path
    return paths


def run_local(home: Path, dataset_dir: Path, as_of: str, training: dict[str, Any]) -> dict[str, Any]:
    """Run training then scoring in this environment, in a new run folder under `home` with its own DuckDB
    file; `training` holds the training pipeline's tuning/seed/margin arguments. Returns each output."""
    from riskops.runinfo import new_run_id

    run_dir = home / f"pipeline-{new_run_id()}"
    run_dir.mkdir(parents=True, exist_ok=True)
    common = {"as_of": as_of, "duckdb_path": str(run_dir / "warehouse.duckdb"), "dataset_dir": str(dataset_dir)}
    root = run_dir / "pipeline-root"
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=True)
    trained = training_pipeline(**common, **training)
    scored = scoring_pipeline(**common)
    return {"model_version": trained.output, "report": scored.output}

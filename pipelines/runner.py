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


def run_local(pipeline_root: Path, training: dict[str, Any], scoring: dict[str, Any]) -> dict[str, Any]:
    """Run training then scoring in this environment; returns each pipeline's output."""
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(pipeline_root), raise_on_error=True)
    trained = training_pipeline(**training)
    scored = scoring_pipeline(**scoring)
    return {"model_version": trained.output, "report": scored.output}

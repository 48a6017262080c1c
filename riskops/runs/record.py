"""Run identity and record: ids, code version, the steps a run took and its run.json."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from riskops.io.artifacts import ArtifactStore

# -- the run record ------------------------------------------------------------------------------------------------
# Each step of a run (in-process `riskops run` or a KFP task in its own pod) writes what it did to
# `<run>/steps/<step>.json` in the artifact store; the last step assembles `<run>/run.json` from them. Both flows
# go through the same steps, so they write the same record.

Finished = Callable[["StepRecord"], None]
"""Told each step's record as the step finishes (one console line per step)."""


class StepRecord(BaseModel):
    step: str
    seconds: float
    finished: str = Field(default_factory=lambda: datetime.now(UTC).isoformat())
    figure: str = Field(description="the step's key figure in a few words, shown as it finishes")
    parameters: dict[str, Any] = Field(default_factory=dict, description="the run parameters this step used")
    detail: dict[str, Any] = Field(default_factory=dict)


class RunRecord(BaseModel):
    """One run's record, `<run>/run.json`: data snapshot, code version, parameters, metrics and model together."""

    run_id: str
    created: str
    flow: str = Field(description="job (riskops run), pipeline (KFP), training (no scoring) or rescore")
    code_version: str
    as_of: str
    data: str = Field(description="where the cohorts came from: a dataset folder, or the warehouse's raw tables")
    parameters: dict[str, Any]
    snapshots: dict[str, Any] = Field(default_factory=dict)
    validation: dict[str, str] = Field(default_factory=dict, description="validation report per cohort")
    timings_s: dict[str, float]
    steps: list[StepRecord]
    model_version: str | None = Field(default=None, description="the model that scored this run")
    model_metrics: dict[str, float] = Field(default_factory=dict)
    trained: str | None = Field(default=None, description="the candidate this run trained, if it trained one")
    gate: dict[str, Any] | None = Field(default=None, description="this run's gate decision, if it trained")
    scoring: dict[str, Any] | None = None
    policy: dict[str, Any] | None = Field(default=None, description="the off-boarding policy the scoring used")
    rescores: str | None = Field(default=None, description="the run whose cohort this run re-scored (riskops score)")
    published: bool = Field(default=True, description="the service serves its scores (a re-scoring may not)")
    report: str = ""


def step_key(run_id: str, step: str) -> str:
    return f"{run_id}/steps/{step}.json"


def write_step(store: ArtifactStore, run_id: str, record: StepRecord) -> None:
    store.write_text(step_key(run_id, record.step), record.model_dump_json(indent=2))


def read_steps(store: ArtifactStore, run_id: str) -> list[StepRecord]:
    """The steps a run has recorded so far, in the order they finished."""
    records = [
        StepRecord.model_validate_json(store.read_text(k)) for k in store.list(f"{run_id}/steps") if k.endswith(".json")
    ]
    return sorted(records, key=lambda r: r.finished)


def run_that_trained(store: ArtifactStore, version: str) -> str | None:
    """The run whose train step made `version` (None: trained outside a run, e.g. `riskops train`)."""
    for key in store.list():
        if key.endswith("/steps/train.json") and key.count("/") == 2:
            record = StepRecord.model_validate_json(store.read_text(key))
            if record.detail.get("version") == version:
                return key.split("/")[0]
    return None


def write_record(store: ArtifactStore, record: RunRecord) -> str:
    return store.write_text(f"{record.run_id}/run.json", record.model_dump_json(indent=2))


def read_record(store: ArtifactStore, run_id: str) -> RunRecord:
    """A run's record through the store, so it reads the same from a folder and from gs://."""
    return RunRecord.model_validate_json(store.read_text(f"{run_id}/run.json"))


FAILED = "failed.json"  # <run>/failed.json: why a run stopped before its record


def record_failure(store: ArtifactStore, run_id: str, flow: str, error: BaseException) -> None:
    """A run that stopped: its error beside the steps it finished, so `runs list` shows it as failed."""
    what = str(getattr(error, "what", "") or error).splitlines()[0] if str(error) else type(error).__name__
    said = {"run_id": run_id, "flow": flow, "failed": datetime.now(UTC).isoformat(), "error": what}
    said["said"] = str(error)  # with where and what to do, for a RiskOpsError
    store.write_text(f"{run_id}/{FAILED}", json.dumps(said, indent=2))


STEP_MARK = "riskops-step "  # a pipeline task's last line: its StepRecord, shown by the local runner


def print_step(record: StepRecord) -> None:
    print(STEP_MARK + record.model_dump_json(), flush=True)

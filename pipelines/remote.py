"""Submit compiled pipeline specs to a KFP API (kfp.Client) and create recurring runs."""

from __future__ import annotations

import contextlib
import json
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from riskops.core.errors import RiskOpsError


def _client(host: str) -> Any:
    import kfp

    return kfp.Client(host=host)


def _unreachable(host: str, e: BaseException) -> RiskOpsError:
    return RiskOpsError(
        f"the KFP API at {host} is unreachable ({type(e).__name__}: {str(e)[:200]})",
        f"--host {host}",
        "check the URL (e.g. http://ml-pipeline-ui.kubeflow, or a port-forward to 127.0.0.1:8080) and that you can "
        "reach it",
    )


@contextlib.contextmanager
def _reaching(host: str) -> Iterator[None]:
    try:
        yield
    except (OSError, urllib.error.URLError) as e:
        raise _unreachable(host, e) from e
    except Exception as e:  # the generated API client wraps connection failures in its own types
        if "Max retries exceeded" in str(e) or "Connection refused" in str(e):
            raise _unreachable(host, e) from e
        raise


def _check_spec(spec: Path) -> None:
    if not spec.exists():
        raise RiskOpsError(f"pipeline spec {spec} does not exist", str(spec), "run `riskops pipeline compile` first")


def submit(
    host: str, spec: Path, arguments: dict[str, Any], experiment: str, run_name: str, enable_caching: bool
) -> str:
    """Start one run of `spec`; returns the run id."""
    _check_spec(spec)
    with _reaching(host):
        result = _client(host).create_run_from_pipeline_package(
            str(spec),
            arguments=arguments,
            run_name=run_name,
            experiment_name=experiment,
            enable_caching=enable_caching,
        )
    return str(result.run_id)


def schedule(
    host: str, spec: Path, arguments: dict[str, Any], experiment: str, name: str, cron: str, enable_caching: bool
) -> str:
    """Create a recurring run (cron with seconds, e.g. '0 0 2 * * *' nightly); returns its id."""
    _check_spec(spec)
    with _reaching(host):
        client = _client(host)
        exp = client.create_experiment(experiment)
        rr = client.create_recurring_run(
            experiment_id=exp.experiment_id,
            job_name=name,
            cron_expression=cron,
            pipeline_package_path=str(spec),
            params=arguments,
            enable_caching=enable_caching,
        )
    return str(rr.recurring_run_id)


def parse_arguments(pairs: list[str]) -> dict[str, Any]:
    """KEY=VALUE pairs -> pipeline arguments (values parsed as JSON when they are JSON, else strings)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise RiskOpsError(f"argument {pair!r} is not KEY=VALUE", "--arg", "write e.g. --arg as_of=2026-09-30")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


@dataclass(frozen=True)
class VertexTarget:
    project: str
    region: str
    pipeline_root: str
    labels: dict[str, str]
    service_account: str = ""  # the identity the run's steps act as (least privilege); default: Vertex's own

    def check(self) -> None:
        missing = [
            o
            for o, v in (
                ("--project", self.project),
                ("--region", self.region),
                ("--pipeline-root", self.pipeline_root),
            )
            if not v
        ]
        if missing:
            raise RiskOpsError(f"--vertex needs {', '.join(missing)}", "pipeline submit", "pass them")
        if not self.pipeline_root.startswith("gs://"):
            raise RiskOpsError(
                "--pipeline-root must be a gs:// folder", self.pipeline_root, "e.g. gs://bucket/pipelines"
            )


def submit_to(
    spec: Path,
    arguments: dict[str, Any],
    experiment: str,
    run_name: str,
    enable_caching: bool,
    host: str = "",
    vertex: VertexTarget | None = None,
) -> tuple[str, str]:
    """Submit to Vertex AI when `vertex` is given, else to the KFP API at `host`: (run id, where)."""
    if vertex is not None:
        vertex.check()
        job = vertex_job(
            vertex.project,
            vertex.region,
            spec,
            arguments,
            vertex.pipeline_root,
            run_name,
            vertex.labels,
            enable_caching,
        )
        return submit_vertex(
            job, experiment, vertex.service_account or None
        ), f"Vertex AI ({vertex.project}/{vertex.region})"
    if not host:
        raise RiskOpsError("no target given", "pipeline submit", "pass --host URL, or --vertex --project --region")
    return submit(host, spec, arguments, experiment, run_name, enable_caching), host


def vertex_job(
    project: str,
    region: str,
    spec: Path,
    arguments: dict[str, Any],
    pipeline_root: str,
    run_name: str,
    labels: dict[str, str],
    enable_caching: bool,
) -> Any:
    """The Vertex AI PipelineJob for a compiled spec (built, not yet submitted)."""
    from google.cloud import aiplatform

    _check_spec(spec)
    return aiplatform.PipelineJob(
        display_name=run_name,
        template_path=str(spec),
        pipeline_root=pipeline_root,
        parameter_values=arguments,
        enable_caching=enable_caching,
        labels=labels,
        project=project,
        location=region,
    )


def submit_vertex(job: Any, experiment: str, service_account: str | None = None) -> str:
    """Submit a built PipelineJob to Vertex AI Pipelines under `experiment`; returns its resource name."""
    from google.api_core import exceptions as gexc

    try:
        job.submit(service_account=service_account, experiment=experiment or None)
    except gexc.GoogleAPICallError as e:
        raise RiskOpsError(
            f"Vertex AI refused the pipeline job: {e}", job.display_name, "check project, region and IAM"
        ) from e
    return str(job.resource_name)

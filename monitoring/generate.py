"""Generate `k8s/base/rules.yaml` from `monitoring/alerts.yml` and `monitoring/dashboards/*.json` from code.

python -m monitoring           write them
python -m monitoring --check   exit 1 when a committed file differs from what the code generates
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.builders.dashboard import Dashboard, DatasourceVariable, Row
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "monitoring" / "alerts.yml"
RULES_MANIFEST = ROOT / "k8s" / "base" / "rules.yaml"
DASHBOARDS = ROOT / "monitoring" / "dashboards"
DS = DataSourceRef(type_val="prometheus", uid="${datasource}")


def rules_manifest() -> str:
    """The alert groups as a Managed Prometheus `Rules` object (the operator-less twin of a PrometheusRule)."""
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    doc = {
        "apiVersion": "monitoring.googleapis.com/v1",
        "kind": "Rules",
        "metadata": {"name": "riskops-serving"},
        "spec": {"groups": groups},
    }
    header = "# Generated from monitoring/alerts.yml by `python -m monitoring`; do not edit by hand.\n"
    return header + yaml.dump(doc, Dumper=_BlockDumper, sort_keys=False, width=120)


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (the PromQL) as `|` blocks, as they are written in alerts.yml."""


_BlockDumper.add_representer(
    str,
    lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v, style="|" if "\n" in v else None),
)


def _query(expr: str, legend: str = "") -> prometheus.Dataquery:
    q = prometheus.Dataquery().expr(expr).datasource(DS)
    return q.legend_format(legend) if legend else q


def _series(title: str, unit: str, *queries: prometheus.Dataquery, width: int = 12) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).unit(unit).datasource(DS).span(width).height(8)
    for i, q in enumerate(queries):
        panel = panel.with_target(q.ref_id(chr(ord("A") + i)))
    return panel


def _stat(title: str, unit: str, query: prometheus.Dataquery, width: int = 6) -> stat.Panel:
    return stat.Panel().title(title).unit(unit).datasource(DS).span(width).height(4).with_target(query.ref_id("A"))


def _dashboard(uid: str, title: str) -> Dashboard:
    return (
        Dashboard(title)
        .uid(uid)
        .tags(["riskops", "generated"])
        .refresh("30s")
        .time("now-6h", "now")
        .with_variable(DatasourceVariable("datasource").label("Data source").type("prometheus"))
    )


def _share(expr: str, by: str) -> str:
    """`expr` per `by` as a share of its total."""
    return f"sum by ({by}) ({expr}) / ignoring({by}) group_left sum({expr})"


RATE = "[$__rate_interval]"


def service_dashboard() -> Dashboard:
    route = 'route=~"/v1/.*"'
    return (
        _dashboard("riskops-service", "riskops / service")
        .with_row(Row("Traffic and errors"))
        .with_panel(
            _series(
                "Requests per second by route",
                "reqps",
                _query(f"sum by (route) (rate(riskops_requests_total{{{route}}}[$__rate_interval]))", "{{route}}"),
            )
        )
        .with_panel(
            _series(
                "Errors (share of requests)",
                "percentunit",
                _query(
                    f'sum by (status) (rate(riskops_requests_total{{status=~"4xx|5xx"}}{RATE}))'
                    f" / ignoring(status) group_left sum(rate(riskops_requests_total{RATE}))",
                    "{{status}}",
                ),
            )
        )
        .with_row(Row("Latency and load"))
        .with_panel(
            _series(
                "Latency percentiles, /v1/score",
                "s",
                *[
                    _query(
                        f"histogram_quantile({q}, sum by (le) (rate(riskops_request_seconds_bucket"
                        f'{{route="/v1/score"}}[$__rate_interval])))',
                        f"p{int(q * 100)}",
                    )
                    for q in (0.5, 0.9, 0.99)
                ],
            )
        )
        .with_panel(
            _series(
                "In-flight requests and replicas",
                "short",
                _query("sum(riskops_requests_in_flight)", "in flight"),
                _query('count(up{job=~".*riskops-serving.*"} == 1)', "replicas serving"),
            )
        )
    )


def model_dashboard() -> Dashboard:
    return (
        _dashboard("riskops-model", "riskops / model")
        .with_row(Row("Serving model"))
        .with_panel(_stat("Model version", "none", _query("max by (version) (riskops_model_info)", "{{version}}")))
        .with_panel(_stat("Holdout ROC-AUC", "none", _query('riskops_model_metric{metric="roc_auc"}')))
        .with_panel(_stat("Holdout PR-AUC", "none", _query('riskops_model_metric{metric="pr_auc"}')))
        .with_panel(
            _stat(
                "Model load failures (24h)",
                "none",
                _query('sum(increase(riskops_model_loads_total{result="failure"}[24h]))'),
            )
        )
        .with_panel(
            _series(
                "Refresh failures by what (a published artifact that did not load; the last good one is kept)",
                "short",
                _query("sum by (what) (increase(riskops_refresh_failures_total[$__rate_interval]))", "{{what}}"),
            )
        )
        .with_row(Row("Scores and decisions"))
        .with_panel(
            _series(
                "Score distribution (share of scores below each bound)",
                "percentunit",
                _query(
                    "sum by (le) (rate(riskops_score_bucket[$__rate_interval]))"
                    " / ignoring(le) group_left sum(rate(riskops_score_count[$__rate_interval]))",
                    "< {{le}}",
                ),
            )
        )
        .with_panel(
            _series(
                "Segment mix served",
                "percentunit",
                _query(_share(f"rate(riskops_decisions_total{RATE})", "segment"), "{{segment}}"),
            )
        )
        .with_panel(
            _series(
                "Drift: High share served / High share in the model's holdout",
                "none",
                _query(
                    '(sum(rate(riskops_decisions_total{segment="High"}[1h]))'
                    " / sum(rate(riskops_decisions_total[1h])))"
                    ' / on() max(riskops_model_reference_share{segment="High"})',
                    "ratio",
                ),
            )
        )
        .with_panel(
            _series(
                "Off-boarding decisions per second",
                "reqps",
                _query('sum(rate(riskops_decisions_total{offboard="true"}[$__rate_interval]))', "off-board"),
            )
        )
        .with_row(Row("Online drift (each pod's last 5,000 scores)"))
        .with_panel(
            _series("Score PSI against the model's holdout", "none", _query("riskops_score_window_psi", "{{pod}}"))
        )
        .with_panel(
            _series(
                "Segment mix of the window",
                "percentunit",
                _query("avg by (segment) (riskops_score_window_share)", "{{segment}}"),
                _query('max(riskops_model_reference_share{segment="High"})', "holdout High share"),
            )
        )
    )


def pipeline_dashboard() -> Dashboard:
    return (
        _dashboard("riskops-pipeline", "riskops / pipeline")
        .with_row(Row("Latest published scoring run"))
        .with_panel(_stat("Age of the last run", "s", _query("time() - riskops_scoring_run_timestamp_seconds")))
        .with_panel(_stat("Run duration", "s", _query("riskops_scoring_run_duration_seconds")))
        .with_panel(_stat("Customers off-boarded", "none", _query("riskops_scoring_run_offboarded")))
        .with_panel(_stat("Customers scored", "none", _query("sum(riskops_scoring_run_customers)")))
        .with_panel(
            _series("Customers by segment, per run", "short", _query("riskops_scoring_run_customers", "{{segment}}"))
        )
        .with_panel(_series("Champion holdout metrics", "none", _query("riskops_model_metric", "{{metric}}")))
        .with_panel(
            _series(
                "Prediction-log records dropped",
                "short",
                _query("sum(increase(riskops_prediction_log_dropped_total[$__rate_interval]))", "dropped"),
            )
        )
    )


def _quantile(q: float, metric: str) -> str:
    return f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket{RATE})))"


def stream_dashboard() -> Dashboard:
    latency = "riskops_stream_latency_seconds"
    return (
        _dashboard("riskops-stream", "riskops / stream")
        .with_row(Row("Events"))
        .with_panel(
            _series(
                "Events per second, by what became of them",
                "short",
                _query(f"sum by (kind, result) (rate(riskops_stream_events_total{RATE}))", "{{kind}} {{result}}"),
            )
        )
        .with_panel(
            _series(
                "Publication to written result",
                "s",
                _query(_quantile(0.5, latency), "p50"),
                _query(_quantile(0.99, latency), "p99"),
            )
        )
        .with_row(Row("Worker"))
        .with_panel(_stat("Oldest event in a batch", "s", _query("max(riskops_stream_oldest_event_age_seconds)")))
        .with_panel(
            _stat("Failed batches (1h)", "none", _query("sum(increase(riskops_stream_failed_batches_total[1h]))"))
        )
        .with_panel(
            _stat(
                "Dead letters (1h)",
                "none",
                _query('sum(increase(riskops_stream_events_total{result="dead_letter"}[1h]))'),
            )
        )
        .with_panel(_stat("Labelled samples appended", "none", _query("sum(riskops_stream_labels_appended)")))
        .with_panel(
            _series("Micro-batch time p99", "s", _query(_quantile(0.99, "riskops_stream_batch_seconds"), "p99"))
        )
        .with_panel(
            _series("Model version scoring the stream", "none", _query("riskops_stream_model_info", "{{version}}"))
        )
    )


def dashboards() -> dict[str, str]:
    """File name -> the dashboard's JSON, as Grafana imports it."""
    out = {}
    for build in (service_dashboard, model_dashboard, pipeline_dashboard, stream_dashboard):
        board = build().build()
        out[f"{board.uid}.json"] = json.dumps(board, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
    return out


def expected_files() -> dict[Path, str]:
    return {RULES_MANIFEST: rules_manifest()} | {DASHBOARDS / name: text for name, text in dashboards().items()}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    expected = expected_files()
    stale = [p for p, text in expected.items() if not p.exists() or p.read_text() != text]
    if "--check" in argv:
        if stale:
            print("out of date (run `python -m monitoring`): " + ", ".join(str(p.relative_to(ROOT)) for p in stale))
            raise SystemExit(1)
        return
    for path, text in expected.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"wrote {len(expected)} files ({len(stale)} changed)")


def load_dashboard(path: Path) -> Any:
    """A committed dashboard read back into the SDK's typed model: fails on anything Grafana's schema lacks."""
    from grafana_foundation_sdk.models.dashboard import Dashboard as DashboardModel

    return DashboardModel.from_json(json.loads(path.read_text()))

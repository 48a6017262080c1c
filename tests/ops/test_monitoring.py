"""The alert rules pass promtool's own unit tests (each alert: a case that fires and one that does not), the
generated Rules object and dashboards are in sync with their sources, and the dashboards read back into
Grafana's typed schema and only query metrics that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from monitoring.generate import DASHBOARDS, dashboards, expected_files, load_dashboard
from tests.ops.conftest import ROOT, run, tool

MONITORING = ROOT / "monitoring"


def test_rules_and_scrape_config_pass_promtool() -> None:
    assert run(tool("promtool"), "check", "config", str(MONITORING / "prometheus.yml")).returncode == 0
    out = run(tool("promtool"), "test", "rules", "alerts_test.yml", cwd=MONITORING)
    assert out.returncode == 0 and "SUCCESS" in out.stdout, out.stdout + out.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    alerts = {r["alert"] for g in yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"] for r in g["rules"]}
    cases = [
        c
        for t in yaml.safe_load((MONITORING / "alerts_test.yml").read_text())["tests"]
        for c in t.get("alert_rule_test", [])
    ]
    fires = {c["alertname"] for c in cases if c["exp_alerts"]}
    quiet = {c["alertname"] for c in cases if not c["exp_alerts"]}
    assert alerts == fires == quiet, (alerts - fires, alerts - quiet)
    doc = (ROOT / "docs" / "operations.md").read_text().lower()
    assert all(f"### {a.lower()}" in doc for a in alerts), "every alert needs a runbook in docs/operations.md"


def test_promtool_catches_a_wrong_expectation(tmp_path: Path) -> None:
    """The rule tests can fail: the same error-rate case expecting silence is reported."""
    tests = yaml.safe_load((MONITORING / "alerts_test.yml").read_text())
    first = tests["tests"][0]
    first["alert_rule_test"][0]["exp_alerts"] = []
    tests["tests"] = [first]
    tests["rule_files"] = [str(MONITORING / "alerts.yml")]
    (tmp_path / "t.yml").write_text(yaml.safe_dump(tests))
    out = run(tool("promtool"), "test", "rules", "t.yml", cwd=tmp_path)
    assert out.returncode != 0 and "RiskopsHighErrorRate" in out.stdout + out.stderr


def test_generated_files_are_in_sync() -> None:
    stale = [str(p.relative_to(ROOT)) for p, text in expected_files().items() if p.read_text() != text]
    assert stale == [], "run `make monitoring`"


def test_dashboards_fit_grafanas_schema_and_query_real_metrics() -> None:
    from prometheus_client.metrics import MetricWrapperBase

    from riskops.scoring import refresh
    from serving import metrics
    from streaming import worker as stream

    served = {
        m.describe()[0].name
        for mod in (metrics, stream, refresh)
        for m in vars(mod).values()
        if isinstance(m, MetricWrapperBase)
    }
    assert "riskops_requests" in served  # counters are described without _total
    for name in dashboards():
        board = load_dashboard(DASHBOARDS / name)
        assert board.uid == name.removesuffix(".json") and board.panels
        text = (DASHBOARDS / name).read_text()
        used = {re.sub(r"_(bucket|count|sum|total)$", "", m) for m in re.findall(r"\b(riskops_\w+)\b", text)}
        assert used and used <= served, used - served
        for panel in json.loads(text)["panels"]:
            if panel["type"] != "row":
                assert panel["targets"] and all(t["expr"] and t["refId"] for t in panel["targets"]), panel["title"]


def test_alerts_only_use_served_or_cluster_metrics() -> None:
    from prometheus_client.metrics import MetricWrapperBase

    from riskops.scoring import refresh
    from serving import metrics
    from streaming import worker as stream

    served = {
        m.describe()[0].name
        for mod in (metrics, stream, refresh)
        for m in vars(mod).values()
        if isinstance(m, MetricWrapperBase)
    }
    text = (MONITORING / "alerts.yml").read_text()
    used = {re.sub(r"_(bucket|count|sum|total)$", "", m) for m in re.findall(r"\b(riskops_\w+)\b", text)}
    assert used <= served, used - served

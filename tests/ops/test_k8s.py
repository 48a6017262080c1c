"""Every overlay renders with kustomize, passes `kubernetes-validate --strict`, its custom resources match their
schemas, and the production essentials are in place (probes, limits, non-root, rollout, autoscaling)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.ops.conftest import ROOT, run, tool

OVERLAYS = ["dev", "prod"]
KUBERNETES = "1.31"  # GKE's regular channel at the time of writing
CUSTOM = {
    ("monitoring.googleapis.com/v1", "PodMonitoring"),
    ("monitoring.googleapis.com/v1", "Rules"),
    ("cloud.google.com/v1", "BackendConfig"),
}


def render(overlay: str) -> list[dict[str, Any]]:
    out = run(tool("kubectl"), "kustomize", str(ROOT / "k8s" / "overlays" / overlay))
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[Any], Path]:
    docs = render(request.param)
    path = tmp_path_factory.mktemp("k8s") / f"{request.param}.yaml"
    path.write_text(yaml.safe_dump_all([d for d in docs if (d["apiVersion"], d["kind"]) not in CUSTOM]))
    return request.param, docs, path


def one(docs: list[dict[str, Any]], kind: str, name: str = "riskops-serving") -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and (kind in ("Namespace", "Rules") or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"{len(found)} {kind} {name}"
    return found[0]


def test_builtin_kinds_pass_strict_schema_validation(rendered: tuple[str, list[Any], Path]) -> None:
    _, docs, path = rendered
    out = run(tool("kubernetes-validate"), "--strict", "--quiet", "-k", KUBERNETES, str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert {d["kind"] for d in docs} >= {
        "Namespace",
        "ServiceAccount",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }


def test_custom_resources_match_their_schemas(rendered: tuple[str, list[Any], Path]) -> None:
    _, docs, _ = rendered
    checked = 0
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CUSTOM:
            schema = json.loads((ROOT / "k8s" / "schemas" / f"{doc['kind'].lower()}.json").read_text())
            jsonschema.validate(doc, schema)
            checked += 1
    assert checked == 4  # the service's and the stream worker's PodMonitoring, the rules, the console's IAP
    broken = dict(one(docs, "Rules"), spec={"groups": [{"name": "x", "rules": []}]})  # no interval
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, json.loads((ROOT / "k8s" / "schemas" / "rules.json").read_text()))


def test_the_deployment_is_production_shaped(rendered: tuple[str, list[Any], Path]) -> None:
    name, docs, _ = rendered
    dep = one(docs, "Deployment")
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert {"requests", "limits"} <= set(c["resources"]) and "memory" in c["resources"]["limits"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz" and c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["startupProbe"]["httpGet"]["path"] == "/readyz"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["readOnlyRootFilesystem"] is True and c["securityContext"]["capabilities"]["drop"] == [
        "ALL"
    ]
    assert c["lifecycle"]["preStop"]["sleep"]["seconds"] < pod["terminationGracePeriodSeconds"]
    assert {t["topologyKey"] for t in pod["topologySpreadConstraints"]} == {
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    }
    assert "PROJECT_ID" not in yaml.safe_dump_all(docs), "an overlay left the base's placeholder in place"
    sa = one(docs, "ServiceAccount")
    assert sa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"].startswith("riskops-serving@riskops-")
    env = {e["name"]: e for e in c["env"]}
    assert (
        env["RISKOPS_ENVIRONMENT"]["value"] == "production"
        and "secretKeyRef" in env["RISKOPS_API_KEY_HASHES"]["valueFrom"]
    )
    hpa = one(docs, "HorizontalPodAutoscaler")
    kinds = [m["type"] for m in hpa["spec"]["metrics"]]
    assert kinds == (["Resource", "Pods"] if name == "prod" else ["Resource"])
    assert hpa["spec"]["minReplicas"] >= (3 if name == "prod" else 1)
    assert one(docs, "Namespace")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_stream_worker_scales_on_its_backlog_and_runs_locked_down(rendered: tuple[str, list[Any], Path]) -> None:
    name, docs, _ = rendered
    dep = one(docs, "Deployment", "riskops-stream")
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["args"][:3] == ["riskops", "stream", "work"] and c["image"].endswith(("pipeline:latest", "pipeline:dev"))
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["RISKOPS_WAREHOUSE"] == "bigquery" and env["RISKOPS_PUBSUB_PROJECT"] == f"riskops-{name}"
    assert pod["securityContext"]["runAsNonRoot"] is True and c["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["serviceAccountName"] == "riskops-stream"
    sa = one(docs, "ServiceAccount", "riskops-stream")
    assert (
        sa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
        == f"riskops-stream@riskops-{name}.iam.gserviceaccount.com"
    )
    (metric,) = one(docs, "HorizontalPodAutoscaler", "riskops-stream")["spec"]["metrics"]
    assert metric["type"] == "External"
    assert metric["external"]["metric"]["name"] == "pubsub.googleapis.com|subscription|num_undelivered_messages"
    assert (
        metric["external"]["metric"]["selector"]["matchLabels"]["resource.labels.subscription_id"]
        == env["RISKOPS_STREAM_SUBSCRIPTION"]
    )
    service = one(docs, "Service")
    assert service["spec"]["selector"]["app.kubernetes.io/name"] == "riskops-serving"  # never the worker's pods


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector's meaning (matchLabels and the In operator, which is all k8s/ uses)."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        assert e["operator"] == "In", e
        if labels.get(e["key"]) not in e["values"]:
            return False
    return True


def pod_labels(docs: list[dict[str, Any]], name: str) -> dict[str, str]:
    labels: dict[str, str] = one(docs, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
    return labels


def test_the_console_runs_behind_iap_and_reaches_only_the_service(rendered: tuple[str, list[Any], Path]) -> None:
    _, docs, _ = rendered
    dep = one(docs, "Deployment", "riskops-console")
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["image"].endswith(("console:latest", "console:dev"))
    env = {e["name"]: e for e in c["env"]}
    assert env["RISKOPS_CONSOLE_IDENTITY"]["value"] == "iap" and env["RISKOPS_ENVIRONMENT"]["value"] == "production"
    assert env["RISKOPS_CONSOLE_IAP_AUDIENCE"]["valueFrom"]["configMapKeyRef"]["key"] == "audience"
    assert env["RISKOPS_CONSOLE_SERVICE_URL"]["value"] == "http://" + one(docs, "Service")["metadata"]["name"]
    assert {"secretKeyRef"} == set(env["RISKOPS_CONSOLE_SESSION_SECRET"]["valueFrom"])
    assert not {"RISKOPS_WAREHOUSE", "RISKOPS_BQ_PROJECT"} & set(env)  # decisions go through the service
    serving_env = {
        e["name"]: e
        for e in one(docs, "Deployment", "riskops-serving")["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert serving_env["RISKOPS_REVIEWER_KEY_HASHES"]["valueFrom"]["secretKeyRef"]["key"] == "reviewer-hashes"
    assert pod["securityContext"]["runAsNonRoot"] is True and c["securityContext"]["readOnlyRootFilesystem"] is True
    users = next(v for v in pod["volumes"] if v["name"] == "users")["configMap"]["name"]
    assert users.startswith("riskops-console-users-")  # generated: a new users file rolls the pods
    service = one(docs, "Service", "riskops-console")
    backend = json.loads(service["metadata"]["annotations"]["cloud.google.com/backend-config"])["default"]
    assert one(docs, "BackendConfig", backend)["spec"]["iap"]["enabled"] is True
    # Every pod is chosen by its own policies only, and the console's reads of the service are let in.
    console, serving, stream = (pod_labels(docs, f"riskops-{n}") for n in ("console", "serving", "stream"))
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    chosen = {
        n: {p["metadata"]["name"] for p in policies if selects(p["spec"]["podSelector"], labels)}
        for n, labels in (("console", console), ("serving", serving), ("stream", stream))
    }
    assert chosen == {
        "console": {"riskops-console"},
        "serving": {"riskops-serving", "riskops-serving-from-console"},
        "stream": {"riskops-stream"},
    }
    sources = [
        f["podSelector"]
        for p in policies
        if p["metadata"]["name"] in chosen["serving"]
        for rule in p["spec"]["ingress"]
        for f in rule["from"]
        if "podSelector" in f
    ]
    assert any(selects(s, console) for s in sources) and not any(selects(s, stream) for s in sources)

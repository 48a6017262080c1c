"""The scoring service as a real uvicorn process on 127.0.0.1: auth, validation, parity with batch scoring,
metrics, model swap under load, and a broken model refused."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from riskops.core.errors import ArtifactError
from riskops.data.contract import as_of_cutoff
from riskops.io.artifacts import LocalStore
from riskops.io.warehouse.duckdb import DuckDBWarehouse
from riskops.model.config import CostMatrix, TrainConfig
from riskops.model.registry import CHAMPION, Registry
from riskops.runs.candidate import train_and_register
from riskops.scoring.book import build_book, publish_book
from riskops.scoring.offboard import publish_scores, score_cohort
from tests.integration.conftest import free_port, start_uvicorn, stop, wait_for_port

pytestmark = pytest.mark.integration
KEY = "s3cret-key"  # the console's: it may also record review decisions
SCORING_KEY = "a-scoring-clients-key"
RUN = "20990101-000000-000"
AS_OF = date(2026, 9, 30)
FAST = TrainConfig(folds=3, trials=0, max_iterations=60, baselines=False, imbalance="none", seed=1)


@pytest.fixture(scope="module")
def service(ingested: DuckDBWarehouse, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("svc")
    store = LocalStore(root / "store")
    card, _ = train_and_register(ingested, store, AS_OF, FAST, CostMatrix())
    published = score_cohort(ingested, store, AS_OF, "unlabelled")
    book, meta = build_book(ingested, store, "unlabelled", published, RUN)
    publish_book(store, RUN, book, meta)  # the console's routes, fuzzed with the rest
    publish_scores(store, RUN, published)  # the latest scoring run, for the lookup
    env = {
        "RISKOPS_ARTIFACT_ROOT": str(root / "store"),
        "RISKOPS_MODEL_POLL_S": "0.3",
        "RISKOPS_HOME": str(root / "home"),
        "RISKOPS_API_KEY_HASHES": ",".join(hashlib.sha256(k.encode()).hexdigest() for k in (KEY, SCORING_KEY)),
        "RISKOPS_REVIEWER_KEY_HASHES": hashlib.sha256(KEY.encode()).hexdigest(),
    }
    log = root / "uvicorn.log"
    proc, url = _start_service(env, log)
    try:
        yield {
            "url": url,
            "store": store,
            "version": card.version,
            "log": log,
            "home": root / "home",
            "pid": proc.pid,
            "published": published.scores.set_index("customer_id"),
            "result": published,
        }
    finally:
        stop(proc)


def _start_service(
    env: dict[str, str], log: Path, root_path: str = "", ready_s: float = 10
) -> tuple[subprocess.Popen[bytes], str]:
    """The service with this environment and the test key (also the console's key), once it reports ready."""
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    env = {**os.environ, "RISKOPS_API_KEY_HASHES": digest, "RISKOPS_REVIEWER_KEY_HASHES": digest} | env
    return start_uvicorn(env, log, root_path=root_path, ready_s=ready_s)


def _payload(ingested: DuckDBWarehouse, customer_id: str) -> dict[str, Any]:
    c = next(r for r in ingested.read_table("unlabelled_customers").to_pylist() if r["customer_id"] == customer_id)
    txs = ingested.query(f"SELECT * FROM main.unlabelled_transactions WHERE customer_id = '{customer_id}'").to_pylist()
    attrs = {k: v for k, v in c.items() if k not in ("customer_id", "signup_ts")}
    return {
        "customer": {"customer_id": customer_id, "signup_ts": c["signup_ts"].isoformat(), "attributes": attrs},
        "transactions": [
            {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in t.items() if k != "customer_id"}
            for t in txs
        ],
        "as_of": (as_of_cutoff(AS_OF) - timedelta(microseconds=0)).isoformat(),
    }


def test_health_ready_and_model(service: dict[str, Any]) -> None:
    url = service["url"]
    assert httpx.get(f"{url}/healthz").json() == {"status": "alive"}
    assert httpx.get(f"{url}/readyz").json()["model_version"] == service["version"]
    info = httpx.get(f"{url}/v1/model", headers={"X-API-Key": KEY}).json()
    assert info["version"] == service["version"] and 0 < info["threshold"] < 1


def test_auth(service: dict[str, Any], ingested: DuckDBWarehouse) -> None:
    url, body = service["url"], _payload(ingested, "U0")
    assert httpx.post(f"{url}/v1/score", json=body).status_code == 401
    assert httpx.post(f"{url}/v1/score", json=body, headers={"X-API-Key": "wrong"}).status_code == 403
    ok = httpx.post(f"{url}/v1/score", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert ok.status_code == 200
    bare = httpx.post(f"{url}/v1/score", json=body, headers={"Authorization": KEY})  # no scheme (finding 8)
    assert bare.status_code == 401 and "Bearer <key>" in bare.json()["detail"]
    assert httpx.get(f"{url}/metrics").status_code == 200  # probes and scrapers stay open


def test_service_score_equals_batch_score(service: dict[str, Any], ingested: DuckDBWarehouse) -> None:
    batch = score_cohort(ingested, service["store"], AS_OF, "unlabelled").scores.set_index("customer_id")
    for cid in list(batch.index[:15]) + list(batch.sort_values("score").index[-5:]):
        r = httpx.post(f"{service['url']}/v1/score", json=_payload(ingested, cid), headers={"X-API-Key": KEY})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["score"] == pytest.approx(batch.loc[cid, "score"], abs=1e-9)
        assert body["segment"] == batch.loc[cid, "segment"] and body["offboard"] == bool(batch.loc[cid, "offboard"])
        assert body["model_version"] == service["version"] and body["request_id"]
        if body["segment"] != "Low":
            assert body["reasons"] and "(typical customer: " in body["reasons"][0]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda b: b["transactions"][0].update(amount=-1), ["body", "transactions", 0, "amount"]),
        (lambda b: b["transactions"][0].update(direction="sideways"), ["body", "transactions", 0, "direction"]),
        (lambda b: b["transactions"][0].update(currency="euro"), ["body", "transactions", 0, "currency"]),
        (lambda b: b["transactions"][0].update(ts="yesterday"), ["body", "transactions", 0, "ts"]),
        (lambda b: b["transactions"][0].update(surprise=1), ["body", "transactions", 0, "surprise"]),
        (lambda b: b["customer"].update(customer_id=""), ["body", "customer", "customer_id"]),
        (lambda b: b.pop("customer"), ["body", "customer"]),
        (lambda b: b.update(transactions=b["transactions"][:1] * 2001), ["body", "transactions"]),
        # one online contract with batch ingest: ISO times only, as_of not in the future, signup before it
        (lambda b: b["customer"].update(signup_ts=1700000000), ["body", "customer", "signup_ts"]),
        (lambda b: b.update(as_of="2999-01-01T00:00:00Z"), ["body", "as_of"]),
        (lambda b: b.update(as_of="2020-01-01T00:00:00Z"), ["body", "customer", "signup_ts"]),
        (lambda b: (b.pop("as_of"), b["customer"].update(signup_ts="2999-01-01")), ["body", "customer", "signup_ts"]),
        (lambda b: b["transactions"][0].update(ts="2999-01-01T00:00:00Z"), ["body", "transactions", 0, "ts"]),
    ],
)
def test_every_validation_error_is_a_422_naming_the_field(
    service: dict[str, Any], ingested: DuckDBWarehouse, change: Any, where: list[Any]
) -> None:
    body = _payload(ingested, "U1")
    change(body)
    r = httpx.post(f"{service['url']}/v1/score", json=body, headers={"X-API-Key": KEY})
    assert r.status_code == 422
    assert any(e["loc"][: len(where)] == where for e in r.json()["detail"]), r.json()


def test_an_attribute_that_overflows_to_infinity_is_a_422(service: dict[str, Any], ingested: DuckDBWarehouse) -> None:
    """`1e400` parses to infinity; it is refused naming the attribute instead of being scored (finding 8)."""
    body = _payload(ingested, "U1")
    body["customer"]["attributes"]["age"] = 1.5
    raw = json.dumps(body).replace('"age": 1.5', '"age": 1e400')
    assert "1e400" in raw
    r = httpx.post(
        f"{service['url']}/v1/score",
        content=raw,
        timeout=10,
        headers={"X-API-Key": KEY, "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert any(e["loc"][:4] == ["body", "customer", "attributes", "age"] for e in r.json()["detail"]), r.json()


def test_malformed_json_is_a_422_and_an_oversized_body_a_413(service: dict[str, Any]) -> None:
    headers = {"X-API-Key": KEY, "Content-Type": "application/json"}
    for junk in (b"{not json", b"\xed\xc0^u"):  # the second is not even UTF-8
        r = httpx.post(f"{service['url']}/v1/score", content=junk, headers=headers)
        assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"
    huge = httpx.post(f"{service['url']}/v1/score/batch", content=b" " * (33 * 1024 * 1024), headers=headers)
    assert huge.status_code == 413 and "over the limit" in huge.text


def test_metrics_count_requests_and_decisions(service: dict[str, Any]) -> None:
    text = httpx.get(f"{service['url']}/metrics").text
    assert 'riskops_requests_total{route="/v1/score",status="2xx"}' in text
    assert 'riskops_requests_total{route="/v1/score",status="4xx"}' in text
    assert "riskops_score_bucket" in text and "riskops_decisions_total" in text
    assert 'riskops_model_loads_total{result="success"}' in text


def test_customer_lookup_from_the_last_scoring_run(service: dict[str, Any]) -> None:
    published = service["published"]
    cid = published.sort_values("score").index[-1]
    r = httpx.get(f"{service['url']}/v1/customers/{cid}/risk", headers={"X-API-Key": KEY})
    assert r.status_code == 200
    body = r.json()
    assert body["score"] == pytest.approx(published.loc[cid, "score"]) and body["run_id"] == "20990101-000000-000"
    assert body["model_version"] == service["version"]
    assert body["segment"] == published.loc[cid, "segment"]
    if body["offboard"]:
        assert body["reasons"]
    missing = httpx.get(f"{service['url']}/v1/customers/nobody/risk", headers={"X-API-Key": KEY})
    assert missing.status_code == 404 and "not in scoring run" in missing.json()["detail"]


def test_review_decisions_are_recorded_only_for_the_console_in_the_staff_members_name(service: dict[str, Any]) -> None:
    """The review routes: a scoring client's key is refused, the staff member must be named, the rules' refusals
    are 409s with the fix, and what was shown is the service's own book (the body cannot carry a score)."""
    url, published = service["url"], service["published"]
    listed = published[published["offboard"]].sort_values("score").index[-1]
    kept = published[~published["offboard"]].index[0]
    path = f"{url}/v1/review/customers/{listed}/decisions"
    body = {"run_id": RUN, "action": "offboard", "comment": "pass-through pattern"}

    def staff(name: str, role: str, key: str = KEY) -> dict[str, str]:
        return {"X-API-Key": key, "X-Riskops-Staff": name, "X-Riskops-Staff-Role": role}

    assert httpx.post(path, json=body, headers=staff("rita", "reviewer", SCORING_KEY)).status_code == 403
    assert httpx.get(f"{url}/v1/review/decisions", headers={"X-API-Key": SCORING_KEY}).status_code == 403
    assert httpx.post(path, json=body, headers={"X-API-Key": KEY}).status_code == 422  # nobody named
    assert httpx.post(path, json=body | {"score": 0.01}, headers=staff("rita", "reviewer")).status_code == 422
    stale = httpx.post(path, json=body | {"run_id": "20980101-000000-000"}, headers=staff("rita", "reviewer"))
    assert stale.status_code == 409 and "reload" in stale.json()["fix"]
    viewer = httpx.post(path, json=body, headers=staff("vera", "viewer"))
    assert viewer.status_code == 409 and "viewer" in viewer.json()["detail"]
    unlisted = httpx.post(f"{url}/v1/review/customers/{kept}/decisions", json=body, headers=staff("rita", "reviewer"))
    assert unlisted.status_code == 409 and "not on run" in unlisted.json()["detail"]
    assert (
        httpx.post(
            f"{url}/v1/review/customers/nobody/decisions", json=body, headers=staff("rita", "reviewer")
        ).status_code
        == 404
    )

    decided = httpx.post(path, json=body, headers=staff("Jos%C3%A9", "reviewer"))
    assert decided.status_code == 201, decided.text
    row = decided.json()
    assert row["user"] == "José" and row["score"] == pytest.approx(published.loc[listed, "score"])
    own = httpx.post(path, json=body | {"action": "confirm"}, headers=staff("Jos%C3%A9", "approver"))
    assert own.status_code == 409 and "four eyes" in own.json()["detail"]
    assert httpx.post(path, json=body | {"action": "confirm"}, headers=staff("alex", "approver")).status_code == 201
    again = httpx.post(path, json=body | {"action": "keep"}, headers=staff("rita", "reviewer"))
    assert again.status_code == 409 and "already off-boarded" in again.json()["detail"]
    read = httpx.get(
        f"{url}/v1/review/decisions", params={"run_id": RUN, "customer_id": listed}, headers={"X-API-Key": KEY}
    ).json()["decisions"]
    assert [(d["action"], d["user"]) for d in read] == [("offboard", "José"), ("confirm", "alex")]


def test_batch_scores_precomputed_features(service: dict[str, Any], ingested: DuckDBWarehouse) -> None:
    from riskops.features.engineering import read_features

    frame = read_features(ingested, "unlabelled").head(200)
    info = Registry(service["store"]).card(service["version"])
    cols: dict[str, list[Any]] = {}
    for c in info.features:
        values = frame[c] if c in info.categorical else pd.to_numeric(frame[c], errors="coerce").astype(float)
        cols[c] = [None if isinstance(v, float) and v != v else v for v in values.tolist()]
    body = {"customer_id": frame["customer_id"].tolist(), "features": cols}
    r = httpx.post(f"{service['url']}/v1/score/batch", json=body, headers={"X-API-Key": KEY})
    assert r.status_code == 200, r.text
    out = r.json()
    published = service["published"]
    for cid, score, segment in zip(out["customer_id"], out["score"], out["segment"], strict=True):
        assert score == pytest.approx(published.loc[cid, "score"], abs=1e-9)
        assert segment == published.loc[cid, "segment"]
    short = {"customer_id": ["a", "b"], "features": {"x": [1.0]}}
    bad = httpx.post(f"{service['url']}/v1/score/batch", json=short, headers={"X-API-Key": KEY})
    assert bad.status_code == 422 and "one value per customer_id" in bad.text
    body["features"].pop(info.features[0])
    missing = httpx.post(f"{service['url']}/v1/score/batch", json=body, headers={"X-API-Key": KEY})
    assert missing.status_code == 422 and info.features[0] in missing.text


def test_predictions_are_logged_without_the_customer_id(service: dict[str, Any], ingested: DuckDBWarehouse) -> None:
    import json

    r = httpx.post(f"{service['url']}/v1/score", json=_payload(ingested, "U5"), headers={"X-API-Key": KEY})
    request_id = r.json()["request_id"]
    deadline = time.monotonic() + 5
    lines: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        lines = [
            json.loads(x) for p in service["home"].glob("predictions/*/*.jsonl") for x in p.read_text().splitlines()
        ]
        if any(x["request_id"] == request_id for x in lines):
            break
        time.sleep(0.1)
    entry = next(x for x in lines if x["request_id"] == request_id)
    assert entry["model_version"] == r.json()["model_version"] and entry["score"] == r.json()["score"]
    assert "customer_id" not in entry and len(entry["customer_key"]) == 20 and entry["latency_ms"] > 0


def test_swap_under_load_then_a_broken_model_is_refused(
    service: dict[str, Any], ingested: DuckDBWarehouse, tmp_path: Path
) -> None:
    url, store = service["url"], service["store"]
    body = _payload(ingested, "U2")
    seen: Counter[str] = Counter()
    failures: list[int] = []
    stop_flag = threading.Event()

    def load_loop() -> None:
        with httpx.Client(headers={"X-API-Key": KEY}) as client:
            deadline = time.monotonic() + 60
            while not stop_flag.is_set() and time.monotonic() < deadline:
                r = client.post(f"{url}/v1/score", json=body)
                if r.status_code != 200:
                    failures.append(r.status_code)
                else:
                    seen[r.json()["model_version"]] += 1

    thread = threading.Thread(target=load_loop)
    thread.start()
    try:
        card2, _ = train_and_register(ingested, store, AS_OF, FAST.model_copy(update={"seed": 2}), margin=-1.0)
        deadline = time.monotonic() + 20
        while seen[card2.version] < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop_flag.set()
        thread.join()
    assert failures == []
    assert seen[service["version"]] > 0 and seen[card2.version] > 0  # both versions served, no error

    # A champion whose model file is corrupt is refused; the running model keeps serving.
    registry = Registry(store)
    card3, _ = train_and_register(ingested, store, AS_OF, FAST.model_copy(update={"seed": 3}), promote=False)
    store.write_bytes(f"models/{card3.version}/model.cbm", b"not a model")
    with pytest.raises(ArtifactError, match="does not load"):  # the registry refuses it...
        registry.set_champion(card3.version, "broken on purpose")
    # ...so the pointer is written by hand, as a careless operator could: the service still refuses it.
    pointer = json.loads(store.read_text(CHAMPION))
    store.write_text(CHAMPION, json.dumps({**pointer, "version": card3.version}))
    time.sleep(1.5)
    info = httpx.get(f"{url}/v1/model", headers={"X-API-Key": KEY}).json()
    assert info["version"] == card2.version
    assert 'riskops_model_loads_total{result="failure"}' in httpx.get(f"{url}/metrics").text
    assert httpx.post(f"{url}/v1/score", json=body, headers={"X-API-Key": KEY}).status_code == 200
    # The gate of a later training names the damaged champion instead of crashing on it.
    _, decision = train_and_register(ingested, store, AS_OF, FAST.model_copy(update={"seed": 4}))
    assert not decision.promote and "cannot be loaded" in decision.reason
    registry.set_champion(card2.version, "repair after the broken-champion test")  # later tests need a sound one


def test_logs_are_json_lines_carrying_the_request_id(service: dict[str, Any], ingested: DuckDBWarehouse) -> None:
    import json

    mine = "trace-abc.123"
    r = httpx.post(
        f"{service['url']}/v1/score", json=_payload(ingested, "U2"), headers={"X-API-Key": KEY, "X-Request-ID": mine}
    )
    assert r.headers["x-request-id"] == mine and r.json()["request_id"] == mine
    odd = httpx.get(f"{service['url']}/v1/model", headers={"X-API-Key": KEY, "X-Request-ID": "no spaces allowed"})
    assert odd.headers["x-request-id"] != "no spaces allowed" and len(odd.headers["x-request-id"]) == 36
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [json.loads(x) for x in service["log"].read_text().splitlines() if x.startswith("{")]
        access = [x for x in lines if x.get("request_id") == mine and x["logger"] == "riskops.access"]
        if access:
            break
        time.sleep(0.1)
    assert access[0]["route"] == "/v1/score" and access[0]["status"] == 200 and access[0]["duration_ms"] > 0
    assert {"time", "level", "message"} <= set(access[0])
    assert not [x for x in service["log"].read_text().splitlines() if x.strip() and not x.startswith("{")]


def test_served_under_a_root_path(service: dict[str, Any], ingested: DuckDBWarehouse, tmp_path: Path) -> None:
    """As behind an ingress that forwards /ai/... unchanged: routes, docs and the OpenAPI servers use the prefix."""
    import shutil

    # Its own copy of the registry: another test leaves a broken champion behind in the shared one.
    shutil.copytree(service["store"].root, tmp_path / "store")
    Registry(LocalStore(tmp_path / "store")).set_champion(service["version"], "root-path test")
    env = {"RISKOPS_ARTIFACT_ROOT": str(tmp_path / "store"), "RISKOPS_ROOT_PATH": "/ai", "RISKOPS_HOME": str(tmp_path)}
    proc, base = _start_service(env, tmp_path / "uvicorn.log", root_path="/ai")
    try:
        r = httpx.post(f"{base}/v1/score", json=_payload(ingested, "U3"), headers={"X-API-Key": KEY})
        assert r.status_code == 200 and r.json()["model_version"] == service["version"]
        spec = httpx.get(f"{base}/openapi.json").json()
        assert spec["servers"] == [{"url": "/ai"}] and "/v1/score" in spec["paths"]
        assert "/ai/openapi.json" in httpx.get(f"{base}/docs").text
        # Finding 8: the metrics are for the pod's scraper, not for the public path the ingress forwards.
        assert httpx.get(f"{base}/metrics").status_code == 404
        assert 'route="/v1/score",status="2xx"' in httpx.get(f"{base.removesuffix('/ai')}/metrics").text
    finally:
        stop(proc)


def test_openapi_fuzzing_finds_no_server_error(service: dict[str, Any], tmp_path: Path) -> None:
    """Schemathesis generates valid and invalid requests from the OpenAPI schema for every operation; the
    check is that none gets a 5xx."""
    st = Path(sys.executable).parent / "st"
    out = subprocess.run(
        [
            str(st),
            "run",
            f"{service['url']}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "60",
            "--seed",
            "7",
            "-H",
            f"X-API-Key: {KEY}",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout[-4000:]
    tested = re.search(r"(\d+) generated, (\d+) passed", out.stdout)
    assert tested and int(tested.group(1)) > 200 and tested.group(1) == tested.group(2), out.stdout[-2000:]


def test_prometheus_scrapes_the_service_with_the_projects_config(service: dict[str, Any], tmp_path: Path) -> None:
    """A real Prometheus (Debian's package) with monitoring/prometheus.yml and the alert rules, pointed at the
    live service: the target is up, a request counter comes back from a query, and every rule loaded."""
    import shutil

    import yaml

    exe = shutil.which("prometheus")
    if exe is None:
        pytest.fail("prometheus is not installed: run `make ops-tools`")
    monitoring = Path(__file__).resolve().parents[2] / "monitoring"
    config = yaml.safe_load((monitoring / "prometheus.yml").read_text())
    config["global"]["scrape_interval"] = "1s"
    config["rule_files"] = [str(monitoring / "alerts.yml")]
    config["scrape_configs"][0]["static_configs"] = [{"targets": [service["url"].removeprefix("http://")]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    assert httpx.get(f"{service['url']}/v1/model", headers={"X-API-Key": KEY}).status_code == 200
    port = free_port()
    log = tmp_path / "prometheus.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [
                exe,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, proc, log)
        api = f"http://127.0.0.1:{port}/api/v1"
        deadline, result = time.monotonic() + 30, []
        while time.monotonic() < deadline and not result:
            time.sleep(0.5)
            q = httpx.get(f"{api}/query", params={"query": 'sum(riskops_requests_total{route="/v1/model"})'}).json()
            result = q["data"]["result"]
        assert result and float(result[0]["value"][1]) > 0, log.read_text()[-2000:]
        targets = httpx.get(f"{api}/targets").json()["data"]["activeTargets"]
        assert [t["health"] for t in targets] == ["up"]
        groups = httpx.get(f"{api}/rules").json()["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        declared = [r for g in yaml.safe_load((monitoring / "alerts.yml").read_text())["groups"] for r in g["rules"]]
        assert len(rules) == len(declared) and all(r["health"] != "err" for r in rules)
        up = httpx.get(f"{api}/query", params={"query": "riskops_model_reference_share"}).json()["data"]["result"]
        assert {r["metric"]["segment"] for r in up} == {"Low", "Medium", "High"}
    finally:
        stop(proc)


def _batch_body(ingested: DuckDBWarehouse, card: Any, repeat: int, only: str | None = None) -> dict[str, Any]:
    """The unlabelled cohort's features (or one customer's), repeated, as a JSON batch body."""
    from riskops.features.engineering import read_features

    frame = read_features(ingested, "unlabelled")
    if only is not None:
        frame = frame[frame["customer_id"] == only]
    frame = pd.concat([frame] * repeat, ignore_index=True)
    cols: dict[str, list[Any]] = {}
    for c in card.features:
        values = frame[c] if c in card.categorical else pd.to_numeric(frame[c], errors="coerce").astype(float)
        cols[c] = [None if isinstance(v, float) and v != v else v for v in values.tolist()]
    return {"customer_id": [f"{c}-{i}" for i, c in enumerate(frame["customer_id"])], "features": cols}


def _window_gauges(url: str) -> dict[str, float]:
    text = httpx.get(f"{url}/metrics").text
    return {
        m.group(1): float(m.group(2))
        for m in re.finditer(r"^(riskops_score_window_\w+(?:\{[^}]*\})?) (\S+)$", text, re.M)
    }


def test_online_drift_of_the_scores_served(service: dict[str, Any], ingested: DuckDBWarehouse) -> None:
    """The last 5,000 scores served against the model's holdout scores: the scoring cohort's own population is
    quiet, 5,000 scores of one high-risk customer are drift, both in the gauges the alert reads."""
    card = Registry(service["store"]).card(service["version"])
    url, headers = service["url"], {"X-API-Key": KEY}

    def serve_and_read(body: dict[str, Any]) -> dict[str, float]:
        assert httpx.post(f"{url}/v1/score/batch", json=body, headers=headers, timeout=60).status_code == 200
        time.sleep(1.0)  # the poll (0.3 s here) publishes the window
        return _window_gauges(url)

    population = serve_and_read(_batch_body(ingested, card, 17))  # 5,100 rows: the window holds only these
    assert population["riskops_score_window_scores"] == 5000
    assert population["riskops_score_window_psi"] < 0.25, population
    riskiest = service["published"]["score"].idxmax()
    one = serve_and_read(_batch_body(ingested, card, 5000, only=riskiest))
    assert one["riskops_score_window_psi"] > 1.0, one
    assert one['riskops_score_window_share{segment="High"}'] == 1.0


def _logged(home: Path, request_ids: set[str], want: int, timeout: float = 10) -> list[dict[str, Any]]:
    """Prediction-log records of these requests, once `want` of them are written."""
    import json

    deadline, lines = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        lines = [json.loads(x) for p in home.glob("predictions/*/*.jsonl") for x in p.read_text().splitlines()]
        lines = [x for x in lines if x["request_id"] in request_ids]
        if len(lines) >= want:
            break
        time.sleep(0.2)
    return lines


def test_a_challenger_is_scored_in_shadow_and_never_served(service: dict[str, Any], ingested: DuckDBWarehouse) -> None:
    """Under a bounded load with a challenger named: every request answered by the champion, and every request
    logged twice, the champion's record and the challenger's (`shadow: true`, same request id, the score the
    challenger gives in process)."""
    from riskops.scoring.online import load, score_request
    from riskops.scoring.payloads import ScoreRequest

    url, store = service["url"], service["store"]
    registry = Registry(store)
    champion = registry.champion()
    challenger, _ = train_and_register(ingested, store, AS_OF, FAST.model_copy(update={"seed": 3}), promote=False)
    registry.set_challenger(challenger.version, "shadow test")
    try:
        deadline = time.monotonic() + 10
        while 'riskops_shadow_model_info{version="' + challenger.version not in httpx.get(f"{url}/metrics").text:
            assert time.monotonic() < deadline, "the service did not pick up the challenger"
            time.sleep(0.2)
        bodies = [_payload(ingested, c) for c in ("U3", "U7", "U11", "U13")]
        answers: list[httpx.Response] = []

        def load_loop(body: dict[str, Any]) -> None:
            with httpx.Client(headers={"X-API-Key": KEY}) as client:
                answers.extend(client.post(f"{url}/v1/score", json=body) for _ in range(25))

        threads = [threading.Thread(target=load_loop, args=(b,)) for b in bodies]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert [r.status_code for r in answers] == [200] * 100
        assert {r.json()["model_version"] for r in answers} == {champion}
        ids = {r.json()["request_id"] for r in answers}
        logged = _logged(service["home"], ids, 200)
        served = {x["request_id"]: x for x in logged if not x["shadow"]}
        shadowed = {x["request_id"]: x for x in logged if x["shadow"]}
        assert set(served) == set(shadowed) == ids
        assert {x["model_version"] for x in shadowed.values()} == {challenger.version}
        m = load(registry, challenger.version)
        expected = score_request(m, ScoreRequest.model_validate(bodies[0]), m.policy, with_reasons=False).score
        first = next(r.json() for r in answers if r.json()["customer_id"] == "U3")
        assert shadowed[first["request_id"]]["score"] == pytest.approx(expected, abs=1e-12)
    finally:
        registry.set_challenger(None, "end of the shadow test")


def test_polling_survives_an_unreadable_registry(service: dict[str, Any], tmp_path: Path) -> None:
    """A champion pointer that cannot be read (a store outage, a bad write) is logged; the serving model stays,
    and polling goes on: a scoring run published afterwards is picked up. A corrupt scoring run is skipped."""
    import shutil

    shutil.copytree(service["store"].root, tmp_path / "store")
    store = LocalStore(tmp_path / "store")
    Registry(store).set_champion(service["version"], "polling test")
    env = {
        "RISKOPS_ARTIFACT_ROOT": str(tmp_path / "store"),
        "RISKOPS_MODEL_POLL_S": "0.2",
        "RISKOPS_HOME": str(tmp_path / "home"),
    }
    log = tmp_path / "uvicorn.log"
    proc, url = _start_service(env, log)
    try:
        good = store.read_text(CHAMPION)
        store.write_text(CHAMPION, "{not json")
        time.sleep(1.0)
        assert "champion not refreshed; still serving" in log.read_text()
        ready = httpx.get(f"{url}/readyz").json()
        assert (ready["status"], ready["model_version"]) == ("ready", service["version"])
        assert "champion" in ready["refresh_failing"]  # and says why
        store.write_text(CHAMPION, good)
        store.write_bytes("20991230-000000-000/scores.parquet", b"not parquet")
        time.sleep(0.6)
        assert "run not refreshed; lookups and policy stay on run" in log.read_text()
        publish_scores(store, "20991231-000000-000", service["result"])
        deadline, run_id = time.monotonic() + 10, ""
        cid = service["published"].index[0]
        while time.monotonic() < deadline and run_id != "20991231-000000-000":
            time.sleep(0.2)
            run_id = httpx.get(f"{url}/v1/customers/{cid}/risk", headers={"X-API-Key": KEY}).json()["run_id"]
        assert run_id == "20991231-000000-000"
    finally:
        stop(proc)


def test_a_scoring_runs_policy_is_what_online_decisions_use(
    ingested: DuckDBWarehouse, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Every knob of the policy changed for one scoring run: /v1/score, /v1/score/batch and the lookup decide as
    that run's list did, because the service reads the policy the run published."""
    from riskops.features.engineering import read_features
    from riskops.scoring.policy import OffboardConfig, Rule

    root = tmp_path_factory.mktemp("policy")
    store = LocalStore(root / "store")
    card, _ = train_and_register(ingested, store, AS_OF, FAST, CostMatrix())
    policy = OffboardConfig(
        high_cutoff=0.25,
        medium_factor=0.2,
        min_rules=2,
        reasons=1,
        rules=[
            Rule(name="busy", feature="out_count_90d", value=20, meaning="many transactions lately"),
            Rule(name="pass_through", feature="pass_through_2d_90d", op=">", value=0.3, meaning="money in and out"),
            Rule(name="young", feature="tenure_days", op="<", value=400, meaning="a young account"),
        ],
    )
    assert policy.high_cutoff != card.threshold
    batch = score_cohort(ingested, store, AS_OF, "unlabelled", policy)
    publish_scores(store, "20990101-000000-000", batch)
    scores = batch.scores.set_index("customer_id")
    assert scores["segment"].nunique() == 3 and scores["rules"].str.contains(", ").any()
    medium_listed = scores[(scores["segment"] == "Medium") & scores["offboard"]]
    assert len(medium_listed) and (medium_listed["rules"].str.count(", ") >= 1).all()  # two rules at least
    proc, url = _start_service(
        {"RISKOPS_ARTIFACT_ROOT": str(root / "store"), "RISKOPS_HOME": str(root / "home")}, root / "uvicorn.log"
    )
    try:
        headers = {"X-API-Key": KEY}
        picked = [
            *scores[scores["segment"] == "Medium"].index[:8],
            *scores[scores["segment"] == "High"].index[:6],
            *scores[scores["segment"] == "Low"].index[:4],
        ]
        for cid in picked:
            body = httpx.post(f"{url}/v1/score", json=_payload(ingested, cid), headers=headers).json()
            want = scores.loc[cid]
            assert (body["segment"], body["offboard"]) == (want["segment"], bool(want["offboard"])), cid
            assert sorted(body["rules"]) == sorted(x for x in want["rules"].split(", ") if x), cid
            assert len(body["reasons"]) <= 1
            looked_up = httpx.get(f"{url}/v1/customers/{cid}/risk", headers=headers).json()
            assert (looked_up["segment"], looked_up["offboard"]) == (body["segment"], body["offboard"])
        frame = read_features(ingested, "unlabelled")
        cols = {
            c: [
                None if isinstance(v, float) and v != v else v
                for v in (
                    frame[c] if c in card.categorical else pd.to_numeric(frame[c], errors="coerce").astype(float)
                ).tolist()
            ]
            for c in card.features
        }
        r = httpx.post(
            f"{url}/v1/score/batch",
            json={"customer_id": frame["customer_id"].tolist(), "features": cols},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["segment"] == scores.loc[out["customer_id"], "segment"].tolist()
        assert out["offboard"] == scores.loc[out["customer_id"], "offboard"].astype(bool).tolist()
    finally:
        stop(proc)


def test_a_pod_that_cannot_load_the_champion_says_why(service: dict[str, Any], tmp_path: Path) -> None:
    """A champion damaged after promotion (by hand, outside the registry): a new pod stays unready and says
    which champion failed and why, instead of 'no model loaded yet'."""
    import shutil

    root = tmp_path / "store"
    shutil.copytree(service["store"].root, root)
    champion = str(Registry(LocalStore(root)).champion())
    (root / "models" / champion / "model.cbm").write_bytes(b"damaged")
    env = {"RISKOPS_ARTIFACT_ROOT": str(root), "RISKOPS_HOME": str(tmp_path / "home")}
    proc, url = _start_service(env, tmp_path / "uvicorn.log", ready_s=3)
    try:
        r = httpx.get(f"{url}/readyz")
        assert r.status_code == 503
        assert r.json()["status"].startswith(f"champion {champion} failed to load: ")
    finally:
        stop(proc)


def test_an_arrow_decompression_bomb_is_refused_before_it_is_decoded(service: dict[str, Any]) -> None:
    """A few KB of zstd-compressed Arrow that decodes to hundreds of MB (hostile-input finding 3): refused from
    the stream's metadata, and the process does not grow."""
    import io

    import numpy as np
    import psutil
    import pyarrow as pa

    info = Registry(service["store"]).card(service["version"])
    rows = 12_000_000
    table = pa.table({"customer_id": pa.array(np.full(rows, ""), pa.string()), info.features[0]: np.zeros(rows)})
    assert table.nbytes > 100 * 2**20
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(compression="zstd")) as w:
        w.write_table(table, max_chunksize=rows)
    bomb = sink.getvalue()
    assert len(bomb) < 100_000, len(bomb)
    process = psutil.Process(service["pid"])
    before = process.memory_info().rss
    for _ in range(3):
        r = httpx.post(
            f"{service['url']}/v1/score/batch",
            content=bomb,
            timeout=30,
            headers={"X-API-Key": KEY, "Content-Type": "application/vnd.apache.arrow.stream"},
        )
        assert r.status_code == 422 and "compressed Arrow IPC bodies are refused" in r.text
    assert process.memory_info().rss - before < 50 * 2**20


def test_every_scored_customer_is_logged_keyed_and_flushed_at_shutdown(
    service: dict[str, Any], ingested: DuckDBWarehouse, tmp_path: Path
) -> None:
    """Finding 7: the batch route logged nothing, and the pseudonym was an unsalted hash. Every customer of
    every route gets a record with an HMAC pseudonym under the configured key, and a service stopped right
    after answering writes them all (SIGTERM: uvicorn's shutdown closes the log)."""
    import hmac
    import json
    import shutil

    from riskops.features.engineering import read_features

    # Its own copy of the registry: another test leaves a broken champion behind in the shared one.
    shutil.copytree(service["store"].root, tmp_path / "store")
    Registry(LocalStore(tmp_path / "store")).set_champion(service["version"], "prediction log test")
    secret = "0123456789abcdef-rotating-secret"
    env = {
        "RISKOPS_ARTIFACT_ROOT": str(tmp_path / "store"),
        "RISKOPS_HOME": str(tmp_path / "home"),
        "RISKOPS_PSEUDONYM_KEYS": f"k2:{secret},k1:an-older-secret-kept-for-joins",
    }
    proc, url = _start_service(env, tmp_path / "uvicorn.log")
    try:
        one = httpx.post(f"{url}/v1/score", json=_payload(ingested, "U5"), headers={"X-API-Key": KEY})
        assert one.status_code == 200, one.text
        frame = read_features(ingested, "unlabelled").head(300)
        info = Registry(service["store"]).card(service["version"])
        cols: dict[str, list[Any]] = {}
        for c in info.features:
            values = frame[c] if c in info.categorical else pd.to_numeric(frame[c], errors="coerce").astype(float)
            cols[c] = [None if isinstance(v, float) and v != v else v for v in values.tolist()]
        body = {"customer_id": frame["customer_id"].tolist(), "features": cols}
        batch = httpx.post(f"{url}/v1/score/batch", json=body, headers={"X-API-Key": KEY, "X-Request-ID": "batch-1"})
        assert batch.status_code == 200, batch.text
    finally:
        stop(proc)  # at once: the records are still queued when the shutdown begins
    lines = [
        json.loads(x) for p in (tmp_path / "home").glob("predictions/*/*.jsonl") for x in p.read_text().splitlines()
    ]
    batch_rows = [x for x in lines if x["request_id"] == "batch-1"]
    assert len(batch_rows) == 300 and len(lines) == 301
    expected = {hmac.new(secret.encode(), c.encode(), hashlib.sha256).hexdigest()[:20] for c in body["customer_id"]}
    assert {x["customer_key"] for x in batch_rows} == expected and {x["key_id"] for x in lines} == {"k2"}
    assert {x["customer_key"] for x in batch_rows}.isdisjoint(
        hashlib.sha256(c.encode()).hexdigest()[:20] for c in body["customer_id"]
    )  # not the unkeyed hash an attacker can enumerate
    assert not any(c in json.dumps(lines) for c in body["customer_id"])


def test_a_truncated_or_deleted_champion_pointer_shows_in_a_metric(service: dict[str, Any], tmp_path: Path) -> None:
    """Finding 8: a damaged pointer changed no metric. The pod keeps serving its model and says the pointer is
    unreadable (riskops_champion_pointer_ok 0, which RiskopsChampionPointerUnreadable pages on)."""
    import shutil

    root = tmp_path / "store"
    shutil.copytree(service["store"].root, root)
    Registry(LocalStore(root)).set_champion(service["version"], "pointer test")
    env = {"RISKOPS_ARTIFACT_ROOT": str(root), "RISKOPS_HOME": str(tmp_path / "home"), "RISKOPS_MODEL_POLL_S": "0.2"}
    proc, url = _start_service(env, tmp_path / "uvicorn.log")

    def pointer_ok() -> float:
        deadline = time.monotonic() + 5
        text = ""
        while time.monotonic() < deadline:
            text = httpx.get(f"{url}/metrics").text
            line = next(x for x in text.splitlines() if x.startswith("riskops_champion_pointer_ok "))
            if float(line.split()[1]) == expected:
                break
            time.sleep(0.1)
        return float(line.split()[1])

    try:
        expected = 1.0
        assert pointer_ok() == 1.0
        pointer = root / "models" / "champion.json"
        pointer.write_text(pointer.read_text()[:20])  # truncated
        expected = 0.0
        assert pointer_ok() == 0.0 and httpx.get(f"{url}/readyz").status_code == 200  # still serving
        Registry(LocalStore(root)).store.delete("models/champion.json")
        assert pointer_ok() == 0.0
        Registry(LocalStore(root)).set_champion(service["version"], "restored")
        expected = 1.0
        assert pointer_ok() == 1.0
    finally:
        stop(proc)


def test_a_logistic_regression_champion_is_served_scored_and_explained_like_catboost(
    ingested: DuckDBWarehouse, tmp_path: Path
) -> None:
    """The policy's `family: logistic_regression`: the same service, batch and online scores equal, reasons
    and the client view's contributions from the linear model's exact SHAP values."""
    store = LocalStore(tmp_path / "store")
    card, _ = train_and_register(ingested, store, AS_OF, FAST.model_copy(update={"family": "logistic_regression"}))
    assert card.family == "logistic_regression" and store.exists(f"models/{card.version}/model.skops")
    published = score_cohort(ingested, store, AS_OF, "unlabelled")
    book, meta = build_book(ingested, store, "unlabelled", published, RUN)
    publish_book(store, RUN, book, meta)
    publish_scores(store, RUN, published)
    proc, url = _start_service(
        {"RISKOPS_ARTIFACT_ROOT": str(tmp_path / "store"), "RISKOPS_HOME": str(tmp_path / "home")},
        tmp_path / "uvicorn.log",
    )
    try:
        head = {"X-API-Key": KEY}
        info = httpx.get(f"{url}/v1/model", headers=head).json()
        assert info["family"] == "logistic_regression" and info["version"] == card.version
        batch = published.scores.set_index("customer_id")
        listed = published.offboarding.set_index("customer_id")
        assert len(listed) and listed["reasons"].str.len().gt(0).all()
        for cid in list(batch.index[:5]) + list(listed.index[:5]):
            r = httpx.post(f"{url}/v1/score", json=_payload(ingested, cid), headers=head)
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["score"] == pytest.approx(batch.loc[cid, "score"], abs=1e-9)
            assert body["segment"] == batch.loc[cid, "segment"]
            if cid in listed.index:
                assert "; ".join(body["reasons"]) == listed.loc[cid, "reasons"]  # the same words online and batch
        profile = httpx.get(f"{url}/v1/customers/{listed.index[0]}/profile", headers=head)
        assert profile.status_code == 200, profile.text
        assert profile.json()["contributions"]
    finally:
        stop(proc)


def test_a_bad_published_policy_never_stops_the_service(
    service: dict[str, Any], ingested: DuckDBWarehouse, tmp_path: Path
) -> None:
    """A run published with an infinite cost (it once stopped the poll for good and kept new pods from starting):
    the running service keeps the last good run and its policy, counts the failure and says why in /readyz, and
    picks up the next good run; a fresh pod that can only see the bad run starts on the model's own policy and
    says so."""
    import shutil

    root = tmp_path / "store"
    shutil.copytree(service["store"].root, root)
    Registry(LocalStore(root)).set_champion(service["version"], "the model that scored the run")  # tests before swap
    env = {"RISKOPS_ARTIFACT_ROOT": str(root), "RISKOPS_HOME": str(tmp_path / "home"), "RISKOPS_MODEL_POLL_S": "0.3"}
    proc, url = _start_service(env, tmp_path / "uvicorn.log")
    cid, headers = service["published"].index[0], {"X-API-Key": KEY}

    def publish(run: str, **change: Any) -> None:
        (root / run).mkdir()
        policy = json.loads((root / RUN / "policy.json").read_text()) | change
        (root / run / "policy.json").write_text(json.dumps(policy))  # an infinite cost is written `Infinity`
        shutil.copy(root / RUN / "scores.parquet", root / run / "scores.parquet")  # last: the run is complete

    def settled(check: Any) -> dict[str, Any]:
        deadline = time.monotonic() + 10
        while not check(ready := httpx.get(f"{url}/readyz").json()) and time.monotonic() < deadline:
            time.sleep(0.2)
        return ready

    try:
        assert httpx.get(f"{url}/readyz").json()["policy"] == f"run {RUN}"
        publish("20990102-000000-000", offboard_cost=float("inf"), missed_cost=5000.0)
        ready = settled(lambda r: r["refresh_failing"].get("run", {}).get("attempts", 0) >= 2)  # every poll retries
        assert "offboard_cost" in ready["refresh_failing"]["run"]["error"], ready
        assert ready["policy"] == f"run {RUN}"  # the last good run still decides
        assert httpx.get(f"{url}/v1/customers/{cid}/risk", headers=headers).json()["run_id"] == RUN
        assert httpx.post(f"{url}/v1/score", json=_payload(ingested, cid), headers=headers).status_code == 200
        failures = re.search(r'riskops_refresh_failures_total\{what="run"\} ([\d.]+)', httpx.get(f"{url}/metrics").text)
        assert failures and float(failures.group(1)) >= 2

        publish("20990103-000000-000", capacity=5)
        ready = settled(lambda r: r["policy"] == "run 20990103-000000-000")
        assert ready["refresh_failing"] == {} and ready["policy"] == "run 20990103-000000-000"
        assert httpx.get(f"{url}/v1/customers/{cid}/risk", headers=headers).json()["run_id"] == "20990103-000000-000"
    finally:
        stop(proc)
    shutil.rmtree(root / "20990103-000000-000")  # a fresh pod sees only the bad run as the latest
    proc, url = _start_service(env, tmp_path / "fresh.log")
    try:
        ready = httpx.get(f"{url}/readyz").json()
        assert ready["status"] == "ready" and "run" in ready["refresh_failing"]
        assert ready["policy"] == f"model {service['version']} (the latest published run could not be read)"
    finally:
        stop(proc)

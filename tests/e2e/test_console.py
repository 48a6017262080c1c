"""The risk console in a real browser: Debian's Chromium driven by Playwright against the console and the
scoring service, both real uvicorn processes on 127.0.0.1 over a trained, scored and published book."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from riskops.io.artifacts import LocalStore
from riskops.io.warehouse.duckdb import DuckDBWarehouse
from riskops.model.config import CostMatrix, TrainConfig
from riskops.runs.candidate import train_and_register
from riskops.runs.monitor import read_outcomes
from riskops.scoring.book import build_book, publish_book
from riskops.scoring.offboard import publish_scores, score_cohort
from riskops.scoring.review import DECISIONS, AuditLog, password_hash
from tests.integration.conftest import free_port, start_uvicorn, stop, wait_for_port

pytestmark = pytest.mark.e2e
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
KEY = "console-key"
AS_OF = date(2026, 9, 30)
RUN = "20990101-000000-000"
FAST = TrainConfig(folds=3, trials=0, max_iterations=60, baselines=False, imbalance="none", seed=1)
USERS = {"vera": "viewer", "rita": "reviewer", "alex": "approver"}
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"  # written when RISKOPS_SCREENSHOTS=1


@pytest.fixture(scope="module")
def console(ingested: DuckDBWarehouse, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: `make ops-tools` installs it (apt)")
    root = tmp_path_factory.mktemp("console")
    store = LocalStore(root / "store")
    train_and_register(ingested, store, AS_OF, FAST, CostMatrix())
    result = score_cohort(ingested, store, AS_OF, "unlabelled")
    book, meta = build_book(ingested, store, "unlabelled", result, RUN)
    publish_book(store, RUN, book, meta)
    publish_scores(store, RUN, result)
    users = root / "users.yaml"
    users.write_text(json.dumps({"users": [{"name": n, "role": r, "password_sha256": password_hash(n + "-pw")}
                                           for n, r in USERS.items()]}))  # fmt: skip
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    env = {**os.environ, "RISKOPS_ARTIFACT_ROOT": str(root / "store"), "RISKOPS_HOME": str(root / "home")}
    service, service_url = start_uvicorn(env | {"RISKOPS_API_KEY_HASHES": digest, "RISKOPS_REVIEWER_KEY_HASHES": digest,
                                                "RISKOPS_DUCKDB_PATH": str(root / "decisions.duckdb")},
                                         root / "service.log")  # fmt: skip
    port = free_port()
    console_env = env | {"RISKOPS_CONSOLE_SERVICE_URL": service_url, "RISKOPS_CONSOLE_API_KEY": KEY,
                         "RISKOPS_CONSOLE_USERS": str(users), "RISKOPS_CONSOLE_SESSION_SECRET": "x" * 40,
                         "RISKOPS_DUCKDB_PATH": str(root / "nowhere" / "never-opened.duckdb")}  # fmt: skip
    with (root / "console.log").open("wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "console.main:create_app", "--factory",
                                 "--host", "127.0.0.1", "--port", str(port)], stdout=fh, stderr=subprocess.STDOUT,
                                env=console_env)  # fmt: skip
    from playwright.sync_api import sync_playwright

    try:
        wait_for_port(port, proc, root / "console.log")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
            yield {"url": f"http://127.0.0.1:{port}", "browser": browser, "book": book, "root": root,
                   "service": service_url}  # fmt: skip
            browser.close()
    finally:
        stop(proc)
        stop(service)


def _signed_in(console: dict[str, Any], name: str) -> Any:
    page = console["browser"].new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{console['url']}/book")  # any page sends an anonymous user to sign in
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(name + "-pw")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")
    return page


def _click(page: Any, element: Any) -> None:
    """Click where the element is drawn, as a user does (Plotly's drag layer takes the events, not the SVG)."""
    element.scroll_into_view_if_needed()
    box = element.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def _status(page: Any, prefix: str) -> None:
    """Wait for the table to say `prefix` (it updates after its fetch)."""
    page.wait_for_function("p => document.querySelector('#table-status').textContent.startsWith(p)", arg=prefix)


def _accessible(page: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa"]}})
    assert results.violations_count == 0, results.generate_report()


def _shot(page: Any, name: str) -> None:
    if os.environ.get("RISKOPS_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_a_relationship_manager_finds_a_customer_and_reads_why(console: dict[str, Any]) -> None:
    book = console["book"]
    top = book.sort_values("score").iloc[-1]
    page = _signed_in(console, "vera")
    page.get_by_label("Customer id").fill(str(top["customer_id"]))
    page.get_by_role("button", name="Find").click()
    page.wait_for_selector("#contributions .bars")
    assert page.locator("#customer-id").inner_text() == str(top["customer_id"])
    assert page.locator("#score").inner_text() == f"{top['score']:.1%}"
    assert page.locator("#segment").inner_text() == top["segment"]
    assert "risk" in page.locator("#meaning").inner_text()
    shown = page.locator("#reasons li").all_inner_texts()
    assert shown == [r for r in top["reasons"].split("; ") if r] and shown  # the run's words, all of them
    assert page.locator("#contributions .bars .point").count() == 9  # 8 key features and the rest
    assert page.locator("#neighbours tbody tr").count() >= 1
    page.wait_for_selector("#comparison .bars")
    _accessible(page)
    _shot(page, "client-view")
    missing = page.goto(f"{console['url']}/customers/nobody")
    assert missing is not None and missing.status == 404
    audit = AuditLog(console["root"] / "home" / "audit").read()
    assert {"user": "vera", "event": "view_customer", "customer_id": str(top["customer_id"])}.items() <= next(
        a for a in audit if a["event"] == "view_customer"
    ).items()
    page.close()


def test_the_book_charts_filter_and_open_customers(console: dict[str, Any]) -> None:
    book = console["book"]
    page = _signed_in(console, "vera")
    page.goto(f"{console['url']}/book")
    page.wait_for_selector("#scatter .scatterlayer .point")
    page.wait_for_function("document.querySelectorAll('#book-table tbody tr').length > 0")
    _accessible(page)
    _shot(page, "book")
    # The table answers "which customer has the most transactions?": sort by the count, highest first.
    (feature,) = [c.removeprefix("value.") for c in book.columns if c.startswith("value.all_count_")]
    key = page.locator(f"#book-table th button[data-sort={feature}]")
    assert "transactions" in (key.get_attribute("title") or "")
    key.click()
    page.wait_for_function(
        f"document.querySelector('[data-sort=\"{feature}\"]').closest('th').getAttribute('aria-sort')"
    )
    page.wait_for_timeout(300)
    first = page.locator("#book-table tbody tr").first.locator("td").first.inner_text()
    assert (
        book.loc[book[f"value.{feature}"].idxmax(), "customer_id"] == first
        or book.loc[book["customer_id"] == first, f"value.{feature}"].iloc[0] == book[f"value.{feature}"].max()
    )
    # Filter by segment: every row is High.
    page.get_by_label("Segment", exact=True).select_option("High")
    page.get_by_role("button", name="Filter").click()
    _status(page, f"{int((book['segment'] == 'High').sum()):,} customers match")
    segments = page.locator("#book-table tbody tr td:nth-child(3)").all_inner_texts()
    assert segments and set(segments) == {"High"}
    page.get_by_label("Segment", exact=True).select_option("")
    # Click a histogram bar: the table lists that score range.
    bars = page.locator("#histogram .bars .point path")
    tall = [b for b in bars.all() if (b.bounding_box() or {"height": 0})["height"] > 3]
    _click(page, tall[-1])  # the highest-scored bar that has customers
    page.wait_for_function("document.querySelector('#f-min').value !== ''")
    lo, hi = (
        float(page.get_by_label("Score from", exact=True).input_value()),
        float(page.get_by_label("to", exact=True).input_value()),
    )
    expected = int(((book["score"] >= lo) & (book["score"] <= hi)).sum())
    _status(page, f"{expected:,} customers match")
    # Hover a point of the scatter: it names a customer; click it: that customer opens.
    point = page.locator("#scatter .scatterlayer .point").first
    point.scroll_into_view_if_needed()
    box = point.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#scatter .hoverlayer .hovertext")
    label = page.locator("#scatter .hoverlayer .hovertext tspan.line").first.text_content() or ""
    assert label.startswith("customer ")
    hovered = label.removeprefix("customer ").strip()
    _click(page, point)
    page.wait_for_url("**/customers/**")
    assert page.locator("#customer-id").inner_text() == hovered
    page.close()


def _decide(console: dict[str, Any], user: str, cid: str, action: str, comment: str) -> Any:
    """`user` signs in, opens the queue and records `action` on the customer with the keyboard-reachable form."""
    page = _signed_in(console, user)
    page.goto(f"{console['url']}/review")
    row = page.locator(f"#c-{cid}")
    row.get_by_label("Decision").select_option(action)
    row.get_by_label("Comment").fill(comment)
    row.get_by_role("button", name="Record").click()
    page.wait_for_load_state("networkidle")
    return page


def test_four_eyes_decision_lands_in_the_warehouse_and_the_audit_log(console: dict[str, Any]) -> None:
    book = console["book"]
    listed = book[book["offboard"]].sort_values("score", ascending=False)
    cid = str(listed.iloc[0]["customer_id"])
    viewer = _signed_in(console, "vera")
    viewer.goto(f"{console['url']}/review")
    assert viewer.locator(f"#c-{cid}").get_by_text("Viewers cannot decide.").is_visible()
    token = viewer.evaluate("fetch('/review').then(r => r.text())")  # a viewer forging a form post is refused
    form = {"action": "offboard", "comment": "x", "run_id": RUN, "token": "forged"}
    refused = viewer.request.post(f"{console['url']}/review/{cid}", form=form)
    assert refused.status == 403 and token
    viewer.close()

    reviewer = _decide(console, "rita", cid, "offboard", "Pass-through pattern confirmed with the transaction history")
    assert reviewer.locator(f"#c-{cid}").get_attribute("data-state") == "awaiting confirmation"
    assert reviewer.locator(f"#c-{cid} option[value=confirm]").count() == 0  # a reviewer cannot confirm
    _accessible(reviewer)
    _shot(reviewer, "review-queue")
    reviewer.close()

    approver = _decide(console, "alex", cid, "confirm", "Agreed")
    assert approver.locator(f"#c-{cid}").get_attribute("data-state") == "off-boarded"
    csv = approver.request.get(f"{console['url']}/decisions.csv?run_id={RUN}").text()
    approver.close()
    assert csv.count(cid) == 2 and "confirm" in csv and "rita" in csv and "alex" in csv

    assert not (console["root"] / "nowhere").exists()  # the console never opened a warehouse: the service did
    with DuckDBWarehouse(console["root"] / "decisions.duckdb") as wh:
        decisions = wh.read_table(DECISIONS).to_pandas()
        outcomes = read_outcomes(wh).set_index("customer_id")["account_state"].to_dict()
    mine = decisions[decisions["customer_id"] == cid].sort_values("decided_at")
    assert list(mine["action"]) == ["offboard", "confirm"] and list(mine["user"]) == ["rita", "alex"]
    assert mine.iloc[0]["model_version"] and mine.iloc[0]["score"] == pytest.approx(listed.iloc[0]["score"])
    assert json.loads(mine.iloc[0]["reasons"]) == [r for r in listed.iloc[0]["reasons"].split("; ") if r]
    assert outcomes[cid] == "SUSPENDED"  # the decision is an outcome for the monitoring's loop
    events = [(a["user"], a["event"], a.get("action")) for a in AuditLog(console["root"] / "home" / "audit").read()]
    assert ("rita", "decide", "offboard") in events and ("alex", "decide", "confirm") in events


def test_the_service_refuses_a_book_query_it_cannot_answer(console: dict[str, Any]) -> None:
    h = {"X-API-Key": KEY}
    r = httpx.get(f"{console['service']}/v1/book/customers", params={"sort": "nope"}, headers=h)
    assert r.status_code == 422 and "nope" in r.text
    r = httpx.get(f"{console['service']}/v1/book/customers", params={"rule": "nope"}, headers=h)
    assert r.status_code == 422 and "rule" in r.text
    assert httpx.get(f"{console['service']}/v1/book/summary").status_code == 401

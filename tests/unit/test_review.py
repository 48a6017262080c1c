"""The review of the off-boarding list (four eyes, append-only, decisions as outcomes), the users file, the
audit log, and the book's queries behind the console's pages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from console.audit import AuditLog
from console.users import Users, password_hash
from riskops.core.errors import ConfigError
from riskops.io.warehouse.duckdb import DuckDBWarehouse
from riskops.scoring import review
from riskops.scoring.book import BookMeta, KeyFeature
from riskops.scoring.bookview import BookQueryError, BookView, meaning
from riskops.scoring.review import ReviewError, Shown, User

VERA, RITA = User(name="vera", role="viewer"), User(name="rita", role="reviewer")
ALEX, ANA = User(name="alex", role="approver"), User(name="ana", role="approver")


def shown(customer_id: str = "c1", run_id: str = "r1") -> Shown:
    return Shown(
        run_id=run_id,
        customer_id=customer_id,
        model_version="m1",
        score=0.91,
        segment="High",
        reasons=["many cash deposits: 40 (typical customer: 2)"],
        rules=["structuring"],
    )


@pytest.fixture
def wh(tmp_path: Path) -> DuckDBWarehouse:
    return DuckDBWarehouse(tmp_path / "w.duckdb")


def test_an_offboarding_takes_two_people_and_is_final(wh: DuckDBWarehouse) -> None:
    with pytest.raises(ReviewError, match="viewer and cannot decide"):
        review.decide(wh, VERA, shown(), "offboard", "looks bad")
    with pytest.raises(ReviewError, match="needs a comment"):
        review.decide(wh, RITA, shown(), "offboard", "   ")
    with pytest.raises(ReviewError, match="not a decision"):
        review.decide(wh, RITA, shown(), "delete", "x")
    decided = review.decide(wh, ALEX, shown(), "offboard", "structuring confirmed by branch")
    assert review.states(review.read_decisions(wh, "r1"))["c1"]["state"] == "awaiting confirmation"
    with pytest.raises(ReviewError, match="only an approver confirms"):
        review.confirm(wh, RITA, "r1", "c1", "agree")
    with pytest.raises(ReviewError, match="four eyes"):
        review.confirm(wh, ALEX, "r1", "c1", "agree")
    confirmed = review.confirm(wh, ANA, "r1", "c1", "agree")
    assert confirmed["confirms"] == decided["decision_id"] and confirmed["user"] == "ana"
    state = review.states(review.read_decisions(wh, "r1"))["c1"]
    assert state["state"] == "off-boarded" and state["confirmation"]["user"] == "ana"
    with pytest.raises(ReviewError, match="already off-boarded"):
        review.decide(wh, RITA, shown(), "keep", "changed my mind")
    with pytest.raises(ReviewError, match="off-boarded, not awaiting"):
        review.confirm(wh, ALEX, "r1", "c1", "again")
    rows = review.read_decisions(wh)
    assert len(rows) == 2 and json.loads(rows["reasons"][0]) == shown().reasons  # what was shown, kept


def test_a_later_decision_supersedes_and_nothing_is_updated_in_place(wh: DuckDBWarehouse) -> None:
    review.decide(wh, RITA, shown(), "escalate", "needs the AML team")
    review.decide(wh, RITA, shown(), "offboard", "AML team agrees")
    review.decide(wh, ALEX, shown(), "keep", "the account was explained by payroll")
    review.decide(wh, RITA, shown("c2"), "offboard", "mule pattern")
    review.decide(wh, RITA, shown("c1", run_id="r2"), "escalate", "next month")
    decisions = review.read_decisions(wh, "r1")
    assert [r["action"] for r in decisions.to_dict("records")] == ["escalate", "offboard", "keep", "offboard"]
    st = review.states(decisions)
    assert st["c1"]["state"] == "kept" and st["c2"]["state"] == "awaiting confirmation"
    with pytest.raises(ReviewError, match="kept, not awaiting"):  # the superseded off-boarding is not pending
        review.confirm(wh, ANA, "r1", "c1", "agree")
    table = review.decisions_table(review.read_decisions(wh))
    assert list(table.columns) == list(review.COLUMNS) and len(table) == 5
    assert table["reasons"].iloc[0] == shown().reasons[0] and table["rules"].iloc[0] == "structuring"  # words


def test_decisions_are_outcomes_a_confirmed_offboarding_suspended_a_keep_active(wh: DuckDBWarehouse) -> None:
    review.decide(wh, RITA, shown("c1"), "offboard", "mule")
    review.confirm(wh, ANA, "r1", "c1", "agree")
    review.decide(wh, RITA, shown("c2"), "keep", "payroll")
    review.decide(wh, RITA, shown("c3"), "offboard", "not yet confirmed")
    got = wh.query(
        f"SELECT customer_id, account_state FROM ({review.outcomes_sql('main.review_decisions')}) ORDER BY customer_id"
    ).to_pylist()
    assert got == [
        {"customer_id": "c1", "account_state": "SUSPENDED"},
        {"customer_id": "c2", "account_state": "ACTIVE"},
    ]


def test_a_comment_is_bounded(wh: DuckDBWarehouse) -> None:
    with pytest.raises(ReviewError, match="characters"):
        review.decide(wh, RITA, shown(), "keep", "x" * (review.MAX_COMMENT + 1))
    assert not wh.exists(review.DECISIONS)  # nothing half-written


def test_the_users_file(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    digest = password_hash("s3cret")
    path.write_text(
        f"users:\n  - {{name: rita, role: reviewer, password_sha256: {digest}}}\n"
        "  - {name: boss@bank.example, role: approver}\n"
    )
    users = Users.load(path)
    assert users.sign_in("rita", "s3cret") == RITA
    assert users.sign_in("rita", "wrong") is None and users.sign_in("nobody", "s3cret") is None
    assert users.sign_in("boss@bank.example", "") is None  # a proxy identity has no local password
    assert users.role_of("boss@bank.example") == "approver" and users.role_of("someone@bank.example") == "viewer"
    path.write_text("users:\n  - {name: a, role: admin}\n")
    with pytest.raises(ConfigError, match="invalid"):
        Users.load(path)
    path.write_text("users:\n  - {name: a, role: viewer}\n  - {name: a, role: approver}\n")
    with pytest.raises(ConfigError, match="twice"):
        Users.load(path)
    with pytest.raises(ConfigError, match="cannot read"):
        Users.load(tmp_path / "missing.yaml")


def test_the_audit_log_appends_every_event(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit")
    audit.record(VERA, "view_customer", customer_id="c1", run_id="r1")
    audit.record(RITA, "decide", customer_id="c1", action="keep")
    events = AuditLog(tmp_path / "audit").read()  # as written to disk
    assert [(e["user"], e["event"], e["customer_id"]) for e in events] == [
        ("vera", "view_customer", "c1"),
        ("rita", "decide", "c1"),
    ]


def book(n: int = 1000) -> BookView:
    rng = np.random.default_rng(3)
    score = rng.random(n)
    segment = np.where(score >= 0.8, "High", np.where(score >= 0.5, "Medium", "Low")).astype(object)
    ids = np.array([f"c{i:04d}" for i in range(n)], dtype=object)
    value = rng.integers(0, 100, n).astype(float)
    value[::50] = np.nan
    cols = {
        "customer_id": ids,
        "score": score,
        "score_pct": score * 100,
        "segment": segment,
        "offboard": score >= 0.8,
        "rules": np.where(score > 0.9, "structuring", "").astype(object),
        "reasons": np.array(["many cash deposits: 40 (typical customer: 2)"] * n, dtype=object),
        "value.cash_count": value,
        "pct.cash_count": value,
        "segpct.cash_count": value,
        "contrib.cash_count": rng.normal(size=n),
        "contrib.other": rng.normal(size=n),
        "attr.country": np.array(["NL" if i % 2 else "DE" for i in range(n)], dtype=object),
    }
    cols["neighbours"] = [[(i + 1) % n] for i in range(n)]  # book row numbers
    meta = BookMeta(
        run_id="r1",
        model_version="m1",
        customers=n,
        high=0.8,
        medium=0.5,
        key_features=[KeyFeature(name="cash_count", words="cash deposits", typical="2", importance=1.0)],
        rules={"structuring": "amounts just under the reporting threshold"},
        attributes=["country"],
        seconds={},
    )
    return BookView(meta, pa.table(cols))


def test_the_book_filters_sorts_and_pages() -> None:
    b = book()
    high = b.mask(segment="High")
    assert high.sum() == (b.num["score"] >= 0.8).sum()
    page = b.customers(b.mask(segment="High", attribute="country", value="NL"), "cash_count", "desc", 20)
    values = [r["values"]["cash_count"] for r in page["rows"]]
    assert len(values) == 20 and values == sorted(values, reverse=True) and None not in values
    last = b.customers(b.mask(), "cash_count", "desc", 30, offset=970)["rows"]
    assert [r["values"]["cash_count"] for r in last][-20:] == [None] * 20  # missing values sort last
    ranged = b.customers(b.mask(score_min=0.2, score_max=0.3, q="c0"), "score", "asc", 500)
    assert all(0.2 <= r["score"] <= 0.3 and r["customer_id"].startswith("c0") for r in ranged["rows"])
    assert b.mask(rule="structuring").sum() == (b.num["score"] > 0.9).sum()
    for bad, where in (
        (dict(segment="Huge"), "segment"),
        (dict(rule="drop table"), "rule"),
        (dict(attribute="income"), "attribute"),
    ):
        with pytest.raises(BookQueryError) as e:
            b.mask(**bad)  # type: ignore[arg-type]
        assert e.value.where == where
    with pytest.raises(BookQueryError, match="not a column"):
        b.customers(b.mask(), "password")


def test_a_profile_and_a_scatter() -> None:
    b = book()
    p = b.profile("c0001")
    assert p is not None and p["customer_id"] == "c0001" and p["neighbours"][0]["customer_id"] == "c0002"
    assert p["attributes"] == {"country": "NL"} and p["meaning"].startswith(f"A score of {p['score']:.1%}")
    assert b.profile("nobody") is None
    s = b.scatter(b.mask(segment="Low"), "score", "cash_count", limit=100)
    assert len(s["ids"]) <= 100 and s["total"] == (b.num["score"] < 0.5).sum() and set(s["segments"]) == {"Low"}
    assert sum(sum(v) for v in b.summary()["histogram"]["counts"].values()) == len(b)


def test_what_a_score_means_in_words() -> None:
    assert "High risk" in meaning(0.9, "High", 0.8, 0.5, True) and "on the off-boarding list" in meaning(
        0.9, "High", 0.8, 0.5, True
    )
    assert "only when the bank's rules also fire" in meaning(0.6, "Medium", 0.8, 0.5, False)
    assert "Low risk: below 50.0%" in meaning(0.1, "Low", 0.8, 0.5, False)


def test_training_learns_from_outcomes_that_came_after_the_features_it_would_use(wh: DuckDBWarehouse) -> None:
    """A confirmed off-boarding is a SUSPENDED example, a keep an ACTIVE one, each with the features the customer
    was scored on; a pending decision, an outcome older than those features and a customer the labelled cohort
    already has are not."""
    from datetime import UTC, datetime

    import pandas as pd

    from riskops.runs.candidate import outcome_examples

    labelled = pd.DataFrame(
        {"customer_id": ["L1"], "n_tx": [4.0], "account_state": ["ACTIVE"], "label": np.array([0], dtype=np.int64)}
    )
    none, info = outcome_examples(wh, labelled)
    assert none.empty and "no current cohort" in info["skipped"]
    cutoff = datetime(2026, 10, 1, tzinfo=UTC)
    wh.load("unlabelled_features_cutoff", pa.table({"cutoff": pa.array([cutoff], pa.timestamp("us", "UTC"))}))
    wh.load(
        "unlabelled_features",
        pa.table({"customer_id": ["c1", "c2", "c3", "c4", "L1", "c5"], "n_tx": [5.0, 1.0, 2.0, 3.0, 4.0, 6.0]}),
    )
    review.decide(wh, RITA, shown("c1"), "offboard", "pass-through")
    review.confirm(wh, ALEX, "r1", "c1", "agreed")
    review.decide(wh, RITA, shown("c2"), "keep", "salary and rent only")
    review.decide(wh, RITA, shown("c3"), "offboard", "awaiting an approver")
    wh.load(
        "outcomes",
        pa.table(
            {
                "customer_id": ["c4", "L1", "c5"],
                "account_state": ["SUSPENDED", "SUSPENDED", "SUSPENDED"],
                "decided_at": pd.to_datetime(["2026-09-01", "2026-10-05", "2026-10-05"], utc=True),
                "source": ["core"] * 3,
            }
        ),
    )
    extra, info = outcome_examples(wh, labelled)
    assert dict(zip(extra["customer_id"], extra["label"], strict=True)) == {"c1": 1, "c2": 0, "c5": 1}
    assert list(extra.columns) == list(labelled.columns) and extra["label"].dtype == np.int64
    assert extra.set_index("customer_id").loc["c1", "n_tx"] == 5.0 and extra["account_state"].tolist()
    assert info == {"rows": 3, "suspended": 2, "cutoff": cutoff.isoformat()}


def test_the_queue_views_sort_states_for_the_person_looking(wh: DuckDBWarehouse) -> None:
    review.decide(wh, ALEX, shown("c1"), "offboard", "mule")  # awaiting: alex's own
    review.decide(wh, RITA, shown("c2"), "escalate", "AML team")
    review.decide(wh, RITA, shown("c3"), "keep", "payroll")
    st = review.states(review.read_decisions(wh, "r1"))
    views = {v: [c for c in ("c1", "c2", "c3", "c4") if review.in_view(v, st.get(c), ANA)] for v in review.QUEUE_VIEWS}
    assert views == {
        "undecided": ["c4"],
        "mine": ["c1"],
        "awaiting": ["c1"],
        "escalated": ["c2"],
        "decided": ["c3"],
        "all": ["c1", "c2", "c3", "c4"],
    }
    assert not review.in_view("mine", st["c1"], ALEX)  # four eyes: not the author's to confirm

"""The stream's pure parts: events parsed and bounded with errors that name the field, the CSV sink's own
idempotency across a torn line, and the DuckDB idempotent append."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.core.errors import DataContractError
from riskops.io.warehouse.duckdb import DuckDBWarehouse
from riskops.scoring.payloads import CustomerEvent, OutcomeEvent, event_id_of, parse_event
from streaming.worker import CSV_HEADER, CsvSink

CUSTOMER = {"customer_id": "C1", "signup_ts": "2024-01-01T00:00:00", "attributes": {"age": 40}}


def _event(**kw: object) -> bytes:
    return json.dumps({"kind": "customer", "event_id": "e1", "customer": CUSTOMER} | kw).encode()


def test_events_parse_by_kind_and_refuse_what_the_service_refuses() -> None:
    tx = {"ts": "2026-01-01", "amount": 5, "direction": "in"}
    e = parse_event(_event(transactions=[tx]))
    assert isinstance(e, CustomerEvent) and e.customer.signup_ts.tzinfo is not None
    o = parse_event(_event(kind="outcome", event_id="o1", account_state="SUSPENDED", decided_at="2026-10-01"))
    assert isinstance(o, OutcomeEvent) and o.account_state == "SUSPENDED"
    bad = _event(kind="outcome", event_id="o2", account_state="CLOSED", decided_at="2026-10-01")
    with pytest.raises(DataContractError, match="account_state"):
        parse_event(bad)
    with pytest.raises(DataContractError, match=r"transactions\.0\.amount"):
        parse_event(_event(transactions=[{**tx, "amount": -1}]))
    with pytest.raises(DataContractError, match="at most 100 are accepted"):
        parse_event(b"x" * 101, max_bytes=100)
    assert event_id_of(bad) == "o2" and event_id_of(b"\xff{") is None
    with pytest.raises(DataContractError, match="event_id"):
        parse_event(_event(event_id="x'; DROP TABLE stream_results; --"))


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"customer": {**CUSTOMER, "signup_ts": 1700000000}}, "customer.signup_ts"),  # epoch: refused, not guessed
        ({"customer": {**CUSTOMER, "signup_ts": "1700000000"}}, "customer.signup_ts"),
        ({"as_of": "2999-01-01T00:00:00Z"}, "as_of"),
        ({"as_of": "2023-06-01T00:00:00Z"}, "customer.signup_ts"),  # before the signup
        ({"customer": {**CUSTOMER, "signup_ts": "2999-01-01"}}, "customer.signup_ts"),
        ({"transactions": [{"ts": "2999-01-01", "amount": 5, "direction": "in"}]}, "transactions.0.ts"),
        ({"kind": "outcome", "account_state": "ACTIVE", "decided_at": "2999-01-01"}, "decided_at"),
    ],
)
def test_events_keep_the_online_contract_of_the_service(change: dict[str, object], where: str) -> None:
    """The stream refuses what `POST /v1/score` refuses, from the same definition, naming the field."""
    with pytest.raises(DataContractError) as e:
        parse_event(_event(**change))
    assert e.value.where == where


def test_the_csv_sink_writes_each_event_once_and_cuts_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    row = {
        "event_id": "e1",
        "customer_id": "C1",
        "score": 0.5,
        "segment": "High",
        "offboard": True,
        "model_version": "m1",
    }
    sink = CsvSink(path)
    sink.write([row, {**row, "event_id": "e2"}])
    with path.open("a") as fh:
        fh.write("e3,C3,0.1")  # a crash mid-line
    sink = CsvSink(path)  # the restart
    sink.write([row, {**row, "event_id": "e3"}])
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(CSV_HEADER)
    assert [x.split(",")[0] for x in lines[1:]] == ["e1", "e2", "e3"]
    assert lines[3] == "e3,C1,0.500000,High,offboard,m1"


def test_duckdb_append_new_appends_each_key_once(tmp_path: Path) -> None:
    rows = pa.table({"event_id": ["a", "b"], "score": [0.1, 0.2]})
    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh:
        assert wh.append_new("t", rows, "event_id") == 2
        assert wh.append_new("t", pa.table({"event_id": ["b", "c"], "score": [9.0, 0.3]}), "event_id") == 1
        got = sorted(wh.read_table("t").to_pylist(), key=lambda r: r["event_id"])
        assert [(r["event_id"], r["score"]) for r in got] == [("a", 0.1), ("b", 0.2), ("c", 0.3)]


def test_a_deeply_nested_event_is_a_dead_letter_not_a_stalled_stream() -> None:
    """A 100 KB nested body: the RecursionError escaped from reading its event id and the batch was handed
    back every second. Now it parses to a refusal and no id."""
    nested = b"[" * 50_000 + b"]" * 50_000
    with pytest.raises(DataContractError):
        parse_event(nested)
    assert event_id_of(nested) is None
    assert event_id_of(b'{"event_id": ' + b"[" * 5_000 + b"]" * 5_000 + b"}") is None


def test_a_dead_letter_reason_fits_pubsubs_attribute_limit_in_bytes() -> None:
    from streaming.worker import PUBSUB_ATTRIBUTE_BYTES, attribute_value

    reason = "ü" * 1_000  # 2,000 bytes: 1,000 characters passed a character cut
    bounded = attribute_value(reason)
    assert len(bounded.encode()) <= PUBSUB_ATTRIBUTE_BYTES and bounded == "ü" * 512
    assert attribute_value("short") == "short"


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=25,
)
EVENTISH = st.fixed_dictionaries(
    {"kind": st.sampled_from(["customer", "outcome", "refund"]), "event_id": st.text(max_size=20)},
    optional={
        "customer": JSONISH | st.fixed_dictionaries({"customer_id": JSONISH, "signup_ts": JSONISH}),
        "transactions": st.lists(JSONISH, max_size=3),
        "as_of": JSONISH,
        "account_state": JSONISH,
        "decided_at": JSONISH,
    },
)


@settings(max_examples=300, deadline=None)
@given(
    body=st.binary(max_size=200)
    | JSONISH.map(lambda v: json.dumps(v).encode())
    | EVENTISH.map(lambda v: json.dumps(v, ensure_ascii=False).encode())
)
def test_any_message_is_an_event_or_a_dead_letter_reason(body: bytes) -> None:
    """Whatever arrives is either an event or a DataContractError (the dead letter's reason); reading its event
    id never raises."""
    try:
        event = parse_event(body)
    except DataContractError as e:
        assert e.what and e.where
    else:
        assert isinstance(event, CustomerEvent | OutcomeEvent)
    event_id_of(body)

"""Outcomes are an append-only ledger: loading adds, never replaces; what cannot be an outcome is quarantined."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from riskops.core.errors import DataContractError
from riskops.data.contract import Mapping, TableMapping
from riskops.io.warehouse.duckdb import DuckDBWarehouse
from riskops.runs.monitor import read_outcomes
from riskops.runs.outcomes import OUTCOMES, QUARANTINE, load_outcomes

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _book(tmp_path: Path, ids: list[str]) -> DuckDBWarehouse:
    wh = DuckDBWarehouse(tmp_path / "w.duckdb")
    wh.load("unlabelled_customers", pa.table({"customer_id": ids}))
    return wh


def _csv(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text("customer_id,account_state,decided_at,source\n" + body)
    return path


def test_a_second_file_adds_to_the_ledger_and_the_same_file_twice_adds_nothing(tmp_path: Path) -> None:
    first = _csv(tmp_path, "oct.csv", "C1,SUSPENDED,2026-10-15,review\nC2,ACTIVE,2026-10-20,core\n")
    second = _csv(tmp_path, "nov.csv", "C1,ACTIVE,2026-11-15T10:00:00Z,review\nC2,ACTIVE,2026-10-20,core\n")
    with _book(tmp_path, ["C1", "C2"]) as wh:
        assert load_outcomes(wh, first, now=NOW).kept == 2
        again = load_outcomes(wh, first, now=NOW)
        assert (again.kept, again.already, again.quarantined) == (0, 2, {})
        loaded = load_outcomes(wh, second, now=NOW)
        assert (loaded.kept, loaded.already) == (1, 1)
        assert wh.count(OUTCOMES) == 3  # October's outcomes are still there
        latest = read_outcomes(wh).set_index("customer_id")["account_state"].to_dict()
    assert latest == {"C1": "ACTIVE", "C2": "ACTIVE"}  # the later decision about C1 counts


def test_rows_that_cannot_be_outcomes_are_quarantined_with_their_reason(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "mixed.csv",
        "\n".join(
            [
                "C1,SUSPENDED,2026-10-15,core",  # kept
                ",SUSPENDED,2026-10-15,core",  # blank id
                "C2,CLOSED,2026-10-15,core",  # not a state the labels know
                "C2,ACTIVE,last tuesday,core",  # not a time
                "C2,ACTIVE,2999-01-01,core",  # in the future
                "C9,ACTIVE,2026-10-15,core",  # no such customer
                "C1,SUSPENDED,2026-10-15,core",  # the first row again
                "C3,ACTIVE,2026-10-16,core",  # C3 given both states for one time and source
                "C3,SUSPENDED,2026-10-16,core",
            ]
        )
        + "\n",
    )
    with _book(tmp_path, ["C1", "C2", "C3"]) as wh:
        loaded = load_outcomes(wh, path, now=NOW)
        assert loaded.kept == 1 and loaded.quarantined == {
            "blank_id": 1,
            "unknown_state": 1,
            "bad_time": 1,
            "future_date": 1,
            "unknown_customer": 1,
            "duplicate": 1,
            "conflicting": 2,
        }
        assert "1 outcomes kept" in loaded.summary() and "8 quarantined" in loaded.summary()
        held = wh.read_table(QUARANTINE).to_pandas()
        assert len(held) == 8 and set(held["file"]) == {"mixed.csv"}
        assert held.set_index("quarantine_reason").loc["bad_time", "decided_at"] == "last tuesday"
        load_outcomes(wh, path, now=NOW)
        assert wh.count(QUARANTINE) == 8 and wh.count(OUTCOMES) == 1  # loading again adds nothing anywhere


def test_an_outcome_that_contradicts_the_ledger_is_quarantined(tmp_path: Path) -> None:
    with _book(tmp_path, ["C1", "C2"]) as wh:
        load_outcomes(wh, _csv(tmp_path, "a.csv", "C1,SUSPENDED,2026-10-15,core\n"), now=NOW)
        loaded = load_outcomes(
            wh, _csv(tmp_path, "b.csv", "C1,ACTIVE,2026-10-15,core\nC2,ACTIVE,2026-10-15,core\n"), now=NOW
        )
        assert loaded.kept == 1 and loaded.quarantined == {"conflicts_with_ledger": 1}
        assert read_outcomes(wh).set_index("customer_id")["account_state"].to_dict() == {
            "C1": "SUSPENDED",
            "C2": "ACTIVE",
        }


def test_ids_are_text_end_to_end(tmp_path: Path) -> None:
    """A CSV id `007` is not the number 7: it joins the customer `007` of the book."""
    with _book(tmp_path, ["007", "7"]) as wh:
        load_outcomes(wh, _csv(tmp_path, "ids.csv", "007,SUSPENDED,2026-10-15,core\n"), now=NOW)
        assert read_outcomes(wh)["customer_id"].tolist() == ["007"]


def test_a_file_with_no_outcome_in_it_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    with _book(tmp_path, ["C1"]) as wh:
        load_outcomes(wh, _csv(tmp_path, "good.csv", "C1,SUSPENDED,2026-10-15,core\n"), now=NOW)
        bad = tmp_path / "bad.csv"
        bad.write_text("customer_id,account_state,decided_at\nC1,CLOSED,2026-10-15\nC1,GONE,2026-10-16\n")
        with pytest.raises(DataContractError, match="unknown_state: 2") as e:
            load_outcomes(wh, bad, now=NOW)
        assert "labels" in (e.value.fix or "")
        assert wh.count(OUTCOMES) == 1 and not wh.exists(QUARANTINE)
        with pytest.raises(DataContractError, match="missing"):
            load_outcomes(
                wh,
                _csv(tmp_path, "x.csv", "C1,SUSPENDED,2026-10-15,core\n"),
                Mapping(outcomes=TableMapping(columns={"customer_id": "client"})),
                now=NOW,
            )


def test_outcomes_need_the_book_to_be_matched_against(tmp_path: Path) -> None:
    with DuckDBWarehouse(tmp_path / "empty.duckdb") as wh, pytest.raises(DataContractError, match="ingest"):
        load_outcomes(wh, _csv(tmp_path, "o.csv", "C1,SUSPENDED,2026-10-15,core\n"), now=NOW)


def test_an_outcomes_file_is_read_through_the_mapping(tmp_path: Path) -> None:
    path = tmp_path / "bank.csv"
    path.write_text("client,status,closed on\nK1,Closed-Risk,2026-10-15\nK2, open ,2026-10-20\n")
    mapping = Mapping(
        outcomes=TableMapping(columns={"customer_id": "client", "account_state": "status", "decided_at": "closed on"}),
        labels={"SUSPENDED": ["closed-risk"], "ACTIVE": ["open"]},
    )
    with _book(tmp_path, ["K1", "K2"]) as wh:
        assert load_outcomes(wh, path, mapping, now=NOW).kept == 2
        got = read_outcomes(wh).set_index("customer_id")["account_state"].to_dict()
    assert got == {"K1": "SUSPENDED", "K2": "ACTIVE"}


def test_a_ledger_loaded_before_keys_keeps_its_outcomes(tmp_path: Path) -> None:
    """A table `outcomes` from when each load replaced it gets its keys on the next load; nothing is lost."""
    with _book(tmp_path, ["C1", "C2"]) as wh:
        wh.load(
            OUTCOMES,
            pa.table(
                {
                    "customer_id": ["C1"],
                    "account_state": ["SUSPENDED"],
                    "decided_at": pa.array([NOW.replace(month=10)], pa.timestamp("us", tz="UTC")),
                    "source": ["core"],
                }
            ),
        )
        assert load_outcomes(wh, _csv(tmp_path, "o.csv", "C2,ACTIVE,2026-10-15,core\n"), now=NOW).kept == 1
        assert sorted(read_outcomes(wh)["customer_id"]) == ["C1", "C2"]

"""Books are namespaces: each book's runs, registry and champion in its own folder under one home."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskops.core.config import Settings, StepConfig, book_name, check_book, remember_book
from riskops.core.errors import ConfigError
from riskops.io.artifacts import open_store
from riskops.runs.record import StepRecord, record_failure, write_step
from riskops.runs.report import list_runs
from riskops.scoring.policy import OffboardConfig, policy_digest


def test_a_named_book_moves_home_and_the_artifact_root_into_its_folder(tmp_path: Path) -> None:
    local = Settings(home=tmp_path, book="bank")
    assert local.home == tmp_path / "books" / "bank" and local.artifacts == str(tmp_path / "books" / "bank")
    cloud = Settings(home=tmp_path, artifact_root="gs://b/riskops/", book="bank")
    assert cloud.artifacts == "gs://b/riskops/books/bank"
    assert Settings(home=tmp_path).artifacts == str(tmp_path)  # no book: home itself, as in production


def test_the_last_runs_book_is_the_default_of_later_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RISKOPS_BOOK", raising=False)
    assert Settings.load(home=tmp_path).book == ""
    remember_book(Settings(home=tmp_path, book="credit"))
    assert (tmp_path / "books" / "current").read_text().strip() == "credit"
    assert Settings.load(home=tmp_path).home == tmp_path / "books" / "credit"
    assert Settings.load(home=tmp_path, book="amlsim").book == "amlsim"  # a named book wins
    monkeypatch.setenv("RISKOPS_BOOK", "synthetic")
    assert Settings.load(home=tmp_path).book == "synthetic"


def test_a_step_never_moves_its_root_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled spec's artifact root is already the book's: RISKOPS_BOOK in a step's pod changes nothing."""
    config = StepConfig.from_settings(Settings(home=tmp_path, book="bank"), tmp_path / "w.duckdb")
    monkeypatch.setenv("RISKOPS_BOOK", "other")
    assert config.settings().artifacts == str(tmp_path / "books" / "bank")


@pytest.mark.parametrize("data, book", [("synthetic", "synthetic"), ("~/exports/Bank Book 2026/", "Bank-Book-2026"),
                                        ("./überweisung", "uberweisung"), ("/", "book")])  # fmt: skip
def test_a_runs_data_names_its_book(data: str, book: str) -> None:
    assert book_name(data) == book


@pytest.mark.parametrize("name", ["..", "../x", "a/b", "current", "", ".hidden", "x" * 65, "a b"])
def test_a_book_name_that_could_leave_its_folder_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="book name"):
        check_book(name)


def test_runs_list_shows_complete_failed_and_incomplete_runs(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    step = StepRecord(step="ingest-labelled", seconds=1.0, figure="")
    for run in ("20261201-000000-001", "20261202-000000-001"):
        write_step(store, run, step)
    record_failure(store, "20261201-000000-001", "job", ConfigError("bad mapping", "mapping.yaml", "fix it"))
    store.write_text("models/champion.json", "{}")
    listed = list_runs(store)
    assert [(r["run_id"], r["status"]) for r in listed] == [
        ("20261201-000000-001", "failed"),
        ("20261202-000000-001", "incomplete"),
    ]
    assert listed[0]["error"] == "bad mapping" and "fix it" in listed[0]["said"]


def test_a_policys_digest_names_its_settings_not_their_order() -> None:
    a = OffboardConfig.model_validate({"high_cutoff": 0.2, "medium_factor": 0.5})
    b = OffboardConfig.model_validate({"medium_factor": 0.5, "high_cutoff": 0.2})
    assert policy_digest(a) == policy_digest(b) != policy_digest(OffboardConfig())
    assert policy_digest(a).startswith("sha256:") and len(policy_digest(a)) == 71

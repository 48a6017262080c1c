from __future__ import annotations

import os
from pathlib import Path

import pytest

from riskops.core.errors import ArtifactError
from riskops.io.artifacts import LocalStore, open_store


def test_round_trip_and_listing(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    assert isinstance(store, LocalStore)
    uri = store.write_text("run1/validation/report.json", "{}")
    assert Path(uri).read_text() == "{}"
    store.write_bytes("run1/model.cbm", b"\x00\x01")
    assert store.list("run1") == ["run1/model.cbm", "run1/validation/report.json"]
    assert store.exists("run1/model.cbm") and not store.exists("run1/nope")
    store.delete("run1/model.cbm")
    assert store.list() == ["run1/validation/report.json"]


def test_a_failed_write_keeps_the_old_artifact_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStore(tmp_path)
    store.write_text("champion.json", "old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        store.write_text("champion.json", "new")
    assert store.read_text("champion.json") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["champion.json"]


@pytest.mark.parametrize("key", ["../escape", "a/../../b", "", "a//b"])
def test_keys_cannot_escape_the_root(tmp_path: Path, key: str) -> None:
    with pytest.raises(ArtifactError, match="not a plain relative path"):
        LocalStore(tmp_path).write_text(key, "x")


def test_missing_artifact_is_named(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"artifact runs/x\.json not found"):
        LocalStore(tmp_path).read_bytes("runs/x.json")


def test_files_are_readable_as_the_umask_allows_not_private_to_the_writer(tmp_path: Path) -> None:
    import stat

    from riskops.io.artifacts import FILE_MODE

    path = Path(LocalStore(tmp_path).write_text("run/offboarding.csv", "a,b\n"))
    assert stat.S_IMODE(path.stat().st_mode) == FILE_MODE  # 0644 under the usual umask 022, not mkstemp's 0600

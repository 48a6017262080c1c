"""The champion pointer and its history change together, by compare-and-swap (issue: hostile input, finding
5): promotes that run at once all land, and none loses another's history entry."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from riskops.io.artifacts import LocalStore
from riskops.model.registry import CHAMPION, Registry


def test_write_if_refuses_a_stale_token(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    data, token = store.read_versioned("k.json")
    assert data is None and store.write_if("k.json", b"first", token)
    assert not store.write_if("k.json", b"lost update", token)  # written since that token was read
    data, token = store.read_versioned("k.json")
    assert data == b"first" and store.write_if("k.json", b"second", token)
    assert store.read_bytes("k.json") == b"second"


def test_concurrent_promotes_keep_every_history_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What is raced is the pointer; whether each version's model loads is checked elsewhere.
    monkeypatch.setattr(Registry, "check_loads", lambda self, version, card=None: None)
    store = LocalStore(tmp_path)
    writers, rounds = 8, 15
    start = threading.Barrier(writers)
    errors: list[BaseException] = []

    def promote(w: int) -> None:
        reg = Registry(store)
        start.wait()
        try:
            for r in range(rounds):
                reg.set_champion(f"m-{w}-{r}", "race", attempts=1000)
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=promote, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    reg = Registry(store)
    history = [h["version"] for h in reg.history()]
    assert sorted(history) == sorted(f"m-{w}-{r}" for w in range(writers) for r in range(rounds))
    assert reg.champion() == history[-1]
    for w in range(writers):  # each writer's own promotes land in its order
        mine = [v for v in history if v.startswith(f"m-{w}-")]
        assert mine == [f"m-{w}-{r}" for r in range(rounds)]
    assert store.exists(CHAMPION) and not list(tmp_path.rglob("*.tmp"))

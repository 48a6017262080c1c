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


def test_models_gc_lists_then_deletes_what_killed_runs_left(tmp_path: Path) -> None:
    """Finding 8: `kill -9` during training left version folders without a card and `*.tmp` files that nothing
    cleaned. Older than the threshold they are listed, and deleted with --delete; young ones may be a run in
    progress and stay; registered versions and the champion are never touched."""
    import os
    import time

    from typer.testing import CliRunner

    from cli.main import app

    root = tmp_path / "store"
    files = {
        "models/m-registered/card.json": 3,
        "models/m-registered/model.cbm": 3,
        "models/m-killed/model.cbm": 3,
        "models/m-killed/holdout.parquet": 3,
        "models/m-registered/.card.json.x1y2.tmp": 3,
        "models/m-training-now/model.cbm": 0,
    }
    for key, days in files.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
        old = time.time() - days * 86_400
        os.utime(path, (old, old))
    runner = CliRunner()
    env = {"RISKOPS_ARTIFACT_ROOT": str(root)}
    listed = runner.invoke(app, ["models", "gc"], env=env)
    assert listed.exit_code == 0, listed.output
    leftovers = [
        "models/m-killed/holdout.parquet",
        "models/m-killed/model.cbm",
        "models/m-registered/.card.json.x1y2.tmp",
    ]
    assert [line.removeprefix(str(root) + "/") for line in listed.output.splitlines()[:-1]] == leftovers
    assert "3 leftover file(s); --delete removes them" in listed.output
    assert all((root / k).exists() for k in files)
    deleted = runner.invoke(app, ["models", "gc", "--delete"], env=env)
    assert deleted.exit_code == 0 and deleted.output.count("deleted ") == 3
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == [
        "models/m-registered/card.json",
        "models/m-registered/model.cbm",
        "models/m-training-now/model.cbm",
    ]


def test_a_truncated_pointer_is_a_clear_error_for_list_and_gc_not_a_traceback(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    store = LocalStore(tmp_path / "store")
    store.write_text(CHAMPION, '{"version": "m1", "hist')
    for command in (["models", "list"], ["models", "gc"]):
        result = CliRunner().invoke(
            app, command, env={"RISKOPS_ARTIFACT_ROOT": str(tmp_path / "store"), "COLUMNS": "200", "NO_COLOR": "1"}
        )
        assert result.exit_code == 2, (command, result.output)
        assert "champion pointer is unreadable" in result.output and "models promote" in result.output
        assert "Traceback" not in result.output

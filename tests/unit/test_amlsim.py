from __future__ import annotations

import csv
import random
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from riskops.core.errors import DataContractError
from riskops.data.amlsim import default_dir, load_amlsim

SOURCE = default_dir()
pytestmark = pytest.mark.skipif(not (SOURCE / "nodes.csv").exists(), reason="../shared/data/amlsim not present")


def _read(folder: Path) -> dict[str, object]:
    return {str(p.relative_to(folder)): pq.read_table(p).to_pylist() for p in sorted(folder.rglob("*.parquet"))}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("aml") / "amlsim"
    load_amlsim(SOURCE, out)
    return out


def test_both_sides_of_each_transfer_are_in_the_history(loaded: Path) -> None:
    with (SOURCE / "transactions.csv").open() as fh:
        n_transfers = sum(1 for _ in fh) - 1
    lab = pq.read_table(loaded / "labelled" / "transactions").num_rows
    unl = pq.read_table(loaded / "unlabelled" / "transactions").num_rows
    assert lab + unl == 2 * n_transfers
    first = pq.read_table(loaded / "labelled" / "transactions").to_pylist()
    by_id = {r["transaction_id"]: r for r in first}
    out = next(r for r in first if r["direction"] == "out" and r["transaction_id"].replace("-out", "-in") in by_id)
    twin = by_id[out["transaction_id"].replace("-out", "-in")]
    assert twin["customer_id"] == out["counterparty_id"] and twin["counterparty_id"] == out["customer_id"]
    assert twin["amount"] == out["amount"] and twin["ts"] == out["ts"]


def test_labels_and_cohorts(loaded: Path) -> None:
    customers = pq.read_table(loaded / "labelled" / "customers")
    assert set(customers.column("account_state").to_pylist()) == {"ACTIVE", "SUSPENDED"}
    assert customers.column_names == ["customer_id", "signup_ts", "account_state", "init_balance"]
    unl = pq.read_table(loaded / "unlabelled" / "customers")
    assert "account_state" not in unl.column_names
    assert 0.15 < unl.num_rows / (unl.num_rows + customers.num_rows) < 0.25


def test_fraud_step_never_reaches_the_output(loaded: Path, tmp_path: Path) -> None:
    """Scramble fraudStep: the loaded tables must be byte-for-byte the same data."""
    scrambled = tmp_path / "src"
    scrambled.mkdir()
    shutil.copy(SOURCE / "transactions.csv", scrambled / "transactions.csv")
    rng = random.Random(0)
    with (SOURCE / "nodes.csv").open() as src, (scrambled / "nodes.csv").open("w", newline="") as dst:
        reader, writer = csv.DictReader(src), None
        for row in reader:
            writer = writer or csv.DictWriter(dst, fieldnames=list(row))
            if dst.tell() == 0:
                writer.writeheader()
            row["fraudStep"] = str(rng.randint(-1, 200))
            writer.writerow(row)
    load_amlsim(scrambled, tmp_path / "out")
    assert _read(tmp_path / "out") == _read(loaded)
    for p in (tmp_path / "out").rglob("*.parquet"):
        assert not any("fraud" in c.lower() for c in pq.read_schema(p).names)


def test_missing_columns_are_named(tmp_path: Path) -> None:
    (tmp_path / "nodes.csv").write_text("nodeid,init_balance\n1,2.0\n")
    shutil.copy(SOURCE / "transactions.csv", tmp_path / "transactions.csv")
    with pytest.raises(DataContractError, match=r"nodes.csv lacks columns \['isFraud'\]"):
        load_amlsim(tmp_path, tmp_path / "out")

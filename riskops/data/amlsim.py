"""Loader for the AMLSim sample (IBM AMLSim, Apache-2.0) into the contract's layout.

- `isFraud` 1 -> SUSPENDED, 0 -> ACTIVE. `fraudStep` leaks the label and is never read.
- Each transfer is an outgoing transaction of its source and an incoming one of its target.
- `time` is a simulation step; one step is one day from START. as_of is the last step's day.
- A deterministic share of accounts (by a hash of the id) forms the unlabelled cohort, so the scoring
  path can be run on real data; their labels are written aside to `holdout_labels.parquet` only.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from riskops.core.errors import DataContractError
from riskops.data.contract import LABEL_ACTIVE, LABEL_SUSPENDED

START = datetime(2025, 1, 1, tzinfo=UTC)
DEFAULT_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "amlsim"
NODE_COLUMNS = ["nodeid", "isFraud", "init_balance"]  # fraudStep deliberately absent
TX_COLUMNS = ["sourceNodeId", "targetNodeId", "value", "time"]


@dataclass
class AmlsimSummary:
    out: str
    as_of: str
    customers: dict[str, int]
    transactions: dict[str, int]
    suspended_share: float


def default_dir() -> Path:
    """../shared/data/amlsim next to the checkout (or RISKOPS_AMLSIM_DIR)."""
    import os

    env = os.environ.get("RISKOPS_AMLSIM_DIR")
    if env:
        return Path(env)
    here = Path.cwd()
    for base in (here, *here.parents):
        candidate = base.parent / "shared" / "data" / "amlsim"
        if candidate.exists():
            return candidate
    return DEFAULT_DIR


def _read_csv(path: Path, columns: list[str], types: dict[str, pa.DataType]) -> pa.Table:
    if not path.exists():
        raise DataContractError(f"{path.name} not found", str(path.parent), "point --source at the AMLSim folder")
    header = path.open().readline().strip().split(",")
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataContractError(
            f"{path.name} lacks columns {missing}; it has {header}", str(path), "use the AMLSim sample's CSVs"
        )
    return pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(include_columns=columns, column_types=types))


def _in_holdout(ids: pa.Array, share: float) -> np.ndarray:
    # Stable across runs and machines: a hash of the id, not an RNG draw.
    h = np.array([int(hashlib.sha256(str(i).encode()).hexdigest()[:8], 16) for i in ids.to_pylist()])
    return h < share * 0xFFFFFFFF


def load_amlsim(source: Path, out: Path, unlabelled_share: float = 0.2) -> AmlsimSummary:
    """Write `labelled/` and `unlabelled/` cohorts in the contract's layout under `out`."""
    nodes = _read_csv(source / "nodes.csv", NODE_COLUMNS, {"nodeid": pa.int64(), "isFraud": pa.int8()})
    tx = _read_csv(
        source / "transactions.csv",
        TX_COLUMNS,
        {"sourceNodeId": pa.int64(), "targetNodeId": pa.int64(), "value": pa.float64(), "time": pa.int64()},
    )
    steps = tx.column("time")
    last_step = int(pc.max(steps).as_py())
    as_of = (START + timedelta(days=last_step)).date()
    ids = pc.binary_join_element_wise("A", pc.cast(nodes.column("nodeid"), pa.string()), "")
    holdout = _in_holdout(nodes.column("nodeid"), unlabelled_share)
    state = pc.if_else(pc.equal(nodes.column("isFraud"), 1), LABEL_SUSPENDED, LABEL_ACTIVE)
    customers = pa.table(
        {
            "customer_id": ids,
            "signup_ts": pa.array([START] * nodes.num_rows, pa.timestamp("us", tz="UTC")),
            "account_state": state,
            "init_balance": nodes.column("init_balance"),
        }
    )
    # Both sides of each transfer; the step's time of day is unknown, so noon.
    ts = pc.add(
        pa.scalar(START + timedelta(hours=12), pa.timestamp("us", tz="UTC")),
        pc.cast(pc.multiply(steps, 86_400_000_000), pa.duration("us")),
    )
    row = pc.cast(pa.array(np.arange(tx.num_rows)), pa.string())
    sides = []
    for direction, own, other in (
        ("out", "sourceNodeId", "targetNodeId"),
        ("in", "targetNodeId", "sourceNodeId"),
    ):
        sides.append(
            pa.table(
                {
                    "transaction_id": pc.binary_join_element_wise("X", row, f"-{direction}", ""),
                    "customer_id": pc.binary_join_element_wise("A", pc.cast(tx.column(own), pa.string()), ""),
                    "ts": ts,
                    "amount": tx.column("value"),
                    "currency": pa.array(["USD"] * tx.num_rows),
                    "direction": pa.array([direction] * tx.num_rows),
                    "type": pa.array(["transfer"] * tx.num_rows),
                    "counterparty_id": pc.binary_join_element_wise("A", pc.cast(tx.column(other), pa.string()), ""),
                    "status": pa.array(["completed"] * tx.num_rows),
                }
            )
        )
    transactions = pa.concat_tables(sides)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    counts: dict[str, dict[str, int]] = {"customers": {}, "transactions": {}}
    for cohort, mask in (("labelled", ~holdout), ("unlabelled", holdout)):
        cust = customers.filter(pa.array(mask))
        if cohort == "unlabelled":
            tmp.mkdir(parents=True, exist_ok=True)
            pq.write_table(cust.select(["customer_id", "account_state"]), tmp / "holdout_labels.parquet")
            cust = cust.drop_columns(["account_state"])
        txc = transactions.filter(pc.is_in(transactions.column("customer_id"), value_set=cust.column("customer_id")))
        for sub, table in (("customers", cust), ("transactions", txc)):
            (tmp / cohort / sub).mkdir(parents=True, exist_ok=True)
            pq.write_table(table, tmp / cohort / sub / "part-00000.parquet", compression="zstd")
        counts["customers"][cohort] = cust.num_rows
        counts["transactions"][cohort] = txc.num_rows
    n_lab = counts["customers"]["labelled"]
    susp = int(pc.sum(pc.equal(customers.filter(pa.array(~holdout)).column("account_state"), LABEL_SUSPENDED)).as_py())
    summary = AmlsimSummary(
        out=str(out),
        as_of=as_of.isoformat(),
        customers=counts["customers"],
        transactions=counts["transactions"],
        suspended_share=round(susp / max(n_lab, 1), 4),
    )
    (tmp / "manifest.json").write_text(json.dumps({"source": "amlsim", **summary.__dict__}, indent=2))
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return summary

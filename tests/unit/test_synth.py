from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from riskops.data.synth import generate


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*.parquet")):
        h.update(p.relative_to(folder).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def con(small_dataset: Path) -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute("SET TimeZone='UTC'")
    for cohort in ("labelled", "unlabelled"):
        for kind in ("customers", "transactions"):
            c.execute(f"CREATE VIEW {cohort}_{kind} AS SELECT * FROM '{small_dataset}/{cohort}/{kind}/*.parquet'")
    return c


def test_same_seed_same_bytes_other_seed_other_data(tmp_path: Path) -> None:
    generate(tmp_path / "a", customers=300, seed=3, chunk_size=100)
    generate(tmp_path / "b", customers=300, seed=3, chunk_size=100)
    generate(tmp_path / "c", customers=300, seed=4, chunk_size=100)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b") != _digest(tmp_path / "c")


def test_no_partial_folder_is_left(tmp_path: Path) -> None:
    generate(tmp_path / "d", customers=50, seed=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]
    assert (tmp_path / "d" / "manifest.json").exists()


def test_cohorts_and_label_share(con: duckdb.DuckDBPyConnection) -> None:
    n_lab, share = con.sql(
        "SELECT COUNT(*), AVG((account_state = 'SUSPENDED')::INT) FROM labelled_customers"
    ).fetchone()  # type: ignore[misc]
    assert n_lab == 1200
    assert 0.025 <= share <= 0.09
    cols = [r[0] for r in con.sql("DESCRIBE unlabelled_customers").fetchall()]
    assert "account_state" not in cols and {"age", "declared_income", "kyc_level"} <= set(cols)


def test_transactions_respect_the_contract(con: duckdb.DuckDBPyConnection) -> None:
    bad = con.sql(
        """SELECT COUNT(*) FROM labelled_transactions t JOIN labelled_customers c USING (customer_id)
           WHERE t.amount < 0 OR t.ts >= TIMESTAMPTZ '2026-10-01' OR t.ts < c.signup_ts
              OR t.direction NOT IN ('in', 'out')"""
    ).fetchone()
    assert bad == (0,)
    dup = con.sql("SELECT COUNT(*) - COUNT(DISTINCT transaction_id) FROM labelled_transactions").fetchone()
    assert dup == (0,)
    months = con.sql(
        """SELECT MIN(d), MAX(d) FROM (
             SELECT date_diff('day', MIN(ts), MAX(ts)) d FROM labelled_transactions GROUP BY customer_id)"""
    ).fetchone()
    assert months is not None and months[1] <= 18 * 31 and months[0] >= 0


def test_no_single_rule_gives_the_label(con: duckdb.DuckDBPyConnection) -> None:
    """Each typology's obvious rule catches some suspended customers but is neither precise nor complete."""
    rules = {
        "near_threshold_cash": "type = 'cash_deposit' AND amount BETWEEN 8500 AND 10000",
        "high_risk_corridor": "direction = 'out' AND country IN ('AE','CY','HK','IR','KY','MM','NG','PA','RU','VG')",
        "chargeback": "status = 'chargeback'",
        "failed": "status = 'failed'",
        "crypto": "type = 'crypto'",
    }
    for name, cond in rules.items():
        tp, flagged, positives = con.sql(
            f"""WITH f AS (SELECT DISTINCT customer_id FROM labelled_transactions WHERE {cond})
                SELECT COUNT(f.customer_id) FILTER (WHERE c.account_state = 'SUSPENDED'),
                       COUNT(f.customer_id), COUNT(*) FILTER (WHERE c.account_state = 'SUSPENDED')
                FROM labelled_customers c LEFT JOIN f USING (customer_id)"""
        ).fetchone()  # type: ignore[misc]
        precision = tp / flagged if flagged else 0.0
        recall = tp / positives
        assert precision < 0.8 and recall < 0.8, (name, precision, recall)

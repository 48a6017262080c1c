"""What a book's runs would cost on GCP (`riskops pipeline estimate`): a daily scoring run and a weekly training
run, each task on the resources `pipelines.sizing` gives the book, and each BigQuery step's bytes scanned from
the tables' sizes and the columns its queries read. Prices are data (configs/gcp-prices.yaml, dated).

The model, stated so it can be argued with:
- a year of transactions is kept (the longest feature window); `labelled_share` of customers and of their
  transactions are the labelled cohort, the rest is scored;
- bytes: each contract column at BigQuery's logical size (STRING 2 bytes plus its length, TIMESTAMP and
  FLOAT64 8), at least `bigquery_min_mib_per_table` per table a query reads; a cohort's ingest reads its raw
  tables twice (the checks, then the clean copy), its features query reads the clean transactions once, the
  training run's validation twice more (as of the cut-off and as of an earlier one), and every step that reads
  the features table reads all of it;
- task minutes: scaled from the measurements in pipelines/sizing.py (a CatBoost fit: 46 s per 100k labelled
  customers on 2 cores; a training run is ~20 fits: the imbalance comparison, CV against the baselines, a few
  tuning trials and the final fit; validation 2; evaluation 1), linear in the book and in the task's cores, plus
  `STARTUP_MIN` a task for its pod; the BigQuery-bound and bookkeeping tasks `LIGHT_MIN`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from pipelines.sizing import Resources, sizing_for
from riskops.core.configfile import read_config

PRICES = Path(__file__).resolve().parents[1] / "configs" / "gcp-prices.yaml"
TIB, GIB, MIB = 2**40, 2**30, 2**20
# Logical bytes per row of what the steps read: the contract's transaction columns (ids of ~12 characters,
# a direction, currency, type, country and status of a few) and a customer row with a handful of attributes.
TRANSACTION_BYTES = 18 + 14 + 8 + 8 + 5 + 5 + 10 + 14 + 4 + 11
CUSTOMER_BYTES = 14 + 8 + 8 + 8 * 12
FEATURES = 150  # columns of a features table, 8 bytes each (the synthetic book's 144, rounded)
FIT_S_PER_100K = 46.0  # one CatBoost fit, 2 cores (bench/)
FITS = {"train": 20, "validate": 2, "evaluate": 1}
STARTUP_MIN, LIGHT_MIN = 1.5, 2.0
SCORE_MIN_PER_M, BOOK_MIN_PER_M = 1.0, 1.5  # a shard's predict and reasons; the gather, book and drift


class Prices(BaseModel):
    model_config = ConfigDict(extra="forbid")

    noted: str
    currency: str = "USD"
    bigquery_per_tib_scanned: float = Field(ge=0)
    bigquery_free_tib_per_month: float = Field(ge=0)
    bigquery_min_mib_per_table: float = Field(ge=0)
    bigquery_storage_per_gib_month: float = Field(ge=0)
    pipeline_run: float = Field(ge=0)
    vcpu_hour: float = Field(ge=0)
    gib_hour: float = Field(ge=0)


def load_prices(path: Path | None = None) -> Prices:
    return read_config(path or PRICES, Prices, "price file", "see configs/gcp-prices.yaml")


@dataclass
class Task:
    name: str
    count: int
    minutes: float
    resources: Resources

    def hours(self) -> float:
        return self.count * self.minutes / 60

    def cost(self, p: Prices) -> float:
        cpus, gib = float(self.resources.cpu), float(self.resources.memory.rstrip("G"))
        return self.hours() * (cpus * p.vcpu_hour + gib * p.gib_hour)


@dataclass
class RunCost:
    name: str
    tasks: list[Task]
    scanned_bytes: float
    per_month: float
    prices: Prices
    queries: dict[str, float] = field(default_factory=dict)

    def compute(self) -> float:
        return sum(t.cost(self.prices) for t in self.tasks) + self.prices.pipeline_run

    def bigquery(self) -> float:
        return self.scanned_bytes / TIB * self.prices.bigquery_per_tib_scanned


def _scan(rows: float, row_bytes: float, p: Prices) -> float:
    """Bytes one query bills for reading one table."""
    return max(rows * row_bytes, p.bigquery_min_mib_per_table * MIB)


def _fit_minutes(labelled: float, cores: float, fits: int) -> float:
    return fits * FIT_S_PER_100K * (labelled / 100_000) * (2 / cores) / 60


def training_run(customers: int, transactions: int, labelled_share: float, p: Prices) -> RunCost:
    sizing = sizing_for(customers)
    n, tx = customers * labelled_share, transactions * labelled_share
    queries = {
        "ingest (raw customers and transactions, twice)": 2
        * (_scan(n, CUSTOMER_BYTES, p) + _scan(tx, TRANSACTION_BYTES, p)),
        "features (clean transactions)": _scan(tx, TRANSACTION_BYTES, p) + _scan(n, CUSTOMER_BYTES, p),
        "validate (features at two cut-offs)": 2 * (_scan(tx, TRANSACTION_BYTES, p) + _scan(n, CUSTOMER_BYTES, p)),
        "train, evaluate, validate (the features table)": 3 * _scan(n, FEATURES * 8, p),
    }
    r = sizing.resources
    tasks = [Task(c, 1, STARTUP_MIN + _fit_minutes(n, float(r[c].cpu), FITS[c]), r[c]) for c in FITS]
    tasks += [Task(c, 1, STARTUP_MIN + LIGHT_MIN, r[c]) for c in ("ingest", "features", "gate", "promote")]
    return RunCost("training (weekly)", tasks, sum(queries.values()), 52 / 12, p, queries)


def scoring_run(customers: int, transactions: int, labelled_share: float, p: Prices) -> RunCost:
    sizing = sizing_for(customers)
    n, tx = customers * (1 - labelled_share), transactions * (1 - labelled_share)
    queries = {
        "ingest (raw customers and transactions, twice)": 2
        * (_scan(n, CUSTOMER_BYTES, p) + _scan(tx, TRANSACTION_BYTES, p)),
        "features (clean transactions)": _scan(tx, TRANSACTION_BYTES, p) + _scan(n, CUSTOMER_BYTES, p),
        "score shards, drift, book (the features table)": 3 * _scan(n, FEATURES * 8, p),
    }
    r = sizing.resources
    millions = n / 1e6
    tasks = [
        Task("score_shard", sizing.shards, STARTUP_MIN + SCORE_MIN_PER_M * millions / sizing.shards, r["score_shard"]),
        Task("score", 1, STARTUP_MIN + BOOK_MIN_PER_M * millions, r["score"]),
    ]
    tasks += [Task(c, 1, STARTUP_MIN + LIGHT_MIN, r[c]) for c in ("ingest", "features", "shard_plan", "report")]
    return RunCost("scoring (daily)", tasks, sum(queries.values()), 365 / 12, p, queries)


@dataclass
class Estimate:
    customers: int
    transactions: int
    runs: list[RunCost]
    storage_gib: float
    prices: Prices

    def monthly(self) -> dict[str, float]:
        """The month's cost by kind, BigQuery's free tebibyte taken off the scanning once."""
        p = self.prices
        scanned_tib = sum(r.scanned_bytes * r.per_month for r in self.runs) / TIB
        billed_tib = max(0.0, scanned_tib - p.bigquery_free_tib_per_month)
        compute = sum(r.compute() * r.per_month for r in self.runs)
        out = {
            "pipeline tasks": compute,
            "BigQuery scanning": billed_tib * p.bigquery_per_tib_scanned,
            "BigQuery storage": self.storage_gib * p.bigquery_storage_per_gib_month,
        }
        out["total"] = sum(out.values())
        out["scanned TiB"] = scanned_tib
        return out


def estimate(
    customers: int, transactions_per_year: int, labelled_share: float = 0.8, prices: Prices | None = None
) -> Estimate:
    """The cost of a book of `customers` with `transactions_per_year` in all."""
    if customers < 1 or transactions_per_year < 0 or not 0 < labelled_share < 1:
        raise ValueError("customers >= 1, transactions >= 0 and a labelled share between 0 and 1")
    p = prices or load_prices()
    runs = [
        training_run(customers, transactions_per_year, labelled_share, p),
        scoring_run(customers, transactions_per_year, labelled_share, p),
    ]
    # raw + clean transactions and customers, and the two features tables, kept between runs
    stored = 2 * (transactions_per_year * TRANSACTION_BYTES + customers * CUSTOMER_BYTES) + customers * FEATURES * 8
    return Estimate(customers, transactions_per_year, runs, stored / GIB, p)


def describe(e: Estimate) -> str:
    """The estimate for a person: each run's tasks and queries, then the month, then the assumptions."""
    c = e.prices.currency
    lines = [f"{e.customers:,} customers, {e.transactions:,} transactions a year (prices noted {e.prices.noted}, {c})"]
    for r in e.runs:
        lines.append(f"\n{r.name}: {r.compute():,.2f} {c} of tasks, {r.scanned_bytes / GIB:,.1f} GiB scanned "
                     f"({r.bigquery():,.2f} {c} before the free tier), {r.per_month:.1f} runs a month")  # fmt: skip
        for t in r.tasks:
            lines.append(f"  {t.name:<12} {t.count:>3} x {t.minutes:6.1f} min on {t.resources.cpu} CPU, "
                         f"{t.resources.memory}: {t.cost(e.prices):8.2f} {c}")  # fmt: skip
        lines += [f"  {q:<48} {b / GIB:10,.2f} GiB" for q, b in r.queries.items()]
    m, free = e.monthly(), e.prices.bigquery_free_tib_per_month
    lines.append(
        f"\na month: {m['total']:,.2f} {c} (pipeline tasks {m['pipeline tasks']:,.2f}, BigQuery scanning "
        f"{m['BigQuery scanning']:,.2f} for {m['scanned TiB']:,.2f} TiB less {free:g} free, storage "
        f"{m['BigQuery storage']:,.2f} for {e.storage_gib:,.1f} GiB)"
    )
    lines.append(
        "assumptions: pipelines/estimate.py (a year of transactions kept, four fifths labelled, task minutes scaled "
        "from the measurements); the service, the console and the stream worker on GKE are not in it"
    )
    return "\n".join(lines)

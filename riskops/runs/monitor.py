"""The outcome loop: how each scoring run's list performed once its customers' outcomes are known.

Outcomes are rows `customer_id, account_state (ACTIVE | SUSPENDED), decided_at, source`, from the warehouse
table `outcomes` (loaded like any source), `stream_outcomes` (the stream worker's ledger) and the console's
`review_decisions` (a confirmed off-boarding SUSPENDED, a keep ACTIVE); the latest per
customer counts. For a scoring run as of day D with the policy's maturity window W:

- an outcome decided on or before D is history, not a result: that customer is left out;
- an outcome decided after D + W is too late to be this run's result; the customer counts as not suspended;
- the run is *matured* from D + W on; before that its figures are partial and say so.

Realized: precision and recall of the off-boarding list, ROC-AUC and PR-AUC of the scores, Brier score and
mean score against the observed suspension rate. Expected (available at once): the list's precision and recall
if the scores were the probabilities of suspension, `mean(score | listed)` and `sum(score x listed) /
sum(score)`; shown beside the realized figures, their gap is the calibration error the list carries.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from pydantic import BaseModel
from sklearn.metrics import average_precision_score, roc_auc_score

from riskops.core.names import ident
from riskops.data.contract import LABEL_SUSPENDED, table_name
from riskops.io.artifacts import ArtifactStore
from riskops.io.warehouse.base import Warehouse
from riskops.model.fairness import FairnessPolicy, banded
from riskops.model.pack import read_pack
from riskops.model.registry import Registry
from riskops.scoring.offboard import MODEL_VERSION_KEY, SCORES, scoring_runs
from riskops.scoring.policy import read_policy, training_family
from riskops.scoring.refresh import MONITORING
from riskops.scoring.review import DECISIONS, outcomes_sql

OUTCOME_TABLES = ("outcomes", "stream_outcomes", DECISIONS)  # the console's decisions are outcomes too
OUTCOME_COLUMNS = ("customer_id", "account_state", "decided_at")


class Performance(BaseModel):
    run_id: str
    model_version: str
    as_of: str
    mature_on: str
    matured: bool
    customers: int
    excluded_decided_before: int
    suspended: int
    listed: int
    precision: float | None
    recall: float | None
    roc_auc: float | None
    pr_auc: float | None
    brier: float | None
    observed_rate: float | None
    mean_score: float
    expected_precision: float | None
    expected_recall: float | None


def read_outcomes(wh: Warehouse, tables: tuple[str, ...] = OUTCOME_TABLES) -> pd.DataFrame:
    """The latest outcome per customer from whichever outcome tables exist."""
    frames = []
    for t in tables:
        if wh.exists(t):
            cols = ", ".join(ident(c) for c in OUTCOME_COLUMNS)
            source = f"({outcomes_sql(wh.ref(t))})" if t == DECISIONS else wh.ref(t)
            frames.append(wh.query(f"SELECT {cols} FROM {source}").to_pandas())
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in OUTCOME_COLUMNS})
    out = pd.concat(frames, ignore_index=True)
    out["decided_at"] = pd.to_datetime(out["decided_at"], utc=True)
    out["customer_id"] = out["customer_id"].astype(str)
    return out.sort_values("decided_at").drop_duplicates("customer_id", keep="last")


def _rate(num: float, den: float) -> float | None:
    return round(float(num / den), 4) if den else None


def performance(
    run_id: str,
    as_of: date,
    scores: pd.DataFrame,
    version: str,
    outcomes: pd.DataFrame,
    maturity_days: int,
    now: datetime,
) -> Performance:
    """One run's realized and expected performance from its scores (`customer_id, score, offboard`)."""
    start = datetime.combine(as_of + timedelta(days=1), datetime.min.time(), UTC)  # the exclusive cut-off
    mature_on = start + timedelta(days=maturity_days)
    o = outcomes.set_index("customer_id")
    frame = scores[["customer_id", "score", "offboard"]].copy()
    frame["customer_id"] = frame["customer_id"].astype(str)
    decided = (
        frame["customer_id"].map(o["decided_at"])
        if len(o)
        else pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    )
    state = frame["customer_id"].map(o["account_state"]) if len(o) else pd.Series(None, index=frame.index)
    before = decided.notna() & (decided < start)
    frame = frame[~before]
    in_window = decided[~before].notna() & (decided[~before] < mature_on) & (decided[~before] <= now)
    y = (in_window & state[~before].eq(LABEL_SUSPENDED)).to_numpy()
    s, listed = frame["score"].to_numpy(dtype=float), frame["offboard"].to_numpy(dtype=bool)
    both = len(np.unique(y)) == 2
    return Performance(
        run_id=run_id,
        model_version=version,
        as_of=as_of.isoformat(),
        mature_on=mature_on.date().isoformat(),
        matured=now >= mature_on,
        customers=len(frame),
        excluded_decided_before=int(before.sum()),
        suspended=int(y.sum()),
        listed=int(listed.sum()),
        precision=_rate(y[listed].sum(), listed.sum()),
        recall=_rate(y[listed].sum(), y.sum()),
        roc_auc=round(float(roc_auc_score(y, s)), 4) if both else None,
        pr_auc=round(float(average_precision_score(y, s)), 4) if both else None,
        brier=round(float(np.mean((s - y) ** 2)), 4) if len(y) else None,
        observed_rate=_rate(y.sum(), len(y)),
        mean_score=round(float(s.mean()), 4) if len(s) else 0.0,
        expected_precision=_rate(s[listed].sum(), listed.sum()),
        expected_recall=_rate(s[listed].sum(), s.sum()),
    )


def read_predictions(wh: Warehouse, home: Path, source: str, days: int = 7) -> pd.DataFrame:
    """The prediction log of the last `days`: JSON lines under `<home>/predictions/` or the warehouse table
    `predictions` (BigQuery in production)."""
    cols = ["request_id", "customer_key", "model_version", "score", "segment", "offboard", "shadow", "time"]
    if source == "bigquery":
        if not wh.exists("predictions"):
            return pd.DataFrame(columns=cols)
        listed = ", ".join(ident(c) for c in cols)
        recent = f"time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL {int(days)} DAY)"
        return wh.query(f"SELECT {listed} FROM {wh.ref('predictions')} WHERE {recent}").to_pandas()
    since = (datetime.now(UTC) - timedelta(days=days)).date().isoformat()
    rows = [
        json.loads(line)
        for f in sorted((home / "predictions").glob("date=*/*.jsonl"))
        if f.parent.name.removeprefix("date=") >= since
        for line in f.read_text().splitlines()
        if line
    ]
    return pd.DataFrame(rows, columns=cols)


def compare_shadow(log: pd.DataFrame) -> list[dict[str, Any]]:
    """Champion and challenger on the same traffic: each request's two records paired by request id and
    customer, per (champion, challenger) pair of versions."""
    if log.empty or not log["shadow"].fillna(False).astype(bool).any():
        return []
    shadow = log["shadow"].fillna(False).astype(bool)
    key = ["request_id", "customer_key"]
    pairs = log[~shadow].merge(log[shadow], on=key, suffixes=("", "_challenger"))
    out = []
    for (champ, chall), g in pairs.groupby(["model_version", "model_version_challenger"]):
        out.append(
            {
                "champion": champ,
                "challenger": chall,
                "pairs": len(g),
                "segment_agreement": round(float((g["segment"] == g["segment_challenger"]).mean()), 4),
                "rank_correlation": round(float(g["score"].corr(g["score_challenger"], method="spearman")), 4)
                if len(g) > 2
                else None,
                "high_share": round(float((g["segment"] == "High").mean()), 4),
                "high_share_challenger": round(float((g["segment_challenger"] == "High").mean()), 4),
                "offboard_share": round(float(g["offboard"].astype(bool).mean()), 4),
                "offboard_share_challenger": round(float(g["offboard_challenger"].astype(bool).mean()), 4),
            }
        )
    return out


def run_performance(store: ArtifactStore, run_id: str, outcomes: pd.DataFrame, now: datetime) -> Performance:
    """A published scoring run's performance: its scores, its as-of date and its policy's maturity window."""
    table = pq.read_table(io.BytesIO(store.read_bytes(f"{run_id}/{SCORES}")))
    version = (table.schema.metadata or {}).get(MODEL_VERSION_KEY, b"").decode()
    record = json.loads(store.read_text(f"{run_id}/run.json")) if store.exists(f"{run_id}/run.json") else {}
    as_of = date.fromisoformat(record.get("as_of") or run_id[:8])
    policy = read_policy(store, run_id)
    maturity = policy.maturity_days if policy else 90
    return performance(run_id, as_of, table.to_pandas(), version, outcomes, maturity, now)


def approved_ranges(registry: Registry, version: str) -> dict[str, Any] | None:
    """What a validator approved a version on, as the ranges its live figures must stay in: ROC-AUC no lower
    than the worse of its holdout and out-of-time figures less the pack's tolerated drop, the score's PSI no
    higher than the pack's shift limit (or the largest shift it was approved with). None: not approved with a
    pack."""
    log = registry.approvals.entries(version)
    decision = next((e for e in log if e.action != "requested"), None)
    pack = read_pack(registry.store, version)
    if decision is None or decision.action != "approved" or pack is None:
        return None
    oot = pack.section("out_of_time").figures
    seen = [registry.card(version).metrics["roc_auc"], oot["out_of_time"].get("roc_auc")]
    floor = min(x for x in seen if x is not None) - pack.policy.oot_auc_drop_warn
    shift = max(pack.policy.psi_warn, float(pack.section("stability").figures["largest"]["psi"]))
    fair = pack.section("fairness").figures  # the holdout's listed-share ratio per protected attribute
    parity = {a: f["parity_ratio"] - pack.policy.fairness_tolerance for a, f in fair.items() if f.get("parity_ratio")}
    return {"version": version, "approved_by": decision.by, "approved_at": decision.at, "pack": pack.created,
            "roc_auc_min": floor, "score_psi_max": shift, "parity_ratio_min": parity}  # fmt: skip


def listed_share_ratios(wh: Warehouse, store: ArtifactStore, run_id: str, attributes: list[str]) -> dict[str, float]:
    """Per protected attribute, the smallest group's listed share over the largest's on a run's whole scored
    cohort (groups of `FairnessPolicy.min_group`+ customers; no outcome needed): {} when the warehouse does not
    hold the cohort's customers."""
    from riskops.runs.candidate import protected_groups

    if not attributes or not wh.exists(table_name("unlabelled", "customers")):
        return {}
    scores = pq.read_table(io.BytesIO(store.read_bytes(f"{run_id}/{SCORES}")), columns=["customer_id", "offboard"])
    frame = scores.to_pandas()
    groups = protected_groups(wh, frame["customer_id"], attributes)
    out = {}
    for name in attributes:
        band = banded(name, groups[name].reset_index(drop=True))
        by = frame["offboard"].astype(bool).reset_index(drop=True).groupby(band).agg(["mean", "size"])
        shares = by.loc[by["size"] >= FairnessPolicy().min_group, "mean"]
        if len(shares) > 1 and shares.max() > 0:
            out[name] = float(shares.min() / shares.max())
    return out


def against_approval(
    registry: Registry, runs: list[Performance], drift: dict[str, Any], parity: dict[str, float] | None = None
) -> list[dict[str, Any]]:
    """Each matured run's realized ROC-AUC, and the latest run's score drift and listed-share ratios (`parity`),
    against the approved ranges of the model that scored it; a check outside its range says so in `inside`."""
    checks: list[dict[str, Any]] = []
    ranges: dict[str, dict[str, Any] | None] = {}
    for p in runs:
        if p.model_version not in ranges:
            ranges[p.model_version] = (
                approved_ranges(registry, p.model_version) if registry.exists(p.model_version) else None
            )
        r = ranges[p.model_version]
        if r is None:
            continue
        if p.matured and p.roc_auc is not None:
            checks.append({"run_id": p.run_id, "version": p.model_version, "what": "realized ROC-AUC",
                           "value": p.roc_auc, "approved": f">= {r['roc_auc_min']:.3f}",
                           "inside": p.roc_auc >= r["roc_auc_min"], "approved_by": r["approved_by"]})  # fmt: skip
        if p is runs[-1] and drift.get("score_psi") is not None:
            psi = float(drift["score_psi"])
            checks.append({"run_id": p.run_id, "version": p.model_version, "what": "score PSI",
                           "value": psi, "approved": f"<= {r['score_psi_max']:.3f}",
                           "inside": psi <= r["score_psi_max"], "approved_by": r["approved_by"]})  # fmt: skip
        if p is runs[-1]:
            for name, ratio in (parity or {}).items():
                if name in r["parity_ratio_min"]:
                    floor = r["parity_ratio_min"][name]
                    checks.append({"run_id": p.run_id, "version": p.model_version,
                                   "what": f"{name}: listed-share ratio", "value": ratio, "approved": f">= {floor:.3f}",
                                   "inside": ratio >= floor, "approved_by": r["approved_by"]})  # fmt: skip
    return checks


def monitor(
    wh: Warehouse, store: ArtifactStore, predictions: pd.DataFrame | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Every published scoring run's performance against the outcomes known now, the latest run's drift, the
    champion against the shadow challenger on the same traffic (from `predictions`, the prediction log), and
    what needs attention; written to `monitoring/<stamp>.json`."""
    now = now or datetime.now(UTC)
    outcomes = read_outcomes(wh)
    runs = [run_performance(store, r, outcomes, now) for r in scoring_runs(store)]
    latest = runs[-1].run_id if runs else None
    drift = {}
    if latest and store.exists(f"{latest}/run.json"):
        drift = (json.loads(store.read_text(f"{latest}/run.json")).get("scoring") or {}).get("drift", {})
    attention = []
    drifted = bool(drift.get("drifted") or drift.get("score_drifted"))
    if drifted:
        attention.append(f"run {latest}: inputs drifted ({', '.join(drift.get('drifted', [])) or 'score'})")
    underperformed = False
    for p in runs:
        if p.matured and p.precision is not None and p.expected_precision and p.precision < p.expected_precision / 2:
            underperformed = True
            attention.append(
                f"run {p.run_id}: realized precision {p.precision:.1%} is under half the expected "
                f"{p.expected_precision:.1%}"
            )
    registry = Registry(store)
    parity = {}
    if latest and registry.exists(runs[-1].model_version):
        config = registry.card(runs[-1].model_version).feature_config
        parity = listed_share_ratios(wh, store, latest, list(config.get("protected") or []))
    approval = against_approval(registry, runs, drift, parity)
    for c in approval:
        if not c["inside"]:
            attention.append(
                f"run {c['run_id']}: model {c['version']} left the range it was approved in: {c['what']} "
                f"{c['value']:.3f}, approved {c['approved']} (approved by {c['approved_by']})"
            )
    policy = read_policy(store, latest) if latest else None
    allowed = policy.retrain_on if policy else "never"
    retrain = (allowed in ("drift", "either") and drifted) or (allowed in ("performance", "either") and underperformed)
    shadow = compare_shadow(predictions) if predictions is not None else []
    out = {
        "created": now.isoformat(),
        "outcomes": len(outcomes),
        "runs": [p.model_dump() for p in runs],
        "latest_drift": drift,
        "shadow": shadow,
        "approval": approval,
        "outside_approved": any(not c["inside"] for c in approval),
        "attention": attention,
        "retrain": retrain,
        "retrain_on": allowed,
        "family": training_family(policy),  # what a retraining ships
    }
    stamp = now.strftime("%Y%m%d-%H%M%S")
    store.write_text(f"{MONITORING}/{stamp}.json", json.dumps(out, indent=2))
    out["report"] = store.write_text(f"{MONITORING}/{stamp}.md", monitoring_report(out))
    return out


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def monitoring_report(m: dict[str, Any]) -> str:
    """The monitoring run as Markdown: each run's realized vs expected figures, drift, shadow, what to do."""
    lines = [
        f"# Monitoring {m['created'][:19]}",
        "",
        f"{m['outcomes']:,} outcomes known.",
        "",
        "| run | model | as of | matured | listed | suspended | precision (expected) | recall (expected) | "
        "ROC-AUC | Brier |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in m["runs"]:
        matured = "yes" if r["matured"] else f"on {r['mature_on']}"
        lines.append(
            f"| {r['run_id']} | {r['model_version']} | {r['as_of']} | {matured} "
            f"| {r['listed']:,} | {r['suspended']:,} | {_pct(r['precision'])} ({_pct(r['expected_precision'])}) | "
            f"{_pct(r['recall'])} ({_pct(r['expected_recall'])}) | {r['roc_auc'] or '-'} | {r['brier'] or '-'} |"
        )
    d = m["latest_drift"]
    lines += [
        "",
        f"Latest run's drift: {', '.join(d.get('drifted', [])) or 'none'}; score PSI {d.get('score_psi', '-')}.",
    ]
    for c in m["shadow"]:
        lines.append(
            f"\nShadow {c['challenger']} beside {c['champion']}: {c['pairs']:,} customers, segments agree "
            f"{c['segment_agreement']:.1%}, rank correlation {c['rank_correlation']}."
        )
    if m.get("approval"):
        lines += ["", "## Against what was approved", "", "| run | model | figure | value | approved | inside |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        lines += [f"| {c['run_id']} | {c['version']} | {c['what']} | {c['value']:.3f} | {c['approved']} | "
                  f"{'yes' if c['inside'] else '**no**'} |" for c in m["approval"]]  # fmt: skip
    started = "started" if m["retrain"] else "not started"
    lines += [
        "",
        "## Attention",
        "",
        *(f"- {a}" for a in m["attention"] or ["nothing"]),
        "",
        f"Retraining: {started} (the policy allows it on: {m['retrain_on']}).",
    ]
    return "\n".join(lines) + "\n"

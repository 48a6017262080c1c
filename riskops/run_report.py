"""The run report: model performance, the segments of the scored cohort, the off-boarding list with its
reasons, assumptions and limitations, as Markdown + HTML with PNG plots; and comparing runs."""

from __future__ import annotations

import io
import json
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from riskops.artifacts import ArtifactStore
from riskops.evaluate import cv_table
from riskops.offboard import OffboardConfig, ScoringResult, _fmt
from riskops.registry import GateDecision, ModelCard

SEGMENTS = ("Low", "Medium", "High")


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _plots(result: ScoringResult) -> dict[str, bytes]:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(result.scores["score"], bins=50, color="tab:blue")
    ax.set_yscale("log")
    for name, x, color in (
        ("Medium", result.cutoffs["medium"], "tab:orange"),
        ("High", result.cutoffs["high"], "tab:red"),
    ):
        ax.axvline(x, color=color, ls="--", label=f"{name} from {x:.3f}")
    ax.set(xlabel="risk score", ylabel="customers (log)", title="Scores of the unlabelled cohort")
    ax.legend()
    sizes = result.segment_sizes()
    fig2, ax2 = plt.subplots(figsize=(4, 3))
    ax2.bar(list(sizes), list(sizes.values()), color=["tab:green", "tab:orange", "tab:red"])
    ax2.set(title="Segments", ylabel="customers")
    return {"scores.png": _png(fig), "segments.png": _png(fig2)}


def segment_profile(features: pd.DataFrame, result: ScoringResult, card: ModelCard, top: int = 8) -> pd.DataFrame:
    """Median of the model's most important features per segment, beside the population's."""
    names = [i["feature"] for i in card.importance if i["feature"] not in card.categorical][:top]
    frame = features[["customer_id", *names]].merge(result.scores[["customer_id", "segment"]], on="customer_id")
    rows = {"population": frame[names].median(numeric_only=True)}
    for seg in SEGMENTS:
        part = frame[frame["segment"] == seg]
        if len(part):
            rows[seg] = part[names].median(numeric_only=True)
    return pd.DataFrame(rows).T


def build_report(
    meta: dict[str, Any],
    card: ModelCard,
    gate: GateDecision,
    result: ScoringResult,
    features: pd.DataFrame,
    cfg: OffboardConfig,
    list_rows: int = 25,
) -> tuple[str, dict[str, bytes]]:
    sizes = result.segment_sizes()
    total = max(sum(sizes.values()), 1)
    m = card.metrics
    lines = [
        f"# Run {meta['run_id']}",
        "",
        f"As of **{meta['parameters']['as_of']}**, data `{meta['data_dir']}`, code {meta['code_version']}, "
        f"model **{card.version}** ({'promoted' if gate.promote else 'challenger kept out; champion used'}: "
        f"{gate.reason}).",
        "",
        f"**{len(result.offboarding):,} customers to off-board** out of {total:,} scored: "
        + ", ".join(f"{s} {sizes[s]:,} ({sizes[s] / total:.1%})" for s in SEGMENTS)
        + ".",
        "",
        "## Model performance (labelled cohort, cross-validated)",
        "",
        *cv_table(card.cv),
    ]
    c = m["at_cost_optimal"]
    lines += [
        "",
        f"Holdout: ROC-AUC {m['roc_auc']:.3f}, PR-AUC {m['pr_auc']:.3f} (base rate {m['base_rate']:.1%}). At the "
        f"cost-optimal threshold {card.threshold:.3f}: precision {c['precision']:.1%}, recall {c['recall']:.1%}. "
        f"Full model report: `{card.report_uri}`.",
        "",
        "## Segments of the scored cohort",
        "",
        f"High: score >= {result.cutoffs['high']:.3f} (the cost-optimal threshold); Medium: >= "
        f"{result.cutoffs['medium']:.3f} ({cfg.medium_factor:g} x High); Low: below. Off-boarded: every High "
        f"customer and Medium customers that trigger at least {cfg.min_rules} rule(s).",
        "",
        "![scores](scores.png) ![segments](segments.png)",
        "",
        "| segment | customers | share | off-boarded | mean score |",
        "|---|---|---|---|---|",
    ]
    for seg in SEGMENTS:
        part = result.scores[result.scores["segment"] == seg]
        mean = f"{part['score'].mean():.3f}" if len(part) else "-"
        lines.append(f"| {seg} | {len(part):,} | {len(part) / total:.1%} | {int(part['offboard'].sum()):,} | {mean} |")
    profile = segment_profile(features, result, card)
    if not profile.empty:
        lines += ["", "Feature profile (medians) of the model's most important features:", ""]
        lines.append("| | " + " | ".join(f"`{c}`" for c in profile.columns) + " |")
        lines.append("|---" * (len(profile.columns) + 1) + "|")
        for idx, row in profile.iterrows():
            lines.append(f"| {idx} | " + " | ".join(_fmt(str(c), row[c]) for c in profile.columns) + " |")
    lines += ["", "## Rules", "", "| rule | condition | meaning | customers |", "|---|---|---|---|"]
    for rule in cfg.rules:
        hits = int(result.scores["rules"].str.split(", ").apply(lambda r, n=rule.name: n in r).sum())
        lines.append(f"| {rule.name} | `{rule.feature} {rule.op} {rule.value:g}` | {rule.meaning} | {hits:,} |")
    for skipped in result.rules_skipped:
        lines.append(f"\nRule skipped: {skipped}.")
    lines += [
        "",
        f"## Off-boarding list (top {min(list_rows, len(result.offboarding))} of {len(result.offboarding):,}; "
        "all in `offboarding.csv`)",
        "",
        "| customer | score | segment | rules | reasons |",
        "|---|---|---|---|---|",
    ]
    for _, r in result.offboarding.head(list_rows).iterrows():
        lines.append(
            f"| {r['customer_id']} | {r['score']:.3f} | {r['segment']} | {r['rules'] or '-'} | {r['reasons']} |"
        )
    lines += [
        "",
        "## Assumptions and limitations",
        "",
        "- The label is the final account state; the model learns past off-boarding decisions, including their "
        "biases, not ground truth about crime.",
        "- Reasons are SHAP contributions of this model: they explain the score, not causes; correlated features "
        "share credit. 'Typical customer' is the median of the scored cohort.",
        "- Scores rank customers; after class weights or oversampling they are not calibrated probabilities.",
        "- Amounts across currencies are added without conversion.",
        "- An off-boarding decision needs a human review of the listed reasons before action.",
    ]
    return "\n".join(lines) + "\n", _plots(result)


def scoring_record(result: ScoringResult) -> dict[str, Any]:
    """The scoring part of a run's record (run.json)."""
    return {
        "model_version": result.model_version,
        "cutoffs": result.cutoffs,
        "segments": result.segment_sizes(),
        "offboard": len(result.offboarding),
    }


MODEL_VERSION_KEY = b"riskops.model_version"  # in scores.parquet's metadata: which model produced the scores


def publish_scores(store: ArtifactStore, run_id: str, result: ScoringResult) -> None:
    """Every score (Parquet) and the off-boarding list (CSV) of a run; the service's lookup table reads them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    store.write_text(f"{run_id}/offboarding.csv", result.offboarding.to_csv(index=False))
    table = pa.Table.from_pandas(result.scores, preserve_index=False)
    meta = {**(table.schema.metadata or {}), MODEL_VERSION_KEY: result.model_version.encode()}
    buf = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(meta), buf)
    store.write_bytes(f"{run_id}/scores.parquet", buf.getvalue())


def write_run_report(store: ArtifactStore, run_id: str, md: str, plots: dict[str, bytes], result: ScoringResult) -> str:
    import markdown

    for name, data in plots.items():
        store.write_bytes(f"{run_id}/{name}", data)
    publish_scores(store, run_id, result)
    store.write_text(f"{run_id}/report.md", md)
    html = (
        "<!doctype html><html><head><meta charset='utf-8'><title>riskops run</title><style>"
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}</style></head><body>"
        + markdown.markdown(md, extensions=["tables"])
        + "</body></html>"
    )
    return store.write_text(f"{run_id}/report.html", html)


# -- comparing runs -----------------------------------------------------------------------------------------------


def list_runs(store: ArtifactStore) -> list[dict[str, Any]]:
    runs = []
    for key in store.list():
        parts = key.split("/")
        if len(parts) == 2 and parts[1] == "run.json" and parts[0] != "models":
            runs.append(json.loads(store.read_text(key)))
    return sorted(runs, key=lambda r: str(r["run_id"]))


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out |= _flat(v, key + ".")
        elif not isinstance(v, list):
            out[key] = v
    return out


def compare_runs(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """The fields that differ between two runs' records (parameters, snapshots, model, segments...)."""
    fa, fb = _flat(a), _flat(b)
    skip = ("created", "timings_s", "reports", "run_id", "report")
    rows = []
    for key in sorted(set(fa) | set(fb)):
        if key.startswith(skip) or key.endswith("report_uri"):
            continue
        if fa.get(key) != fb.get(key):
            rows.append((key, fa.get(key), fb.get(key)))
    return rows

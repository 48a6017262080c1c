"""The run report: model performance, the segments of the scored cohort, the off-boarding list with its
reasons, assumptions and limitations, as Markdown + HTML with PNG plots; and comparing runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from riskops.core.config import BOOKS
from riskops.core.errors import RiskOpsError
from riskops.core.identity import code_version
from riskops.core.markup import md_text
from riskops.data.contract import outcome_word, table_name
from riskops.features.engineering import read_features
from riskops.io.artifacts import ArtifactStore
from riskops.io.warehouse.base import Warehouse
from riskops.model.evaluate import beaten_by, cv_table, monotone, not_monotone
from riskops.model.fairness import allowed_lines
from riskops.model.plots import plt, png
from riskops.model.registry import GateDecision, ModelCard, Registry
from riskops.model.reporting import markdown_html
from riskops.model.segments import SEGMENTS
from riskops.runs.record import FAILED, RunRecord, StepRecord, read_steps, write_record
from riskops.scoring.drift import DRIFT, DriftResult
from riskops.scoring.offboard import ScoringResult, format_value, read_listing
from riskops.scoring.policy import DEFAULT_RULES, POLICY, Rule, read_policy


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
    return {"scores.png": png(fig), "segments.png": png(fig2)}


def _drift_plot(drift: DriftResult, top: int = 3) -> bytes:
    """Reference vs this cohort, bin by bin, for the score and the most drifted features."""
    shown = [drift.score, *drift.features[:top]]
    fig, axes = plt.subplots(1, len(shown), figsize=(4.2 * len(shown), 3.4))
    for ax, d in zip(axes, shown, strict=True):
        x = list(range(len(d.labels)))
        ax.bar([i - 0.2 for i in x], d.reference, width=0.4, label="reference (holdout)", color="tab:gray")
        ax.bar(
            [i + 0.2 for i in x],
            d.current,
            width=0.4,
            label="this cohort",
            color="tab:red" if d.drifted else "tab:blue",
        )
        ax.set_xticks(x, d.labels, rotation=30, ha="right", fontsize=7)
        ax.set_title(f"{d.name}: PSI {d.psi:.3f}" + (" (drift)" if d.drifted else ""), fontsize=9)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return png(fig)


def _drift_lines(drift: DriftResult, top: int = 10) -> list[str]:
    s = drift.summary()
    named = ", ".join(s["drifted"]) or "none"
    lines = [
        "",
        "## Input drift (against the model's holdout)",
        "",
        f"{drift.rows:,} customers against {drift.reference_rows:,} holdout customers, on the model's frozen bins. "
        f"Drifted features: **{named}**; the score's PSI {drift.score.psi:.3f} "
        f"({'drift' if drift.score.drifted else 'no drift'}). A variable drifts when its PSI is above the "
        "policy's threshold and above what sampling alone gives at these sizes (the threshold column).",
        "",
        "![drift](drift.png)",
        "",
        "| variable | kind | PSI | JS | threshold | drift |",
        "|---|---|---|---|---|---|",
    ]
    for d in [drift.score, *drift.features[:top]]:
        js = "-" if d.js is None else f"{d.js:.3f}"
        lines.append(f"| {d.name} | {d.kind} | {d.psi:.3f} | {js} | {d.threshold:.3f} | {'yes' if d.drifted else ''} |")
    return lines


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


def _gate_sentence(record: RunRecord, card: ModelCard) -> str:
    """What this run's gate decided about the model that scored it, in words."""
    gate = record.gate
    if gate is None:
        return "the champion; this run trained no model"
    if gate["promote"] and gate["challenger"] == card.version:
        return f"trained in this run and promoted: {gate['reason']}"
    return f"the champion; this run's candidate {gate['challenger']} was kept out: {gate['reason']}"


def _segment_rows(result: ScoringResult, total: int) -> list[str]:
    rows = []
    for seg in SEGMENTS:
        part = result.scores[result.scores["segment"] == seg]
        mean = f"{part['score'].mean():.3f}" if len(part) else "-"
        rows.append(f"| {seg} | {len(part):,} | {len(part) / total:.1%} | {int(part['offboard'].sum()):,} | {mean} |")
    return rows


def _profile_rows(profile: pd.DataFrame) -> list[str]:
    if profile.empty:
        return []
    rows = ["", "Feature profile (medians) of the model's most important features:", ""]
    rows.append("| | " + " | ".join(md_text(c) for c in profile.columns) + " |")
    rows.append("|---" * (len(profile.columns) + 1) + "|")
    for idx, row in profile.iterrows():
        cells = " | ".join(md_text(format_value(str(c), row[c])) for c in profile.columns)
        rows.append(f"| {md_text(idx)} | {cells} |")
    return rows


def data_warnings(record: RunRecord) -> list[str]:
    """What validation warned of, per cohort (an attributes-only book, a dropped optional column...)."""
    return [
        f"{s.step.removeprefix('ingest-')}: {w}"
        for s in record.steps
        if s.step.startswith("ingest-")
        for w in s.detail.get("report", {}).get("warnings", [])
    ]


LIMITATIONS = [  # the run report's closing section
    "",
    "## Assumptions and limitations",
    "",
    "- The label is the final outcome the bank recorded; the model learns past decisions, including their biases.",
    "- Reasons are SHAP contributions of this model: they explain the score, not causes; correlated features "
    "share credit. 'Typical customer' is the median (most common category) of the model's holdout.",
    "- Scores are probabilities calibrated out of fold; the model report shows how well that held on the "
    "holdout (calibration slope, intercept, reliability curve).",
    "- Amounts across currencies are added without conversion.",
    "- An off-boarding decision needs a human review of the listed reasons before action.",
]
AML_RULES = {r.name for r in DEFAULT_RULES}  # the shipped rules are anti-money-laundering patterns
AML_LIMITATION = [
    "- The rules and the suspensions describe patterns of financial crime as the bank decided them, "
    "not ground truth about crime."
]


def _warnings_section(record: RunRecord) -> list[str]:
    """What validation warned of, and how the features were fitted to the book."""
    warnings = data_warnings(record)
    adapted = [n for s in record.steps if s.step == "features-labelled" for n in s.detail.get("adapted", [])]
    lines = ["## Data warnings", "", *(f"- {w}" for w in warnings), ""] if warnings else []
    return lines + (["## Features fitted to the book", "", *(f"- {n}" for n in adapted), ""] if adapted else [])


def build_report(
    record: RunRecord,
    card: ModelCard,
    result: ScoringResult,
    features: pd.DataFrame,
    drift: DriftResult | None = None,
    list_rows: int = 25,
) -> tuple[str, dict[str, bytes]]:
    sizes = result.segment_sizes()
    total = max(sum(sizes.values()), 1)
    m = card.metrics
    cfg = result.policy
    lines = [
        f"# Run {record.run_id}",
        "",
        f"As of **{record.as_of}**, data `{record.data}`, code {record.code_version}, "
        f"model **{card.version}** ({_gate_sentence(record, card)}).",
        "",
        f"**{len(result.offboarding):,} customers to off-board** ({len(result.offboarding) / total:.1%} of the "
        f"book) out of {total:,} scored: "
        + ", ".join(f"{s} {sizes[s]:,} ({sizes[s] / total:.1%})" for s in SEGMENTS)
        + ".",
        *([f"\n{_sentence(result.limit_said())}"] if result.over_limit else []),
        *(_cost_line(result.expected_costs) if result.expected_costs and not result.over_limit else []),
        "",
        *_warnings_section(record),
        "## Model performance (labelled cohort, cross-validated)",
        "",
        *cv_table(card.cv, card.family, card.family_reason),
    ]
    c = m["at_cost_optimal"]
    lines += [
        "",
        f"Holdout: ROC-AUC {m['roc_auc']:.3f}, PR-AUC {m['pr_auc']:.3f} (base rate {m['base_rate']:.1%} "
        f"{outcome_word(card.feature_config.get('label_words', {}))}). At the "
        f"cost-optimal threshold {card.threshold:.3f}: precision {c['precision']:.1%}, recall {c['recall']:.1%}. "
        f"Full model report: [{card.version}](../models/{card.version}/evaluation/report.html) (`{card.report_uri}`).",
        *_fairness_lines(card.metrics.get("fairness", {}), card.feature_config.get("allowed_protected", {})),
        "",
        "## Segments of the scored cohort",
        "",
        f"High: score >= {result.cutoffs['high']:.3f} "
        f"({'the cost-optimal threshold' if cfg.high == card.threshold else 'set by the policy'}); Medium: >= "
        f"{result.cutoffs['medium']:.3f} ({cfg.medium_factor:g} x High); Low: below. Off-boarded: every High "
        + (
            f"customer and Medium customers that trigger at least {cfg.min_rules} rule(s)."
            if _applied(result)
            else "customer; no rule fits this book, so a Medium customer is never listed."
        ),
        "",
        "![scores](scores.png) ![segments](segments.png)",
        "",
        "| segment | customers | share | off-boarded | mean score |",
        "|---|---|---|---|---|",
    ]
    lines += _segment_rows(result, total) + _profile_rows(segment_profile(features, result, card))
    lines += _rules_lines(result)
    lines += [f"\n**The list's limit**: {result.limit_said()}."] if result.over_limit else []
    if drift is not None:
        lines += _drift_lines(drift)
    lines += [
        "",
        f"## Off-boarding list (top {min(list_rows, len(result.offboarding))} of {len(result.offboarding):,}; "
        "all in [offboarding.csv](offboarding.csv))",
        "",
        "| customer | score | segment | rules | reasons |",
        "|---|---|---|---|---|",
    ]
    for _, r in result.offboarding.head(list_rows).iterrows():
        lines.append(
            f"| {md_text(r['customer_id'])} | {r['score']:.3f} | {md_text(r['segment'])} | "
            f"{md_text(r['rules'] or '-')} | {md_text(r['reasons'])} |"
        )
    lines += LIMITATIONS + (AML_LIMITATION if any(r.name in AML_RULES for r in _applied(result)) else [])
    plots = _plots(result) | ({"drift.png": _drift_plot(drift)} if drift is not None else {})
    return "\n".join(lines) + "\n", plots


def _sentence(said: str) -> str:
    return f"{said[:1].upper()}{said[1:]}."


def _applied(result: ScoringResult) -> list[Rule]:
    """The policy's rules this book could fire (the others do not fit it: no feature, another currency...)."""
    skipped = {s.split(" (")[0] for s in result.rules_skipped}
    return [r for r in result.policy.rules if r.name not in skipped]


def _rules_lines(result: ScoringResult) -> list[str]:
    """The rules the book can fire, with their meanings and hits; those that do not fit it named once."""
    applied = _applied(result)
    lines = ["", "## Rules", ""]
    if applied:
        lines += ["| rule | condition | meaning | customers |", "|---|---|---|---|"]
    for rule in applied:
        hits = int(result.scores["rules"].str.split(", ").apply(lambda r, n=rule.name: n in r).sum())
        condition = md_text(f"{rule.feature} {rule.op} {rule.value:g}")
        lines.append(f"| {md_text(rule.name)} | {condition} | {md_text(rule.meaning)} | {hits:,} |")
    if result.rules_skipped:
        unused = "; ".join(md_text(s) for s in result.rules_skipped)
        lines += ["", f"Not used here (they do not fit this book): {unused}."]
    return lines


def _fairness_lines(fairness: dict[str, Any], allowed: dict[str, str]) -> list[str]:
    """The model's fairness in one paragraph (the model report has each group), and the protected attributes
    the policy let it use with their justification."""
    lines = ["", *allowed_lines(allowed)[:1]] if allowed else []
    if not fairness:
        return [*lines, "", "Fairness: not measured (the mapping declares no protected attribute)."]
    said = [
        f"{md_text(n)}: listed-share ratio {'-' if a['parity_ratio'] is None else format(a['parity_ratio'], '.2f')}"
        + (f" (**{md_text('; '.join(a['breaches']))}**)" if a["breaches"] else " (within the limits)")
        for n, a in fairness.items()
    ]
    return [
        *lines,
        "",
        "Fairness across protected groups (kept out of the model; each group in the model report): "
        + "; ".join(said)
        + ".",
    ]


def _cost_line(c: dict[str, float]) -> list[str]:
    return [
        "",
        f"Expected cost of this list {c['list']:,.0f}, against {c['nobody']:,.0f} listing nobody "
        f"(from the calibrated scores and the policy's costs).",
    ]


def scoring_record(result: ScoringResult) -> dict[str, Any]:
    """The scoring part of a run's record (run.json)."""
    return {
        "model_version": result.model_version,
        "cutoffs": result.cutoffs,
        "segments": result.segment_sizes(),
        "offboard": len(result.offboarding),
        "over_limit": result.over_limit,
        "list_limit": result.list_limit,
        "list_share": len(result.offboarding) / max(len(result.scores), 1),
    }


def write_run_report(store: ArtifactStore, run_id: str, md: str, plots: dict[str, bytes]) -> str:
    for name, data in plots.items():
        store.write_bytes(f"{run_id}/{name}", data)
    store.write_text(f"{run_id}/report.md", md)
    css = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}"
    )
    return store.write_text(f"{run_id}/report.html", markdown_html(md, f"riskops run {run_id}", css))


# -- the run record -----------------------------------------------------------------------------------------------


def assemble_record(
    run_id: str, flow: str, steps: list[StepRecord], card: ModelCard | None, result: ScoringResult | None
) -> RunRecord:
    """A run's record from what its steps recorded (the same for `riskops run` and the pipelines)."""
    by = {s.step: s for s in steps}
    ingests = {s.step.removeprefix("ingest-"): s for s in steps if s.step.startswith("ingest-")}
    if not ingests and "rescore" in by:  # a re-scoring run: the cohort as its source run ingested it
        ingests = {"unlabelled": by["rescore"]}
    if not ingests:
        raise RiskOpsError(f"run {run_id} recorded no ingest step", f"{run_id}/steps/", "run the pipeline from ingest")
    parameters: dict[str, Any] = {}
    for s in steps:
        parameters |= {k: v for k, v in s.parameters.items() if k != "policy"}
    first = next(iter(ingests.values()))
    return RunRecord(
        run_id=run_id,
        created=datetime.now(UTC).isoformat(),
        flow=flow,
        code_version=code_version(),
        as_of=str(first.parameters["as_of"]),
        data=str(first.detail.get("data", "")),
        parameters=parameters,
        snapshots={c: s.detail["report"].get("snapshot", {}) for c, s in ingests.items()},
        validation={c: s.detail["report"].get("report_uri", "") for c, s in ingests.items()},
        timings_s={s.step: s.seconds for s in steps},
        steps=steps,
        model_version=card.version if card else None,
        model_metrics={k: float(card.metrics[k]) for k in ("roc_auc", "pr_auc", "brier")} if card else {},
        trained=by["train"].detail["version"] if "train" in by else None,
        gate=by["gate"].detail | _waits(by.get("promote")) if "gate" in by else None,
        scoring=scoring_record(result) if result else None,
        policy=result.policy.model_dump() if result else None,
        rescores=by["rescore"].parameters.get("rescores") or None if "rescore" in by else None,
        published=bool(by["score"].detail.get("published", True)) if "score" in by else False,
    )


def _waits(promote: StepRecord | None) -> dict[str, Any]:
    """The gate's winner queued for a validator instead of promoted (approval required)."""
    return {"awaiting_approval": True} if promote and promote.detail.get("awaiting_approval") else {}


def finish_run(
    wh: Warehouse, store: ArtifactStore, run_id: str, flow: str, cohort: str = "unlabelled"
) -> tuple[RunRecord, str]:
    """The run's report (when it scored) and its record `<run>/run.json`, from its steps and the scoring tables."""
    steps = read_steps(store, run_id)
    scored = next((s for s in steps if s.step == "score"), None)
    registry = Registry(store)
    if scored is None:  # a run that only trained: the record, no scoring report
        trained = next((s.detail["version"] for s in steps if s.step == "train"), None)
        card = registry.card(trained) if trained and registry.exists(trained) else None
        record = assemble_record(run_id, flow, steps, card, None)
        record.report = store.uri(f"{run_id}/run.json")  # the record is this run's report
        write_record(store, record)
        return record, ""
    card = registry.card(scored.detail["model_version"])
    policy = read_policy(store, run_id)
    if policy is None:
        raise RiskOpsError(f"run {run_id} scored but saved no policy", store.uri(f"{run_id}/{POLICY}"), "score again")
    scores = wh.read_table(table_name(cohort, "scores")).to_pandas()
    listing = wh.read_table(table_name(cohort, "offboarding")).to_pandas().sort_values("score", ascending=False)
    result = ScoringResult(
        scores=scores,
        offboarding=listing.reset_index(drop=True),
        cutoffs={"high": policy.high, "medium": policy.medium},
        model_version=card.version,
        rules_skipped=list(scored.detail.get("rules_skipped", [])),
        seconds=dict(scored.detail.get("seconds", {})),
        over_limit=int(scored.detail.get("over_limit", scored.detail.get("over_capacity", 0))),
        list_limit=scored.detail.get("list_limit"),
        expected_costs=dict(scored.detail.get("expected_costs") or {}),
        policy=policy,
    )
    record = assemble_record(run_id, flow, steps, card, result)
    drift = (
        DriftResult.model_validate_json(store.read_text(f"{run_id}/{DRIFT}"))
        if store.exists(f"{run_id}/{DRIFT}")
        else None
    )
    if drift is not None and record.scoring is not None:
        record.scoring["drift"] = drift.summary()
    md, plots = build_report(record, card, result, read_features(wh, cohort), drift)
    record.report = write_run_report(store, run_id, md, plots)
    write_record(store, record)
    return record, md


def run_summary(store: ArtifactStore, record: RunRecord) -> str:
    """The closing lines of a run: each cohort, the model trained and what the gate decided, the scoring."""
    registry = Registry(store)
    lines = [f"run {record.run_id} (as of {record.as_of}, data {record.data})"]
    for s in record.steps:
        if s.step.startswith("ingest-"):
            lines.append(f"  {s.step.removeprefix('ingest-'):<10} {s.figure}")
    lines += [f"  warning: {w}" for w in data_warnings(record)]
    if record.trained:
        gate = GateDecision.model_validate(record.gate) if record.gate else None
        lines.append(describe_model(registry.card(record.trained), gate, indent="  "))
        if gate and gate.awaiting_approval and not record.scoring:
            lines.append(
                f"  not scored: no approved champion yet; a validator approves {record.trained} with "
                f"`riskops models approve {record.trained} --by NAME` (or on the console's Models page)"
            )
    lines += [f"  model: {s.figure}" for s in record.steps if s.step == "reuse"]
    lines += [f"  re-scores {s.figure}" for s in record.steps if s.step == "rescore"]
    if record.scoring:
        sc = record.scoring
        lines.append(
            f"  scored {sum(sc['segments'].values()):,} {record.steps[-1].detail.get('cohort', 'unlabelled')} "
            f"customers with {sc['model_version']}: "
            + ", ".join(f"{k} {v:,}" for k, v in sc["segments"].items())
            + f"; off-board {sc['offboard']:,}"
        )
        if "drift" in sc:
            d = sc["drift"]
            lines.append(
                f"  drift against the model's holdout: {', '.join(d['drifted']) or 'none'} (largest PSI "
                f"{d['max_psi']:.3f}, {d['max_psi_feature']}; score PSI {d['score_psi']:.3f})"
            )
    lines.append("  steps: " + ", ".join(f"{k} {v:.1f}s" for k, v in record.timings_s.items()))
    lines.append(f"  report: {record.report}")
    return "\n".join(lines)


def describe_model(card: ModelCard, gate: GateDecision | None, indent: str = "") -> str:
    """A few lines on a trained model: CV against the baselines, holdout, threshold, gate, report."""
    m, c = card.metrics, card.metrics["at_cost_optimal"]
    size = f"{card.rows['customers']:,} customers"
    lines = [f"model {card.version}: {card.family} ({size}, imbalance: {card.imbalance})"]
    for name, s in card.cv.items():
        lines.append(
            f"  CV {name:<20} ROC-AUC {s['roc_auc_mean']:.3f} ± {s['roc_auc_std']:.3f}  "
            f"PR-AUC {s['pr_auc_mean']:.3f} ± {s['pr_auc_std']:.3f}"
        )
    lines += [f"  NOTE: {line}" for line in beaten_by(card.cv, card.family, card.family_reason)]
    calibration = (
        f", calibration slope {m['calibration_slope']:.2f} intercept {m['calibration_intercept']:.2f}"
        if "calibration_slope" in m
        else ""
    )
    lines += [
        f"  holdout ROC-AUC {m['roc_auc']:.3f}, PR-AUC {m['pr_auc']:.3f}, Brier {m['brier']:.4f}{calibration}",
        f"  threshold {card.threshold:.3f} (cost-optimal): precision {c['precision']:.1%}, recall {c['recall']:.1%}; "
        + _saving(m["cost_saving_vs_f1"]),
        f"  model report: {card.report_uri}",
    ]
    if "segments" in m and not monotone(m["segments"]):
        lines.insert(-1, f"  WARNING: {not_monotone(m['segments'])}")
    if gate is not None:
        verdict = "AWAITING APPROVAL" if gate.awaiting_approval else "PROMOTED" if gate.promote else "kept champion"
        lines.insert(-1, f"  gate: {verdict} - {gate.reason}")
    return "\n".join(indent + line for line in lines)


def _saving(amount: float) -> str:
    if amount >= 0:
        return f"on the holdout it costs {amount:,.0f} less than the F1-optimal threshold"
    return f"on the holdout it costs {-amount:,.0f} more than the F1-optimal one (both chosen out-of-fold)"


# -- comparing runs -----------------------------------------------------------------------------------------------


def list_runs(store: ArtifactStore) -> list[dict[str, Any]]:
    """Every run in the store, oldest first: each record (run.json), and each run that stopped before writing
    one with `status` failed and its error (failed.json), or incomplete (steps only: stopped or still running)."""
    keys = store.list()
    folders = {k.split("/")[0] for k in keys if k.count("/") >= 1} - {"models", "monitoring"}
    present = set(keys)
    runs = []
    for run in folders:
        if f"{run}/run.json" in present:
            runs.append(json.loads(store.read_text(f"{run}/run.json")) | {"status": "complete"})
        elif f"{run}/{FAILED}" in present:
            runs.append(json.loads(store.read_text(f"{run}/{FAILED}")) | {"status": "failed"})
        elif any(k.startswith(f"{run}/steps/") for k in keys):
            runs.append({"run_id": run, "status": "incomplete", "error": "no record: it stopped, or still runs"})
    return sorted(runs, key=lambda r: str(r["run_id"]))


def list_books(store: ArtifactStore) -> list[str]:
    """The books under a home's root store (`books/<name>/...`), by name."""
    return sorted({k.split("/")[1] for k in store.list(BOOKS) if k.count("/") >= 2})


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out |= _flat(v, key + ".")
        elif not isinstance(v, list):
            out[key] = v
    return out


def list_changes(store: ArtifactStore, first: str, second: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The customers who entered the second run's list and those who left it (with the score and reasons each
    run gave them), from the runs' offboarding.csv; empty frames when a run published no list."""

    def listed(run: str) -> pd.DataFrame:
        key = f"{run}/offboarding.csv"
        if not store.exists(key):
            return pd.DataFrame(columns=["customer_id", "score", "reasons"])
        return read_listing(store.read_text(key)).loc[:, ["customer_id", "score", "reasons"]]

    a, b = listed(first), listed(second)
    entered = b[~b["customer_id"].isin(a["customer_id"])].sort_values("score", ascending=False)
    left = a[~a["customer_id"].isin(b["customer_id"])].sort_values("score", ascending=False)
    return entered.reset_index(drop=True), left.reset_index(drop=True)


def cell(value: Any) -> str:
    """A record's value as a person reads it in a comparison: 4 significant digits, '-' for nothing."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


def compare_runs(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """The fields that differ between two runs' records (parameters, snapshots, model, segments...)."""
    fa, fb = _flat(a), _flat(b)
    skip = ("created", "timings_s", "validation", "run_id", "report", "steps")
    rows = []
    for key in sorted(set(fa) | set(fb)):
        if key.startswith(skip) or key.endswith("report_uri"):
            continue
        if fa.get(key) != fb.get(key):
            rows.append((key, fa.get(key), fb.get(key)))
    return rows

"""A registered version's validation pack (`riskops models validate`, the training pipeline's validate step):
the figures of riskops.model.validation computed from the warehouse the version learned from, written beside the
model as `models/<version>/validation/` pack.json (every figure), pack.md, pack.html, the charts and a printable
pack.pdf. Its digest is part of the evidence a validator's approval records (riskops.model.approval).

Out of time is real: the same recipe (family, parameters, imbalance handling) is fit on features rebuilt as of an
earlier cut-off, on the customers who had joined by then, and tested on those who joined after it.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from riskops.core.errors import UnusableDataError
from riskops.core.markup import md_text
from riskops.core.progress import Say
from riskops.data.contract import as_of_cutoff, outcome_word, table_name
from riskops.data.ingest import ingested_as_of
from riskops.features.engineering import ID_COLUMN, LABEL_COLUMN, FeatureConfig, feature_set, feature_sql
from riskops.io.artifacts import ArtifactStore
from riskops.io.warehouse.base import Warehouse
from riskops.model import validation as v
from riskops.model.cardpage import SMALL_POSITIVES, limitations
from riskops.model.config import CostMatrix, TrainConfig, ValidationPolicy
from riskops.model.fairness import breaches, fairness_summary
from riskops.model.inputs import Model, align_known, predict
from riskops.model.linear import LinearModel
from riskops.model.pack import FOLDER, Pack, Section, Status, pack_key
from riskops.model.registry import PREFIX, ModelCard, Registry
from riskops.model.segments import segments
from riskops.model.train import baseline, fit_catboost, prepare
from riskops.scoring.policy import model_policy

log = logging.getLogger(__name__)
OOT_TABLE = "validation_features"  # the labelled cohort's features as a validation computes them; dropped after


def validate_version(
    wh: Warehouse, store: ArtifactStore, version: str, policy: ValidationPolicy | None = None, say: Say | None = None
) -> Pack:
    """Compute a version's pack from the warehouse's labelled cohort (the one it was trained on) and write it."""
    say = say or log.info
    policy = policy or ValidationPolicy()
    registry = Registry(store)
    model, card = registry.load(version)
    dropped = list(card.dropped)
    holdout = registry.holdout(version)
    labelled = features_as_of(wh, card, as_of_cutoff(date.fromisoformat(card.as_of)))
    dev = labelled[~labelled[ID_COLUMN].isin(set(holdout[ID_COLUMN]))].reset_index(drop=True)
    Xh, yh = align_known(holdout, card.features, card.categorical, dropped), holdout[LABEL_COLUMN].to_numpy(dtype=int)
    Xd, yd = align_known(dev, card.features, card.categorical, dropped), dev[LABEL_COLUMN].to_numpy(dtype=int)
    ph, pd_ = predict(model, Xh, card.categorical), predict(model, Xd, card.categorical)
    word = outcome_word(card.feature_config.get("label_words") or {})
    keys = [f["feature"] for f in card.importance[: policy.key_features] if f["feature"] in card.features]
    signup = _signups(wh)
    say("validation: data, then the out-of-time model")
    sections = [_data(wh, card, signup)]
    sections.append(_out_of_time(wh, card, signup, labelled, policy, word))
    say("validation: the benchmark scorecard")
    top = [f["feature"] for f in card.importance[: policy.scorecard_features] if f["feature"] in card.features]
    scorecard = v.fit_scorecard(Xd[top], yd, card.categorical)
    sections.append(v.benchmark(scorecard, Xh[top], yh, ph, policy, seed=0))
    say("validation: stability, weak spots, sensitivity")
    sections.append(_stability(wh, card, Xd, pd_, dev, Xh, ph, holdout, signup, model, keys, policy))
    cut = model_policy(store, card).cutoffs
    train = (yd, pd_, segments(pd_, cut))
    sections.append(v.weak_spots(Xh, yh, ph, segments(ph, cut), keys, card.categorical, train, policy))
    costs = CostMatrix.model_validate(card.costs)
    sections.append(v.sensitivity(model, Xh, yh, ph, card.categorical, card.threshold, costs, keys, policy))
    fair = card.metrics.get("fairness", {})
    sections.append(v.fairness_section(fair, fairness_summary(fair), breaches(fair)))
    sections.append(v.limitations_section(limitations(card, word)))
    pack = Pack(
        version=version,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        status=v.worst([s.status for s in sections]),
        policy=policy,
        sections=sections,
    )
    theirs = scorecard.predict_proba(Xh[top])[:, 1] if scorecard is not None else np.full(len(yh), yh.mean())
    write_pack(store, pack, scorecard_pr=(yh, ph, theirs))
    return pack


def _signups(wh: Warehouse) -> pd.Series:
    """Each labelled customer's signup instant, by id."""
    ref = wh.ref(table_name("labelled", "customers"))
    frame = wh.query(f"SELECT customer_id, signup_ts FROM {ref}").to_pandas()
    return pd.Series(pd.to_datetime(frame["signup_ts"], utc=True).to_numpy(), index=frame["customer_id"])


def _data(wh: Warehouse, card: ModelCard, signup: pd.Series) -> Section:
    """Cohorts, sizes, base rate, quarantine counts, time span, the features by family."""
    quarantined = {}
    for t in ("customers", "transactions"):
        name = table_name("labelled", f"quarantine_{t}")  # type: ignore[arg-type]
        quarantined[t] = (
            int(wh.query(f"SELECT COUNT(*) AS n FROM {wh.ref(name)}").to_pylist()[0]["n"]) if wh.exists(name) else 0
        )
    fs = feature_set(wh, "labelled", FeatureConfig.model_validate(card.feature_config))
    families: dict[str, int] = {}
    for f in fs.features():
        if f.name in card.features:
            families[f.group] = families.get(f.group, 0) + 1
    snap = card.data_snapshot
    span = [str(signup.min().date()), str(signup.max().date())] if len(signup) else []
    figures: dict[str, Any] = {
        "rows": card.rows,
        "base_rate": card.rows.get("suspended", 0) / max(card.rows.get("customers", 1), 1),
        "quarantined": quarantined,
        "signups": span,
        "transactions": [snap.get("first_ts", ""), snap.get("last_ts", "")],
        "as_of": card.as_of,
        "features": len(card.features),
        "families": families,
        "dropped": card.dropped,
        "protected_kept_out": list(card.feature_config.get("protected") or []),
    }
    lost = sum(quarantined.values())
    status: Status = "warn" if card.rows.get("suspended", 0) < SMALL_POSITIVES else "pass"
    reading = (
        f"{card.rows.get('customers', 0):,} labelled customers ({figures['base_rate']:.1%} positive) who joined "
        f"{' to '.join(span)}; {lost:,} rows quarantined; {len(card.features)} features in "
        f"{len(families)} families"
    )
    return Section(name="data", title="Data", status=status, reading=reading, figures=figures)


def features_as_of(wh: Warehouse, card: ModelCard, cutoff: datetime, cohort: str = "labelled") -> pd.DataFrame:
    """A cohort's features as the version's own configuration computes them at `cutoff`, built apart (the run's
    `<cohort>_features` may since have been rebuilt with another configuration, or be a later run's)."""
    fs = feature_set(wh, cohort, FeatureConfig.model_validate(card.feature_config))
    customers, tx = (wh.ref(table_name(cohort, t)) for t in ("customers", "transactions"))
    sql = feature_sql(fs, customers, tx, cutoff, labelled=cohort == "labelled")
    wh.execute(f"CREATE OR REPLACE TABLE {wh.ref(OOT_TABLE)} AS {sql}")
    try:
        return wh.read_table(OOT_TABLE).to_pandas()
    finally:
        wh.drop(OOT_TABLE)


def first_transaction(wh: Warehouse) -> pd.Timestamp | None:
    """When the labelled cohort's transaction history begins (None: no transactions)."""
    ref = wh.ref(table_name("labelled", "transactions"))
    first = wh.query(f"SELECT MIN(ts) AS first FROM {ref}").to_pylist()[0]["first"]
    return pd.Timestamp(first) if first is not None else None


def oot_cutoff(signup: pd.Series, policy: ValidationPolicy, first_tx: pd.Timestamp | None = None) -> pd.Timestamp:
    """The earlier cut-off: the day by which all but the latest `oot_share` of the labelled customers had joined;
    moved later when the book's transactions begin too late to give it `oot_min_history_days` of history, as long
    as `oot_min_share` of the customers joined after it (else the history stays short and the pack says so)."""
    cutoff = pd.Timestamp(signup.quantile(1 - policy.oot_share)).normalize()
    if first_tx is not None:
        wanted = (first_tx + pd.Timedelta(days=policy.oot_min_history_days)).normalize()
        if cutoff < wanted and (signup >= wanted).mean() >= policy.oot_min_share:
            return wanted
    return cutoff


def fit_recipe(card: ModelCard, frame: pd.DataFrame, seed: int = 0) -> tuple[Model, list[str], list[str], pd.DataFrame]:
    """The version's recipe (family, parameters, imbalance) fit on 80% of `frame`; returns the model, its
    features and categorical columns, and the 20% in-time holdout."""
    ds = prepare(frame, [f for f in card.features if f in frame.columns], card.categorical)
    dev, hold = train_test_split(np.arange(len(ds.y)), test_size=0.2, stratify=ds.y, random_state=seed)
    cfg = TrainConfig(seed=seed)
    model: Model = (
        fit_catboost(ds, dev, card.params, card.imbalance, cfg, seed)  # type: ignore[arg-type]
        if card.family == "catboost"
        else LinearModel.fit(baseline(card.family, ds, seed), ds.X.iloc[dev], ds.y[dev])  # type: ignore[arg-type]
    )
    held = frame.iloc[hold].reset_index(drop=True)
    return model, list(ds.X.columns), ds.categorical, held


def _out_of_time(
    wh: Warehouse, card: ModelCard, signup: pd.Series, labelled: pd.DataFrame, policy: ValidationPolicy, word: str
) -> Section:
    first = first_transaction(wh)
    cutoff = oot_cutoff(signup, policy, first)
    earlier = features_as_of(wh, card, cutoff.to_pydatetime())
    earlier = earlier[(signup.reindex(earlier[ID_COLUMN]) < cutoff).to_numpy()].reset_index(drop=True)
    later = labelled[(signup.reindex(labelled[ID_COLUMN]) >= cutoff).to_numpy()].reset_index(drop=True)
    if earlier.empty or later.empty:  # every customer joined on the same day (a simulated book, a migration)
        reading = f"not judged: the labelled customers' signups do not spread over time (all by {signup.max().date()})"
        figures = {"cutoff": str(cutoff.date()), "customers_then": len(earlier), "later": len(later)}
        return Section(name="out_of_time", title="Out of time", status="warn", reading=reading, figures=figures)
    try:
        model, features, cats, held = fit_recipe(card, earlier)
    except UnusableDataError as e:  # a small book: too few of one class had joined by then to fit anything
        reading = f"not judged: the book as of {cutoff.date()} cannot be fit ({e.what})"
        figures = {"cutoff": str(cutoff.date()), "customers_then": len(earlier), "later": len(later)}
        return Section(name="out_of_time", title="Out of time", status="warn", reading=reading, figures=figures)
    dropped = [c for c in card.features if c not in features]
    y_in, y_out = held[LABEL_COLUMN].to_numpy(dtype=int), later[LABEL_COLUMN].to_numpy(dtype=int)
    p_in = predict(model, align_known(held, features, cats, dropped), cats)
    p_out = predict(model, align_known(later, features, cats, dropped), cats) if len(later) else np.array([])
    days = (cutoff - first).days if first is not None else 0
    window = int(card.feature_config.get("long_window") or max(card.feature_config.get("windows") or [365]))
    section = v.out_of_time(
        str(cutoff.date()),
        v.performance(y_in, p_in, card.threshold),
        v.performance(y_out, p_out, card.threshold),
        policy,
        word,
        (days, window),
    )
    section.figures["trained_on"] = len(earlier) - len(held)
    return section


def _stability(
    wh: Warehouse,
    card: ModelCard,
    Xd: pd.DataFrame,
    pd_: np.ndarray,
    dev: pd.DataFrame,
    Xh: pd.DataFrame,
    ph: np.ndarray,
    holdout: pd.DataFrame,
    signup: pd.Series,
    model: Model,
    keys: list[str],
    policy: ValidationPolicy,
) -> Section:
    """Vintages: the labelled customers by the half-year they joined (the last eight), and the scored cohort."""
    everyone = pd.concat([Xd.assign(score=pd_), Xh.assign(score=ph)], ignore_index=True)
    ids = pd.concat([dev[ID_COLUMN], holdout[ID_COLUMN]], ignore_index=True)
    joined = pd.to_datetime(signup.reindex(ids).to_numpy(), utc=True)
    half = pd.Series([f"{d.year}-H{1 + (d.month > 6)}" if not pd.isna(d) else "unknown" for d in joined])
    vintages = {f"joined {h}": everyone[(half == h).to_numpy()] for h in sorted(half.unique())[-8:]}
    recorded = ingested_as_of(wh, "unlabelled") if wh.exists(table_name("unlabelled", "customers")) else None
    if recorded:
        frame = features_as_of(wh, card, as_of_cutoff(date.fromisoformat(recorded[:10])), "unlabelled")
        X = align_known(frame, card.features, card.categorical, list(card.dropped))
        vintages["scored cohort"] = X.assign(score=predict(model, X, card.categorical))
    reference = Xd.assign(score=pd_)
    return v.stability(reference, vintages, keys, card.categorical, policy)


# -- the pack's files ---------------------------------------------------------------------------------------------


def pack_markdown(pack: Pack, charts: set[str]) -> str:
    """The pack for a reader: the verdict per section first, then each section's reading and figures."""
    lines = [
        f"# Validation pack: model {md_text(pack.version)}",
        "",
        f"Overall: **{pack.status}** (the worst of the sections). Written {pack.created}.",
        "",
        "| section | status | reading |",
        "|---|---|---|",
        *[f"| {s.title} | **{s.status}** | {md_text(s.reading)} |" for s in pack.sections],
        "",
    ]
    for s in pack.sections:
        lines += [f"## {s.title}: {s.status}", "", md_text(s.reading), ""]
        lines += _figure_lines(s)
        if CHARTS.get(s.name) in charts:
            lines += [f"![{s.title}]({CHARTS[s.name]})", ""]
    return "\n".join(lines)


CHARTS = {
    "out_of_time": "oot.png",
    "benchmark": "benchmark.png",
    "stability": "stability.png",
    "sensitivity": "sensitivity.png",
}


def _figure_lines(s: Section) -> list[str]:
    f = s.figures
    if s.name == "benchmark":
        iv = ", ".join(f"{md_text(k)} {x:.3f}" for k, x in list(f["information_value"].items())[:10])
        return [f"Information value: {iv}.", "", f"Points table: {len(f['points_table'])} bins (pack.json).", ""]
    if s.name == "weak_spots":
        rows = [
            f"| {md_text(r['variable'])} | {md_text(r['bin'])} | {r['customers']} | {r['positives']} | "
            f"{r['roc_auc']:.3f} |"
            for r in f["weak"]
        ]
        return (
            ["| variable | bin | customers | positives | ROC-AUC |", "|---|---|---|---|---|", *rows, ""] if rows else []
        )
    if s.name == "limitations":
        return [f"- {md_text(x)}" for x in f["said"]] + [""]
    return []


def write_pack(store: ArtifactStore, pack: Pack, scorecard_pr: tuple[np.ndarray, np.ndarray, np.ndarray]) -> str:
    """pack.json, pack.md, pack.html, the charts and pack.pdf under models/<version>/validation/; the JSON last,
    so a pack without it is incomplete. Returns the HTML's URI."""
    from riskops.model.plots import pdf_pages, validation_plots
    from riskops.model.reporting import markdown_html

    base = f"{PREFIX}/{pack.version}/{FOLDER}"
    charts = validation_plots(pack.model_dump(), *scorecard_pr)
    for name, data in charts.items():
        store.write_bytes(f"{base}/{name}", data)
    md = pack_markdown(pack, set(charts))
    store.write_text(f"{base}/pack.md", md)
    css = (
        "body{font-family:sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px}img{max-width:80%}"
    )
    uri = store.write_text(f"{base}/pack.html", markdown_html(md, f"Validation pack {pack.version}", css))
    summary = [(s.title, str(s.status), s.reading) for s in pack.sections]
    store.write_bytes(
        f"{base}/pack.pdf", pdf_pages(f"Validation pack: model {pack.version}", pack.status, summary, charts)
    )
    store.write_text(pack_key(pack.version), pack.model_dump_json(indent=2))
    return uri

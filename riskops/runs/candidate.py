"""The model half of a run, in two steps that hand on a model version:

- `train_candidate`: the labelled features (already in the warehouse) -> CatBoost with imbalance handling,
  tuning and CV against the baselines (the policy may ship the logistic regression instead) -> `models/<version>/`
  model.cbm (or model.skops), holdout.parquet, oof.parquet and candidate.json.
- `evaluate_candidate`: the candidate on its untouched holdout with the run's cost matrix -> threshold, metrics,
  SHAP, the model report, and card.json (written last: only then is the version registered) with the default
  off-boarding policy beside it.

The gate and the promotion are separate steps over the registry.
"""

from __future__ import annotations

import io
import logging
import re
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from riskops.core.errors import ArtifactError, DataContractError
from riskops.core.identity import code_version
from riskops.core.progress import Say, Tick
from riskops.data.contract import LABEL_SUSPENDED, as_of_cutoff, table_name
from riskops.features.engineering import (
    ID_COLUMN,
    LABEL_COLUMN,
    FeatureConfig,
    build_features,
    feature_set,
    features_cutoff,
    read_features,
)
from riskops.io.artifacts import ArtifactStore
from riskops.io.warehouse.base import Warehouse
from riskops.model.approval import default_person
from riskops.model.calibration import calibrate
from riskops.model.config import CostMatrix, TrainConfig
from riskops.model.evaluate import evaluate, write_report
from riskops.model.fairness import GROUPS, FairnessPolicy, breaches, measure, proxies
from riskops.model.inputs import align, predict
from riskops.model.registry import (
    PREFIX,
    Candidate,
    GateDecision,
    ModelCard,
    Registry,
    new_version,
    promote_or_queue,
)
from riskops.model.train import prepare, train
from riskops.runs.monitor import read_outcomes
from riskops.scoring.drift import reference
from riskops.scoring.policy import POLICY, OffboardConfig

log = logging.getLogger(__name__)


def train_candidate(
    wh: Warehouse,
    store: ArtifactStore,
    as_of: date,
    train_cfg: TrainConfig | None = None,
    feature_cfg: FeatureConfig | None = None,
    snapshot: dict[str, Any] | None = None,
    say: Say | None = None,
    tick: Tick | None = None,
    registered_by: str = "",
) -> Candidate:
    """Train on `labelled_features` (built by the features step) and store the candidate's files, registered in
    the name of `registered_by` (default: the operating-system user)."""
    say = say or log.info
    train_cfg, feature_cfg = train_cfg or TrainConfig(), feature_cfg or FeatureConfig()
    fs = feature_set(wh, "labelled", feature_cfg)
    frame = read_features(wh, "labelled")
    learned: dict[str, Any] = {}
    if train_cfg.outcomes:
        extra, learned = outcome_examples(wh, frame)
        say(
            f"learning from {learned['rows']} current customers' outcomes ({learned['suspended']} suspended)"
            + (f": {learned['skipped']}" if learned.get("skipped") else "")
        )
        frame = pd.concat([frame, extra], ignore_index=True) if len(extra) else frame
    ds = prepare(frame, fs.names, fs.categorical)
    if ds.dropped:
        say(f"dropped {len(ds.dropped)} features: " + ", ".join(f"{k} ({v})" for k, v in ds.dropped.items()))
    result = train(ds, train_cfg, say=say, tick=tick)
    oof_p, calibration = calibrate(result.model, result.oof_y, result.oof_p)  # scores become probabilities
    say(f"calibrated: out-of-fold Brier {calibration['oof_brier_before']:.4f} -> {calibration['oof_brier_after']:.4f}")
    version = new_version()
    candidate = Candidate(
        version=version,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        as_of=as_of.isoformat(),
        code_version=code_version(),
        features=result.features,
        categorical=result.categorical,
        dropped=result.dropped,
        feature_config=feature_cfg.model_dump(),
        family=result.family,
        family_reason=result.family_reason,
        params=result.params,
        imbalance=result.imbalance,
        imbalance_comparison=result.imbalance_comparison,
        tuning=result.tuning,
        cv=result.cv,
        rows=result.rows,
        data_snapshot=snapshot or {},
        seconds=result.seconds,
        calibration=calibration,
        outcome_examples=learned,
        registered_by=registered_by.strip() or default_person(),
    )
    holdout = frame[frame[ID_COLUMN].isin(set(result.holdout_ids))].reset_index(drop=True)
    oof = pd.DataFrame({ID_COLUMN: result.oof_ids, LABEL_COLUMN: result.oof_y, "p": oof_p})
    registry = Registry(store)
    registry.store_candidate(result.model, version, holdout, _parquet(oof))
    measured = [*feature_cfg.protected, *feature_cfg.allowed_protected]
    if measured:  # the holdout's protected groups, for fairness only (an allowed one is also a feature)
        groups = protected_groups(wh, holdout[ID_COLUMN], measured)
        store.write_bytes(f"{PREFIX}/{version}/{GROUPS}", _parquet(groups))
    store.write_text(f"{PREFIX}/{version}/candidate.json", candidate.model_dump_json(indent=2))
    return candidate


def protected_groups(wh: Warehouse, ids: pd.Series, protected: list[str]) -> pd.DataFrame:
    """The protected attributes of these customers, in their order (a current customer learned from its outcome
    is in the unlabelled cohort's table)."""
    tables = [table_name(c, "customers") for c in ("labelled", "unlabelled")]
    frames = [wh.read_table(t).to_pandas() for t in tables if wh.exists(t)]
    missing = sorted(set(protected) - set(frames[0].columns))
    if missing:
        raise DataContractError(
            f"protected attributes {missing} are not columns of the customers",
            "the mapping's `protected`",
            f"name customer attributes as loaded; the customers have {', '.join(map(str, frames[0].columns))}",
        )
    known = pd.concat([f.loc[:, [ID_COLUMN, *protected]] for f in frames if set(protected) <= set(f.columns)])
    known[ID_COLUMN] = known[ID_COLUMN].astype(str)
    known = known.drop_duplicates(ID_COLUMN).set_index(ID_COLUMN)
    return known.reindex(ids.astype(str)).reset_index()


def outcome_examples(wh: Warehouse, labelled: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Current customers whose outcome came in after the cut-off their features were built at (the last
    scoring's `unlabelled_features`), as labelled rows: a confirmed off-boarding or a loaded suspension is
    SUSPENDED, a keep or a loaded ACTIVE is ACTIVE (`runs.monitor.read_outcomes`, the latest per customer).
    An outcome decided before that cut-off is not used (the features might already reflect it), nor a
    customer already in the labelled cohort (the bank's own account state wins)."""
    empty = labelled.iloc[:0]
    cutoff = features_cutoff(wh, "unlabelled")
    if cutoff is None or not wh.exists(table_name("unlabelled", "features")):
        return empty, {"rows": 0, "suspended": 0, "skipped": "no current cohort's features with a known cut-off"}
    outcomes = read_outcomes(wh)
    outcomes = outcomes[(outcomes["decided_at"] >= cutoff) & ~outcomes["customer_id"].isin(labelled[ID_COLUMN])]
    state = outcomes.set_index("customer_id")["account_state"]
    current = read_features(wh, "unlabelled")
    ids = current[ID_COLUMN].astype(str)
    current = current[ids.isin(state.index)].copy()
    current["account_state"] = ids.loc[current.index].map(state)
    current[LABEL_COLUMN] = (current["account_state"] == LABEL_SUSPENDED).astype(labelled[LABEL_COLUMN].dtype)
    info = {"rows": len(current), "suspended": int(current[LABEL_COLUMN].sum()), "cutoff": cutoff.isoformat()}
    return current.loc[:, list(labelled.columns)], info


def _parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def _evaluate_stored(
    store: ArtifactStore,
    version: str,
    features: list[str],
    categorical: list[str],
    dropped: list[str],
    costs: CostMatrix,
    currency: str = "",
) -> Any:
    registry = Registry(store)
    model = registry.load_model(version)
    holdout = registry.holdout(version)
    oof = pd.read_parquet(io.BytesIO(store.read_bytes(f"{PREFIX}/{version}/oof.parquet")))
    X = align(holdout, features, categorical, dropped)
    return evaluate(
        model,
        X,
        holdout[LABEL_COLUMN].to_numpy(),
        categorical,
        oof[LABEL_COLUMN].to_numpy(),
        oof["p"].to_numpy(),
        costs,
        OffboardConfig().medium_factor,  # None: chosen on the holdout
        currency=currency,
    )


def evaluate_candidate(
    store: ArtifactStore,
    version: str,
    costs: CostMatrix | None = None,
    fairness: FairnessPolicy | None = None,
    max_list_share: float = 1.0,
) -> ModelCard:
    """Evaluate a trained candidate once and register it: report (with each protected group's figures against
    the `fairness` limits), then card.json (last)."""
    costs = costs or CostMatrix()
    key = f"{PREFIX}/{version}/candidate.json"
    if not store.exists(key):
        raise ArtifactError(
            f"model version {version} has no training record", store.uri(key), "train it first (the train step)"
        )
    c = Candidate.model_validate_json(store.read_text(key))
    currency = c.feature_config.get("currency") or ""
    ev = _evaluate_stored(store, version, c.features, c.categorical, list(c.dropped), costs, currency)
    limits = fairness or FairnessPolicy()
    fair = holdout_fairness(Registry(store), version, c, ev.threshold, limits, max_list_share, with_proxies=True)
    if fair:
        from riskops.model.plots import fairness_plot  # matplotlib only where a report is written

        ev.metrics |= {"fairness": fair, "fairness_limits": limits.model_dump()}
        ev.plots["fairness.png"] = fairness_plot(fair)
    card = ModelCard(
        **c.model_dump(),
        threshold=ev.threshold,
        thresholds=ev.thresholds,
        costs=costs.model_dump(),
        metrics=ev.metrics,
        importance=ev.importance[:30],
    )
    card.report_uri = write_report(store, f"{PREFIX}/{version}/evaluation", card.model_dump(), ev)
    default = OffboardConfig().resolved(card)
    store.write_text(f"{PREFIX}/{version}/{POLICY}", default.model_dump_json(indent=2))
    Registry(store).register(card)
    reference(store, card)  # its frozen profile, the baseline for drift (scoring.drift)
    return card


def holdout_fairness(
    registry: Registry,
    version: str,
    model: Candidate,
    threshold: float,
    limits: FairnessPolicy,
    max_list_share: float = 1.0,
    with_proxies: bool = False,
) -> dict[str, Any]:
    """The decisions of `model` at `threshold` on `version`'s holdout, per protected group ({} when the mapping
    declared none), and with `with_proxies` the model's features that tell a group apart. `model` may be another
    version than the holdout's (the gate scores the champion on it)."""
    key = f"{PREFIX}/{version}/{GROUPS}"
    if not registry.store.exists(key):
        return {}
    holdout = registry.holdout(version)
    groups = pd.read_parquet(io.BytesIO(registry.store.read_bytes(key))).drop(columns=[ID_COLUMN])
    X = align(holdout, model.features, model.categorical, list(model.dropped))
    p = predict(registry.load_model(model.version), X, model.categorical)
    # The decision the list makes: the High cut-off, or the top `max_list_share` of the book when that is tighter.
    listed_from = max(threshold, float(np.quantile(p, 1 - max_list_share))) if max_list_share < 1 else threshold
    out = measure(holdout[LABEL_COLUMN].to_numpy(), p, listed_from, groups, limits)
    if with_proxies:
        for name, found in proxies(X, groups, limits).items():
            out[name]["proxies"] = found
    return out


def fair_gate(
    registry: Registry, decision: GateDecision, limits: FairnessPolicy, max_list_share: float = 1.0
) -> GateDecision:
    """The gate's decision with fairness, both models judged on the challenger's holdout at their own cut-offs:
    a challenger that breaches a limit the champion meets is refused (`on_breach: warn`: promoted, the breach
    said). Without a champion there is nothing met to compare with: promoted, its breaches said."""
    if not decision.promote:
        return decision
    card = registry.card(decision.challenger)
    mine = breaches(holdout_fairness(registry, card.version, card, card.threshold, limits, max_list_share))
    if not mine:
        return decision
    if decision.champion is None:
        return decision.model_copy(update={"reason": f"{decision.reason}; fairness: {'; '.join(mine)}"})
    champ = registry.card(decision.champion)
    theirs = {
        _breach_kind(b)
        for b in breaches(holdout_fairness(registry, card.version, champ, champ.threshold, limits, max_list_share))
    }
    new = [b for b in mine if _breach_kind(b) not in theirs]
    if not new:
        return decision.model_copy(update={"reason": f"{decision.reason}; fairness as the champion: {'; '.join(mine)}"})
    refuse = limits.on_breach == "refuse"
    said = (
        f"{decision.reason}; {'refused' if refuse else 'warning'}: fairness {'; '.join(new)}, which the champion meets"
    )
    return decision.model_copy(update={"promote": not refuse, "reason": said})


def _breach_kind(breach: str) -> str:
    """'sex: listed-share ratio 0.55 < 0.8' -> 'sex: listed-share ratio'."""
    return re.sub(r" -?[\d.]+ [<>].*$", "", breach)


def reevaluate(store: ArtifactStore, version: str, costs: CostMatrix) -> tuple[ModelCard, str]:
    """Evaluate a registered version again (e.g. with another cost matrix) on its own holdout; a new report."""
    card = Registry(store).card(version)
    currency = card.feature_config.get("currency") or ""
    ev = _evaluate_stored(store, version, card.features, card.categorical, list(card.dropped), costs, currency)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    meta = card.model_dump() | {"threshold": ev.threshold, "costs": costs.model_dump()}
    uri = write_report(store, f"{PREFIX}/{version}/evaluation-{stamp}", meta, ev)
    return card, uri


def train_and_register(
    wh: Warehouse,
    store: ArtifactStore,
    as_of: date,
    train_cfg: TrainConfig | None = None,
    costs: CostMatrix | None = None,
    margin: float = 0.0,
    promote: bool = True,
    approval_required: bool = False,
    registered_by: str = "",
) -> tuple[ModelCard, GateDecision]:
    """The model half of a run in one call (features, train, evaluate, gate, promote when it passes), for tests,
    benchmarks and notebooks; runs go through riskops.runs.steps, which call the same functions one by one."""
    from riskops.features.adapt import adapt  # the book's own types, windows and currency, as a run's step

    cutoff = as_of_cutoff(as_of)
    feature_cfg = adapt(wh, "labelled", cutoff).config
    build_features(wh, "labelled", cutoff, feature_cfg)
    candidate = train_candidate(wh, store, as_of, train_cfg, feature_cfg, registered_by=registered_by)
    card = evaluate_candidate(store, candidate.version, costs)
    registry = Registry(store, approval_required)
    decision = registry.gate(card.version, "pr_auc", margin)
    if promote and decision.promote and not promote_or_queue(registry, card.version, decision.reason):
        decision = decision.model_copy(update={"awaiting_approval": True})
    return card, decision


def retraining_needed(
    card: ModelCard, snapshot: dict[str, Any], features: FeatureConfig | None, training: dict[str, Any]
) -> str:
    """Why a run must train rather than re-score with `card`'s model ("" when it need not): the labelled data
    (the ingest's fingerprint), the feature configuration, the family, the costs or learning from outcomes
    differ. Trials, seed and time budgets are how hard to train, not what: they do not call for a new model."""
    if not snapshot.get("fingerprint") or snapshot.get("fingerprint") != card.data_snapshot.get("fingerprint"):
        was, now = card.data_snapshot.get("fingerprint", "?"), snapshot.get("fingerprint", "?")
        return f"the labelled data changed since {card.version} (fingerprint {was} -> {now})"
    trained_with = FeatureConfig.model_validate(card.feature_config).model_dump(mode="json")
    if features is not None and features.model_dump(mode="json") != trained_with:
        return f"the feature configuration differs from {card.version}'s"
    if training.get("family", card.family) not in (card.family,):
        return f"the policy's family {training['family']} is not {card.family}, {card.version}'s"
    costs = {k: training.get(k, v) for k, v in card.costs.items()}
    if costs != card.costs:
        return f"the costs differ from {card.version}'s ({card.costs})"
    if bool(training.get("outcomes")) != bool(card.outcome_examples):
        said = "on" if training.get("outcomes") else "off"
        return f"learning from outcomes is {said}, not as for {card.version}"
    return ""

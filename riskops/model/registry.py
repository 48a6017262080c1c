"""Model registry in the artifact store (local folder or gs://).

    models/<version>/model.cbm        the CatBoost model, or model.skops when the logistic regression ships
    models/<version>/holdout.parquet  the holdout rows (features + label) the gate compares models on
    models/<version>/card.json        everything else; written last, so a version without it is incomplete
    models/<version>/evaluation/      report.md, report.html, PNGs
    models/<version>/approvals.json   its four-eyes approval log (riskops.model.approval)
    models/champion.json              the champion pointer and its history, replaced atomically

A challenger replaces the champion only if it beats it on the primary metric by `margin` on the
challenger's holdout rows, both models scored on the same rows. With approval required, only an approved version
can become the champion: the gate's winner waits for a validator.
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from catboost import CatBoostClassifier
from pydantic import BaseModel, Field
from sklearn.metrics import average_precision_score, roc_auc_score

from riskops.core.errors import ArtifactError, DataContractError, RiskOpsError
from riskops.features.engineering import LABEL_COLUMN
from riskops.io.artifacts import ArtifactStore
from riskops.model.approval import ApprovalError, Approvals, state_of
from riskops.model.inputs import Model, align_known, predict
from riskops.model.linear import FILE as LINEAR_FILE
from riskops.model.linear import LinearModel
from riskops.model.pack import read_pack

log = logging.getLogger(__name__)
PREFIX = "models"
CHAMPION = f"{PREFIX}/champion.json"
CHALLENGER = f"{PREFIX}/challenger.json"  # the shadow challenger: scored beside the champion, never served
METRICS = {"pr_auc": average_precision_score, "roc_auc": roc_auc_score}


class Candidate(BaseModel):
    """What training knows about a version before it is evaluated (`models/<version>/candidate.json`)."""

    version: str
    created: str
    as_of: str
    code_version: str
    features: list[str]
    categorical: list[str]
    dropped: dict[str, str]
    feature_config: dict[str, Any]
    family: str = Field(default="catboost", description="the model family that ships (the policy's `family`)")
    family_reason: str = ""
    params: dict[str, Any]
    imbalance: str
    imbalance_comparison: dict[str, dict[str, float]]
    tuning: dict[str, Any]
    cv: dict[str, dict[str, float]]
    rows: dict[str, int]
    data_snapshot: dict[str, Any]
    seconds: dict[str, float]
    registered_by: str = Field(default="", description="who trained and registered it (`--by`); never its approver")
    calibration: dict[str, Any] = Field(default_factory=dict, description="what model.calibration fitted; "
                                        "empty for a version trained before scores were calibrated")  # fmt: skip
    outcome_examples: dict[str, Any] = Field(
        default_factory=dict,
        description="current customers learned from "
        "their outcomes (`TrainConfig.outcomes`): how many, how many suspended",
    )


class ModelCard(Candidate):
    """A registered version (`card.json`): the candidate and its evaluation."""

    threshold: float
    thresholds: dict[str, float]
    costs: dict[str, float]
    metrics: dict[str, Any]
    importance: list[dict[str, Any]]
    report_uri: str = ""


class GateDecision(BaseModel):
    challenger: str
    champion: str | None
    metric: str
    margin: float
    challenger_score: float
    champion_score: float | None
    promote: bool
    reason: str
    awaiting_approval: bool = False  # it won, and with approval required waits for a validator


def new_version(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return "m" + now.strftime("%Y%m%d-%H%M%S-%f")


def _history(pointer: bytes | None, where: str) -> list[dict[str, Any]]:
    """The history in a pointer's bytes; an unreadable pointer (truncated, edited by hand) is replaced by the
    next promotion with a new history, said in the log: promoting is how an operator restores it."""
    if pointer is None:
        return []
    try:
        return list(json.loads(pointer)["history"])
    except (ValueError, KeyError, TypeError):
        log.warning("champion pointer %s is unreadable; the promotion starts a new history", where)
        return []


def _read_pointer(text: str, where: str) -> dict[str, Any]:
    """The champion pointer's version and history; a truncated or hand-edited one is a clear error (the
    service counts it in `riskops_champion_pointer_ok`; the CLI says how to restore it)."""
    try:
        pointer = json.loads(text)
        return {"version": pointer["version"], "history": list(pointer["history"])}
    except (ValueError, KeyError, TypeError) as e:
        raise RiskOpsError(f"the champion pointer is unreadable ({type(e).__name__}: {e})", where,
                           "promote a version (`riskops models promote VERSION`): the promotion rewrites the pointer "
                           "with a new history") from e  # fmt: skip


class Registry:
    def __init__(self, store: ArtifactStore, approval_required: bool = False) -> None:
        self.store = store
        self.approval_required = approval_required  # RISKOPS_MODEL_APPROVAL (Settings.approval_required)
        self.approvals = Approvals(store, PREFIX)

    # -- versions ---------------------------------------------------------------------------------------------
    def store_candidate(self, model: Model, version: str, holdout: pd.DataFrame, oof: bytes) -> None:
        """A trained model's files; not a version until `register` writes its card."""
        base = f"{PREFIX}/{version}"
        _save_model(self.store, base, model)
        buf = io.BytesIO()
        holdout.to_parquet(buf, index=False)
        self.store.write_bytes(f"{base}/holdout.parquet", buf.getvalue())
        self.store.write_bytes(f"{base}/oof.parquet", oof)

    def register(self, card: ModelCard) -> str:
        """Make a stored candidate a version: its card, written last, and only if its model loads and scores
        its own holdout rows."""
        self.check_loads(card.version, card)
        self.store.write_text(f"{PREFIX}/{card.version}/card.json", card.model_dump_json(indent=2))
        return card.version

    def check_loads(self, version: str, card: ModelCard | None = None) -> None:
        """Refuse a version whose model file does not load or does not give a finite score for each of its own
        holdout rows: such a model must never be registered, promoted or rolled back to."""
        card = card or self.card(version)
        key = self.model_key(version)
        where = self.store.uri(key)
        try:
            model = _load_model(self.store, key, version)
            holdout = self.holdout(version)
            X = align_known(holdout, card.features, card.categorical, list(card.dropped))
            scores = predict(model, X, card.categorical)
        except ArtifactError:
            raise
        except RiskOpsError as e:
            raise ArtifactError(f"model version {version} does not load: {e.what}", where, e.fix) from e
        except Exception as e:  # CatBoost and Arrow raise their own types for a damaged file
            raise ArtifactError(
                f"model version {version} does not load: {type(e).__name__}: {str(e)[:200]}",
                where,
                "retrain it; a damaged version cannot become the champion",
            ) from e
        if len(scores) != len(holdout) or len(scores) == 0 or not np.isfinite(scores).all():
            raise ArtifactError(f"model version {version} does not score its own holdout rows", where, "retrain it")

    def versions(self) -> list[str]:
        return sorted(
            {k.split("/")[1] for k in self.store.list(PREFIX) if k.endswith("/card.json") and k.count("/") == 2}
        )

    def exists(self, version: str) -> bool:
        """A registered version (its card written), not just a trained candidate."""
        return self.store.exists(f"{PREFIX}/{version}/card.json")

    def card(self, version: str) -> ModelCard:
        key = f"{PREFIX}/{version}/card.json"
        if not self.store.exists(key):
            raise ArtifactError(
                f"model version {version} not found", self.store.uri(key), "list versions with `riskops models list`"
            )
        return ModelCard.model_validate_json(self.store.read_text(key))

    def model_key(self, version: str) -> str:
        """Where a version's model file is: model.skops for a linear model, else model.cbm."""
        linear = f"{PREFIX}/{version}/{LINEAR_FILE}"
        return linear if self.store.exists(linear) else f"{PREFIX}/{version}/model.cbm"

    def load_model(self, version: str) -> Model:
        return _load_model(self.store, self.model_key(version), version)

    def load(self, version: str) -> tuple[Model, ModelCard]:
        card = self.card(version)
        return self.load_model(version), card

    def holdout(self, version: str) -> pd.DataFrame:
        return pd.read_parquet(io.BytesIO(self.store.read_bytes(f"{PREFIX}/{version}/holdout.parquet")))

    # -- champion ---------------------------------------------------------------------------------------------
    def _pointer(self) -> dict[str, Any]:
        if not self.store.exists(CHAMPION):
            return {"version": None, "history": []}
        return _read_pointer(self.store.read_text(CHAMPION), self.store.uri(CHAMPION))

    def champion(self) -> str | None:
        v = self._pointer()["version"]
        return str(v) if v else None

    def history(self) -> list[dict[str, Any]]:
        return list(self._pointer()["history"])

    def set_champion(self, version: str, reason: str, attempts: int = 20) -> None:
        """Point the champion at `version` and append it to the history, as one compare-and-swap of the
        pointer: two promotes at once both land, in some order, and neither loses the other's entry."""
        self.check_loads(version)  # refuses unknown, incomplete and damaged versions
        self.check_approved(version)
        for _ in range(attempts):
            data, token = self.store.read_versioned(CHAMPION)
            history = _history(data, self.store.uri(CHAMPION))
            entry = {"version": version, "at": datetime.now(UTC).isoformat(), "reason": reason}
            pointer = {"version": version, "history": [*history, entry]}
            if self.store.write_if(CHAMPION, json.dumps(pointer, indent=2).encode(), token):
                return
        raise RiskOpsError(
            f"the champion pointer changed {attempts} times while promoting {version}", self.store.uri(CHAMPION),
            "another promotion is running; try again when it is done",
        )  # fmt: skip

    def check_approved(self, version: str) -> None:
        """With approval required, refuse a version no validator has approved: it may not decide."""
        if not self.approval_required:
            return
        state = self.approvals.state(version)
        if state != "approved":
            raise ApprovalError(
                f"model version {version} is {state}, and model approval is required",
                self.store.uri(f"{PREFIX}/{version}"),
                f"a validator (not its registering person) approves it: riskops models approve {version} --by NAME",
            )

    def challenger(self) -> str | None:
        """The version the service scores in shadow beside the champion, if one is named."""
        if not self.store.exists(CHALLENGER):
            return None
        v = json.loads(self.store.read_text(CHALLENGER)).get("version")
        return str(v) if v else None

    def set_challenger(self, version: str | None, reason: str) -> None:
        """Name the shadow challenger (None: none). It must load and score its holdout, like a champion."""
        if version is not None:
            self.check_loads(version)
        entry = {"version": version, "at": datetime.now(UTC).isoformat(), "reason": reason}
        self.store.write_text(CHALLENGER, json.dumps(entry, indent=2))

    def rollback(self) -> str:
        """Make the latest earlier champion that still loads the champion again (a new history entry)."""
        pointer = self._pointer()
        current = pointer["version"]
        earlier = [str(h["version"]) for h in pointer["history"] if h["version"] != current]
        if not current or not earlier:
            raise RiskOpsError(
                "there is no earlier champion to roll back to", self.store.uri(CHAMPION), "promote a version"
            )
        refused = []
        for target in dict.fromkeys(reversed(earlier)):  # latest first, each version once
            try:
                self.set_champion(target, f"rollback from {current}")
                return target
            except ArtifactError as e:
                refused.append(f"{target} ({e.what})")
        raise RiskOpsError(
            "no earlier champion still loads: " + "; ".join(refused), self.store.uri(CHAMPION), "promote a version"
        )

    # -- the gate ---------------------------------------------------------------------------------------------
    def score(self, version: str, frame: pd.DataFrame) -> np.ndarray:
        model, card = self.load(version)
        return predict(model, align_known(frame, card.features, card.categorical, list(card.dropped)), card.categorical)

    def gate(self, challenger: str, metric: str = "pr_auc", margin: float = 0.0) -> GateDecision:
        """Compare the challenger with the champion on the challenger's holdout rows."""
        if metric not in METRICS:
            raise RiskOpsError(f"unknown metric {metric}", "gate", f"use one of {sorted(METRICS)}")
        frame = self.holdout(challenger)
        y = frame[LABEL_COLUMN].to_numpy()
        score = float(METRICS[metric](y, self.score(challenger, frame)))
        champ = self.champion()

        def decide(promote: bool, champ_score: float | None, reason: str) -> GateDecision:
            return GateDecision(
                challenger=challenger, champion=champ, metric=metric, margin=margin, challenger_score=score,
                champion_score=champ_score, promote=promote, reason=reason,
            )  # fmt: skip

        if champ is None:
            return decide(True, None, "no champion yet")
        if champ == challenger:
            return decide(False, score, "already champion")
        try:
            champ_score = float(METRICS[metric](y, self.score(champ, frame)))
        except DataContractError as e:
            return decide(
                False,
                None,
                f"the champion {champ} has another feature set than {challenger} ({e.what}): both are in the book "
                f"at {self.store.uri('')}, so its data or mapping changed; give a different book its own name "
                "(--book NAME), or promote by hand if this book's new feature set is meant",
            )
        except ArtifactError as e:  # a damaged champion is an operator's call, not the gate's
            return decide(False, None, f"the champion cannot be loaded ({e.what}); promote by hand")
        promote = score > champ_score + margin  # a tie keeps the champion: a new model must earn the switch
        verdict = "beats" if promote else "does not beat"
        return decide(
            promote, champ_score, f"{metric} {score:.4f} {verdict} champion {champ_score:.4f} + margin {margin}"
        )


# -- four eyes --------------------------------------------------------------------------------------------------
def promote_or_queue(registry: Registry, version: str, reason: str, by: str = "gate") -> bool:
    """Make `version` the champion, or with approval required put it in the validators' queue (an approval
    promotes it then). True when it became the champion."""
    if registry.approval_required and registry.approvals.state(version) != "approved":
        registry.approvals.request(version, by, reason)
        return False
    registry.set_champion(version, reason)
    return True


def approve(registry: Registry, version: str, by: str, comment: str = "") -> bool:
    """A validator's approval (four eyes: not the registering person); a version waiting in the queue
    becomes the champion. True when it did."""
    waiting = registry.approvals.state(version) == "awaiting approval"
    registry.check_loads(version)  # a version that does not load is not approved, let alone promoted
    registry.approvals.decide(version, "approved", by, comment, registry.card(version).registered_by)
    if waiting:
        registry.set_champion(version, f"approved by {by}" + (f": {comment}" if comment else ""))
    return waiting


def reject(registry: Registry, version: str, by: str, comment: str) -> None:
    registry.approvals.decide(version, "rejected", by, comment, registry.card(version).registered_by)


def overview(registry: Registry) -> list[dict[str, Any]]:
    """Every registered version, newest first, as a validator reviews them: who registered it, its holdout
    figures, its approval state and log, whether it is the champion."""
    champion = registry.champion()
    rows = []
    for version in reversed(registry.versions()):
        card = registry.card(version)
        log = registry.approvals.entries(version)
        pack = read_pack(registry.store, version)
        rows.append({
            "version": version,
            "family": card.family,
            "created": card.created,
            "as_of": card.as_of,
            "registered_by": card.registered_by,
            "customers": card.rows.get("customers", 0),
            "metrics": {k: float(card.metrics[k]) for k in ("roc_auc", "pr_auc", "brier") if k in card.metrics},
            "report_uri": card.report_uri,
            "validation": pack.status if pack else "not validated",
            "state": state_of(log),
            "approvals": [e.model_dump() for e in log],
            "champion": version == champion,
        })  # fmt: skip
    return rows


def garbage(registry: Registry, older_than_s: float) -> list[str]:
    """What killed runs left behind, older than `older_than_s` (younger ones may belong to a run in
    progress): files of candidate folders that never got a card and are not the champion, and temporary
    files of interrupted writes. `riskops models gc` lists them and, asked to, deletes them."""
    keys = registry.store.list(PREFIX)
    registered = {k.split("/")[1] for k in keys if k.endswith("/card.json") and k.count("/") == 2}
    champion = registry.champion() if registry.store.exists(CHAMPION) else None
    folders: dict[str, list[str]] = {}
    for k in keys:
        parts = k.split("/")
        if len(parts) > 2 and parts[1] not in registered and parts[1] != champion:
            folders.setdefault(parts[1], []).append(k)
    orphans = [k for files in folders.values() if min(registry.store.age_s(f) for f in files) > older_than_s
               for k in files]  # fmt: skip
    temps = [k for k in registry.store.leftovers(PREFIX) if registry.store.age_s(k) > older_than_s]
    return sorted(orphans + temps)


def _save_model(store: ArtifactStore, base: str, model: Model) -> None:
    if isinstance(model, LinearModel):
        store.write_bytes(f"{base}/{LINEAR_FILE}", model.to_bytes())
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.cbm"
        model.save_model(str(path))
        store.write_file(f"{base}/model.cbm", path)


def _load_model(store: ArtifactStore, key: str, version: str) -> Model:
    data, where = store.read_bytes(key), store.uri(key)
    if key.endswith(LINEAR_FILE):
        return LinearModel.from_bytes(data, where)
    return _catboost_from(data, version, where)


def _catboost_from(data: bytes, version: str, where: str) -> CatBoostClassifier:
    model = CatBoostClassifier()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.cbm"
        path.write_bytes(data)
        try:
            model.load_model(str(path))
        except Exception as e:  # CatBoost raises its own type for a damaged file
            raise ArtifactError(
                f"model version {version} does not load: {type(e).__name__}: {str(e)[:200]}",
                where,
                "retrain it, or set a loadable champion with `riskops models promote VERSION`",
            ) from e
    return model

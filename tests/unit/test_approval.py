"""Four-eyes model approval (issue: model governance): with approval required a gate winner waits for a
validator, its registering person cannot approve it, a decision is final and keeps the evidence's digest, and
nothing scores, serves or becomes the champion with an unapproved version."""

from __future__ import annotations

import json
import threading
from datetime import date
from pathlib import Path

import pytest

from riskops.core.config import Settings, StepConfig
from riskops.core.errors import RiskOpsError
from riskops.io.artifacts import LocalStore
from riskops.io.warehouse.duckdb import DuckDBWarehouse
from riskops.model.approval import Approvals, state_of
from riskops.model.cardpage import version_card
from riskops.model.config import CostMatrix, TrainConfig
from riskops.model.registry import Registry, approve, reject
from riskops.runs.candidate import train_and_register
from riskops.scoring.offboard import scoring_version
from riskops.scoring.online import ModelHolder

AS_OF = date(2026, 9, 30)
FAST = TrainConfig(folds=2, trials=0, max_iterations=60, seed=1)


def _log(tmp_path: Path) -> Approvals:
    store = LocalStore(tmp_path)
    store.write_text("models/m1/card.json", '{"version": "m1"}')
    store.write_text("models/m1/evaluation/report.md", "# report")
    return Approvals(store, "models")


def test_a_request_waits_and_the_first_decision_is_final(tmp_path: Path) -> None:
    log = _log(tmp_path)
    assert log.state("m1") == "not submitted" and log.awaiting() == []
    log.request("m1", "gate", "beats the champion")
    log.request("m1", "gate", "asked again")  # still one request while it waits
    assert log.state("m1") == "awaiting approval" and log.awaiting() == ["m1"]
    assert [e.action for e in log.entries("m1")] == ["requested"]

    with pytest.raises(RiskOpsError, match="Dana registered model version m1 and cannot also approve it"):
        log.decide("m1", "approved", "Dana", "", registered_by="dana ")  # names compare without case or spaces
    with pytest.raises(RiskOpsError, match="a rejection needs its reason"):
        log.decide("m1", "rejected", "vera", "  ", registered_by="dana")
    assert log.state("m1") == "awaiting approval"  # refusals write nothing

    entry = log.decide("m1", "approved", "vera", "pack reviewed", registered_by="dana")
    assert log.state("m1") == "approved" and log.awaiting() == []
    assert entry.evidence_sha256 == log.evidence("m1") and len(entry.evidence_sha256) == 64
    with pytest.raises(RiskOpsError, match="m1 was already approved by vera") as e:
        log.decide("m1", "rejected", "ana", "second thoughts", registered_by="dana")
    assert "retrain" in e.value.fix
    with pytest.raises(RiskOpsError, match="already approved"):
        log.request("m1", "gate", "won again")
    saved = json.loads((tmp_path / "models/m1/approvals.json").read_text())
    assert [(e["action"], e["by"]) for e in saved] == [("requested", "gate"), ("approved", "vera")]


def test_the_evidence_digest_changes_with_the_card_or_report(tmp_path: Path) -> None:
    log = _log(tmp_path)
    before = log.evidence("m1")
    log.store.write_text("models/m1/evaluation/report.md", "# report, edited")
    assert log.evidence("m1") != before


def test_two_validators_at_once_make_one_decision(tmp_path: Path) -> None:
    log = _log(tmp_path)
    log.request("m1", "gate", "won")
    start, outcomes = threading.Barrier(6), []

    def decide(who: str) -> None:
        start.wait()
        try:
            log.decide("m1", "approved" if who < "v3" else "rejected", who, "because", registered_by="dana")
            outcomes.append(who)
        except RiskOpsError:
            pass

    threads = [threading.Thread(target=decide, args=(f"v{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(outcomes) == 1
    decisions = [e for e in log.entries("m1") if e.action != "requested"]
    assert [e.by for e in decisions] == outcomes


def test_approval_required_by_setting_or_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RISKOPS_MODEL_APPROVAL", "RISKOPS_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    assert not Settings().approval_required
    assert Settings(model_approval="required").approval_required
    assert Settings(environment="production").approval_required
    assert not Settings(environment="production", model_approval="off").approval_required
    # It travels to the pipeline's steps in their configuration and comes back the same.
    step = StepConfig.from_settings(Settings(model_approval="required", artifact_root="/tmp/x"), "/tmp/w.duckdb")
    assert step.model_approval and step.settings().approval_required
    assert state_of([]) == "not submitted"


def test_no_unapproved_model_decides(ingested: DuckDBWarehouse, tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    card, gate = train_and_register(
        ingested, store, AS_OF, FAST, CostMatrix(), approval_required=True, registered_by="dana"
    )
    reg = Registry(store, approval_required=True)
    assert gate.promote and gate.awaiting_approval and card.registered_by == "dana"
    assert reg.champion() is None and reg.approvals.awaiting() == [card.version]
    with pytest.raises(RiskOpsError, match=f"no champion model to score with \\({card.version} awaiting approval"):
        scoring_version(reg)
    with pytest.raises(RiskOpsError, match="is awaiting approval, and model approval is required"):
        reg.set_champion(card.version, "by hand")
    with pytest.raises(RiskOpsError, match="Dana registered"):
        approve(reg, card.version, "Dana")
    assert reg.champion() is None

    # Before approval was required, a version became the champion unapproved: now it is not served.
    Registry(store).set_champion(card.version, "before approval was required")
    holder = ModelHolder(reg)
    assert not holder.refresh() and holder.current is None
    assert f"champion {card.version} is awaiting approval" in holder.last_failure
    assert holder.awaiting == [card.version]
    with pytest.raises(RiskOpsError, match="approval is required"):
        scoring_version(reg)

    assert approve(reg, card.version, "vera", "pack reviewed")  # it waited: now the champion
    assert reg.champion() == card.version and reg.history()[-1]["reason"] == "approved by vera: pack reviewed"
    assert holder.refresh() and holder.current is not None and holder.current.version == card.version
    assert holder.awaiting == [] and scoring_version(reg) == card.version

    # Its model card says what it is for, what it saw, how it did and who approved it, from its own figures.
    page = version_card(reg, card.version)
    assert page.registered_by == "dana" and page.approval["state"] == "approved"
    assert [e["by"] for e in page.approval["log"]] == ["gate", "vera"]
    assert page.metrics["holdout_pr_auc"] == card.metrics["pr_auc"] and page.data["positives"] == card.rows["suspended"]
    assert any("Deciding about a customer without a person" in x for x in page.not_intended_use)
    held = int(card.metrics["holdout_suspended"])
    assert f"The holdout holds {held} SUSPENDED customers" in page.limitations[0]  # a small book says so
    assert any("declared no protected attributes" in x for x in page.limitations)

    # A rejected challenger can never be promoted, even by hand.
    other, _ = train_and_register(
        ingested, store, AS_OF, FAST.model_copy(update={"seed": 3}), promote=False, approval_required=True
    )
    reject(reg, other.version, "vera", "unstable across vintages")
    with pytest.raises(RiskOpsError, match="is rejected"):
        reg.set_champion(other.version, "by hand")
    assert reg.champion() == card.version


def test_a_policy_change_retrains_only_when_what_the_model_learned_from_changed(
    ingested: DuckDBWarehouse, tmp_path: Path
) -> None:
    from riskops.features.engineering import FeatureConfig
    from riskops.runs.candidate import retraining_needed

    store = LocalStore(tmp_path)
    card, _ = train_and_register(ingested, store, AS_OF, FAST, CostMatrix())
    card = card.model_copy(update={"data_snapshot": {"fingerprint": "abc"}})
    config = FeatureConfig.model_validate(card.feature_config)
    same = {"family": card.family, "outcomes": False, **card.costs, "trials": 99, "seed": 7}
    assert retraining_needed(card, {"fingerprint": "abc"}, config, same) == ""  # trials and seed do not count
    assert "the labelled data changed" in retraining_needed(card, {"fingerprint": "xyz"}, config, same)
    other = config.model_copy(update={"long_window": 180})
    assert "feature configuration differs" in retraining_needed(card, {"fingerprint": "abc"}, other, same)
    assert "family logistic_regression" in retraining_needed(
        card, {"fingerprint": "abc"}, config, same | {"family": "logistic_regression"}
    )
    assert "costs differ" in retraining_needed(card, {"fingerprint": "abc"}, config, same | {"missed_cost": 1.0})
    assert "outcomes is on" in retraining_needed(card, {"fingerprint": "abc"}, config, same | {"outcomes": True})

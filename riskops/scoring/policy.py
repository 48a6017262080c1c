"""The off-boarding policy: segments, rules and cut-offs, saved with each model (its default) and each scoring
run, and read back by the service so batch and online decide alike. Pydantic only: the CLI reads it at start."""

from __future__ import annotations

import hashlib
import json
import math
import operator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from riskops.core.configfile import read_config
from riskops.core.errors import ConfigError
from riskops.model.config import ModelChoice, TrainConfig, ValidationPolicy
from riskops.model.fairness import FairnessPolicy
from riskops.model.segments import Cutoffs

if TYPE_CHECKING:
    from riskops.io.artifacts import ArtifactStore
    from riskops.model.registry import ModelCard


_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


@dataclass(frozen=True)
class BookTraits:
    """What a rule's meaning can depend on: the book's main currency and its transaction types, as the features
    step read them off the labelled book (None: not known, e.g. a model trained before they were read)."""

    currency: str | None = None
    types: tuple[str, ...] | None = None

    @classmethod
    def of(cls, card: ModelCard) -> BookTraits:
        c = card.feature_config
        return cls(c.get("currency"), tuple(c["types"]) if "types" in c else None)


class Rule(BaseModel):
    # A misspelt setting is an error, never silently the default; an infinite or NaN value never fires.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str
    feature: str
    op: Literal[">=", ">", "<=", "<"] = ">="
    value: float
    meaning: str = Field(description="what it means for the business, shown on the list")
    currency: str | None = Field(
        default=None,
        description="the currency its threshold is in; the rule is skipped "
        "for a book in another currency (default: any)",
    )
    types: list[str] | None = Field(
        default=None,
        description="the transaction types its meaning is about; the rule "
        "is skipped for a book with none of them (default: any)",
    )

    def unfit(self, book: BookTraits) -> str | None:
        """Why the rule would not mean what it says in this book (None: it does, or the book is not known)."""
        if self.currency and book.currency and self.currency.upper() != book.currency.upper():
            return f"its threshold is in {self.currency}; the book is in {book.currency}"
        if self.types and book.types is not None and not set(self.types) & set(book.types):
            return f"it is about {', '.join(self.types)} transactions; the book has {', '.join(book.types) or 'none'}"
        return None

    def fits(self, book: BookTraits) -> bool:
        return self.unfit(book) is None

    def check(self, values: pd.Series) -> pd.Series:
        hit = _OPS[self.op](pd.to_numeric(values, errors="coerce"), self.value)
        return hit.fillna(False).astype(bool)

    def fires(self, value: Any) -> bool:
        """`check` for one value (the service's path: no Series per request)."""
        try:
            return bool(_OPS[self.op](float(value), self.value))  # NaN compares False, as in `check`
        except (TypeError, ValueError):
            return False


MAX_COST = 1e12  # a cost beyond any bank's book: 1e308 for both costs listed every customer

DEFAULT_RULES = [
    Rule(
        name="pass_through",
        feature="pass_through_2d_90d",
        value=0.8,
        meaning="moves most incoming money straight out again (mule / layering pattern)",
        types=["transfer", "cash_deposit", "withdrawal", "crypto"],
    ),  # a repayment then a bill is no layering
    Rule(
        name="high_risk_corridors",
        feature="high_risk_out_sum_365d",
        value=10_000,
        currency="EUR",
        meaning="sends large sums to high-risk jurisdictions",
    ),
    Rule(
        name="chargebacks",
        feature="chargeback_reversed_count_365d",
        value=3,
        meaning="repeated chargebacks or reversals (first-party fraud)",
    ),
    Rule(
        name="structuring",
        feature="near_threshold_count_90d",
        value=3,
        currency="EUR",
        meaning="several amounts just under the reporting threshold (structuring)",
    ),
]


class DriftPolicy(BaseModel):
    """When a scored cohort's inputs or scores count as drifted from the model's reference (scoring.drift)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    psi: float = Field(default=0.2, gt=0, le=10, description="PSI above this is drift (0.1-0.2 moderate, > 0.2 major)")
    js: float = Field(default=0.1, gt=0, le=1, description="Jensen-Shannon divergence (base 2) for categoricals")
    confidence: float = Field(
        default=0.99,
        gt=0.5,
        lt=1,
        description="a PSI sampling alone reaches this seldom at the cohort's size is never drift",
    )
    min_rows: int = Field(default=100, ge=1, description="cohorts smaller than this are not judged")


class OffboardConfig(BaseModel):
    """The off-boarding policy: one object, saved with the model (its default) and with every scoring run that
    used it (`<run>/policy.json`), and read back by the service, so batch and online decide alike."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # costs of .inf list the whole book

    medium_factor: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="Medium from this x the High cut-off; default: the model's, chosen on its holdout so that each "
        "segment holds enough customers to measure its rate and the rates rise Low < Medium < High (0.5 when none "
        "does)",
    )
    high_cutoff: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="default: from the costs below if set, else the model's cost-optimal threshold",
    )
    missed_cost: float | None = Field(
        default=None,
        gt=0,
        le=MAX_COST,
        description="cost of keeping a customer who is then "
        "SUSPENDED; with offboard_cost it sets the High cut-off without retraining",
    )
    offboard_cost: float | None = Field(
        default=None, gt=0, le=MAX_COST, description="cost of off-boarding a good customer"
    )
    capacity: int | None = Field(
        default=None,
        ge=1,
        description="the most customers the team can review per "
        "run: the batch list keeps the highest scores up to it (default: no limit)",
    )
    max_list_share: float | None = Field(
        default=0.10,
        gt=0,
        le=1,
        description="the most of the scored cohort the list may hold (default 10%): when "
        "the costs would list more, the list keeps the highest scores up to it and the run says how many more the "
        "costs alone would list and what each list is expected to cost; null: the costs alone decide",
    )
    rules: list[Rule] = Field(
        default_factory=lambda: list(DEFAULT_RULES),
        description="explainable conditions on "
        "one feature each (name, feature, op, value, meaning; currency and types say which books "
        "a rule fits); a Medium customer is listed when it triggers min_rules",
    )
    allow_protected: dict[str, str] = Field(
        default_factory=dict,
        description="protected attributes the model may "
        "use, each with the written justification the reports print (read when "
        "training); still measured for fairness",
    )
    fairness: FairnessPolicy = Field(
        default_factory=FairnessPolicy,
        description="limits across protected groups: "
        "the model report judges each candidate by them, the gate refuses a breach the "
        "champion does not make (read when training)",
    )
    validation: ValidationPolicy = Field(
        default_factory=ValidationPolicy,
        description="the limits each model's validation pack judges by (read when training and by `riskops models "
        "validate`)",
    )
    min_rules: int = Field(default=1, ge=1, description="rules a Medium customer must trigger to be off-boarded")
    reasons: int = Field(
        default=3, ge=1, le=10, description="reasons in words per listed customer (its largest positive contributions)"
    )
    drift: DriftPolicy = Field(
        default_factory=DriftPolicy, description="when a feature or the score has drifted from the model's holdout"
    )
    maturity_days: int = Field(
        default=90, ge=1, le=3650, description="days after a run's as-of date its outcomes count"
    )
    retrain_on: Literal["never", "drift", "performance", "either"] = Field(
        default="never", description="what lets the monitoring pipeline start the training pipeline (its gate decides)"
    )
    family: ModelChoice = Field(
        default=TrainConfig.model_fields["family"].default,
        description="the model family training ships: catboost, logistic_regression (the CV baseline, calibrated "
        "and explained like CatBoost), or best (the logistic regression only when it beats CatBoost on CV PR-AUC "
        "beyond the folds' noise); read when training, a re-scoring keeps the champion's",
    )

    @model_validator(mode="after")
    def _justified(self) -> OffboardConfig:
        short = sorted(name for name, why in self.allow_protected.items() if len(why.strip()) < 20)
        if short:
            raise ValueError(
                f"allow_protected: {short} need a written justification (20+ characters) that a "
                "reviewer can read in the report"
            )
        return self

    @model_validator(mode="after")
    def _rules_consistent(self) -> OffboardConfig:
        names = [r.name for r in self.rules]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"rules {twice} are named twice: give each rule its own name")
        if self.rules and self.min_rules > len(self.rules):
            raise ValueError(
                f"min_rules is {self.min_rules} but the policy has {len(self.rules)} rules: no Medium "
                "customer could ever be listed"
            )
        return self

    def resolved(self, card: ModelCard) -> OffboardConfig:
        """This policy with its High cut-off fixed: as set; else, when the policy names costs, the threshold that
        minimises the expected cost of a calibrated probability, offboard / (offboard + missed) (the other cost
        from the model's training); else the model's cost-optimal threshold."""
        if self.medium_factor is None:  # the model's own, chosen on its holdout (evaluate.choose_medium_factor)
            chosen = float(card.metrics.get("medium_factor", DEFAULT_MEDIUM_FACTOR))
            return self.model_copy(update={"medium_factor": chosen}).resolved(card)
        if self.high_cutoff is not None:
            return self
        if self.missed_cost is None and self.offboard_cost is None:
            return self.model_copy(update={"high_cutoff": card.threshold})
        if not card.calibration:
            raise ConfigError(
                f"the policy sets costs, but model {card.version}'s scores are not calibrated probabilities",
                "the policy's missed_cost / offboard_cost",
                "score with a model trained since scores are calibrated, or set high_cutoff instead of the costs",
            )
        missed, offboard = self.costs(card)
        return self.model_copy(update={"high_cutoff": offboard / (offboard + missed)})

    def list_limit(self, cohort: int) -> int | None:
        """The most customers a cohort's list may hold: the review capacity or the list share, the tighter."""
        share = max(1, math.floor(self.max_list_share * cohort)) if self.max_list_share else None
        limits = [x for x in (self.capacity, share) if x is not None]
        return min(limits) if limits else None

    def limited_by(self, cohort: int) -> str:
        """What sets the list's limit, in words for the run's summary and report."""
        if self.capacity is not None and self.capacity == self.list_limit(cohort):
            return f"the review capacity of {self.capacity:,} customers per run"
        return f"the policy's max_list_share, {self.max_list_share:.0%} of the {cohort:,} scored customers"

    def uncapped(self) -> OffboardConfig:
        """This policy without its list limit: what each shard scores with (the limit applies to the whole list)."""
        return self.model_copy(update={"capacity": None, "max_list_share": None})

    def costs(self, card: ModelCard) -> tuple[float, float]:
        """(missed, off-boarded): the policy's costs, else the model's training costs."""
        return (
            self.missed_cost or float(card.costs["missed_cost"]),
            self.offboard_cost or float(card.costs["offboard_cost"]),
        )

    @property
    def high(self) -> float:
        if self.high_cutoff is None:
            raise ValueError("the policy's High cut-off is not resolved against a model yet")
        return self.high_cutoff

    @property
    def medium(self) -> float:
        if self.medium_factor is None:
            raise ValueError("the policy's Medium cut-off is not resolved against a model yet")
        return self.high * self.medium_factor

    @property
    def cutoffs(self) -> Cutoffs:
        return Cutoffs(self.high, self.medium)


def training_family(policy: OffboardConfig | None) -> ModelChoice:
    """The model family training ships under `policy` (None: the default policy's)."""
    return (policy or OffboardConfig()).family


POLICY = "policy.json"  # beside a model version (its default) and in each scoring run's folder


def commented_yaml(model: BaseModel, indent: int = 0) -> str:
    """A settings object as YAML with each key's meaning above it (its field description), nested objects
    indented the same way: the default policy a person edits (`riskops policy default`)."""
    import textwrap

    import yaml

    pad, out = " " * indent, []
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if info.description:
            out += [f"{pad}# {line}" for line in textwrap.wrap(info.description, 110 - indent)]
        if isinstance(value, BaseModel):
            out += [f"{pad}{name}:", commented_yaml(value, indent + 2).rstrip("\n")]
        else:
            dumped = yaml.safe_dump({name: model.model_dump(mode="json")[name]}, sort_keys=False, width=110)
            out += [textwrap.indent(dumped.rstrip("\n"), pad)]
    return "\n".join(out) + "\n"


DEFAULT_MEDIUM_FACTOR = 0.5  # Medium from half the High cut-off, when no factor holds better on a holdout


def describe_policy(p: OffboardConfig) -> str:
    """What a policy decides, in a few lines for a person."""
    if p.high_cutoff is not None:
        high = f"{p.high_cutoff:.3f}"
    elif p.missed_cost is not None or p.offboard_cost is not None:
        high = (
            f"the probability where off-boarding costs less than keeping (missed {p.missed_cost or 'as trained'}, "
            f"off-board {p.offboard_cost or 'as trained'})"
        )
    else:
        high = "the model's cost-optimal threshold"
    lines = [
        f"High from a score of {high}; Medium from "
        + (f"{p.medium_factor:g} x that" if p.medium_factor else "the model's factor x that (chosen on its holdout)"),
        f"review capacity: {f'{p.capacity:,} customers per run' if p.capacity else 'no limit'}; the list holds at "
        f"most {f'{p.max_list_share:.0%} of the scored cohort' if p.max_list_share else 'what the costs list'}",
        f"off-boarded: every High customer, and a Medium one that triggers {p.min_rules}+ of these rules:",
        *(f"  - {r.name}: {r.feature} {r.op} {r.value:g} ({r.meaning})" for r in p.rules),
        f"reasons per customer: {p.reasons}",
        f"drift: PSI > {p.drift.psi:g}, JS > {p.drift.js:g} at {p.drift.confidence:.0%} confidence, "
        f"cohorts of {p.drift.min_rows}+",
        f"outcomes count {p.maturity_days} days after a run; retraining starts on: {p.retrain_on}",
        f"model family training ships: {p.family}",
    ]
    return "\n".join(lines)


def list_share_note(policy: OffboardConfig, card: ModelCard, holdout: Any) -> str | None:
    """What the list limit does on the model's holdout scores: how much of a book the costs alone would list."""
    high = policy.resolved(card).high
    share = float((holdout >= high).mean()) if len(holdout) else 0.0
    if not policy.max_list_share or share <= policy.max_list_share:
        return None
    return (
        f"on model {card.version}'s holdout the High cut-off {high:.3f} alone lists {share:.0%} of the customers; "
        f"the list is cut to {policy.max_list_share:.0%} of each scored cohort (max_list_share), the highest "
        "scores first: lower missed_cost or raise offboard_cost to list fewer by the costs, or set "
        "max_list_share"
    )


def check_against_model(policy: OffboardConfig, card: ModelCard) -> tuple[list[str], list[str]]:
    """What a policy would do with this model: (errors, notes). A rule the file names on a feature the model does
    not have would never fire: an error, naming the feature and the closest ones the model has (a default rule:
    a note, it is not used here). A rule that does not fit
    the book (another currency, no such transactions) is skipped at scoring: a note."""
    import difflib

    book, errors, notes = BookTraits.of(card), [], []
    for rule in policy.rules:
        why = rule.unfit(book)
        if why:
            notes.append(f"rule {rule.name} is skipped for this book: {why}")
        elif rule.feature not in card.features and "rules" not in policy.model_fields_set:
            notes.append(f"default rule {rule.name} is not used here: model {card.version} has no {rule.feature}")
        elif rule.feature not in card.features:
            near = difflib.get_close_matches(rule.feature, card.features, n=3)
            hint = f" (closest: {', '.join(near)})" if near else ""
            errors.append(f"rule {rule.name}: model {card.version} has no feature {rule.feature!r}{hint}")
    if policy.rules and not any(r.fits(book) and r.feature in card.features for r in policy.rules):
        notes.append("no rule fits this book: a Medium customer is never listed, only High ones")
    return errors, notes


def policy_digest(policy: OffboardConfig) -> str:
    """`sha256:<hex>` of the policy's settings (JSON, keys sorted): names exactly which policy made a list."""
    canonical = json.dumps(policy.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def load_policy(path: Path) -> OffboardConfig:
    """An off-boarding policy file (YAML, or JSON, which is YAML too), read strictly and checked against the
    policy's schema (the same model the service and the monitor read)."""
    fix = "fix the named settings; `riskops policy default` prints every setting with its default"
    return read_config(path, OffboardConfig, "policy file", fix)


def read_policy(store: ArtifactStore, folder: str) -> OffboardConfig | None:
    """The policy saved in `folder` (a run id, or models/<version>), or None when there is none."""
    key = f"{folder}/{POLICY}"
    return OffboardConfig.model_validate_json(store.read_text(key)) if store.exists(key) else None


def model_policy(store: ArtifactStore, card: ModelCard) -> OffboardConfig:
    """A model's default policy, resolved against it."""
    return (read_policy(store, f"models/{card.version}") or OffboardConfig()).resolved(card)

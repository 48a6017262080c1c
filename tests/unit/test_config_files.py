"""Every configuration file goes through one strict reader (riskops.core.configfile): the policy and mapping
findings of a careless user and an attacker, each refused with what, where and what to do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from console.users import Users
from riskops.core.configfile import MAX_BYTES
from riskops.core.errors import ConfigError, RiskOpsError
from riskops.data.contract import load_mapping
from riskops.scoring.policy import OffboardConfig, load_policy

RULE = "{name: r1, feature: f, op: '>', value: 1, meaning: m}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("offboard_cost: .inf\n", "offboard_cost"),  # passed, then stopped a running service's polling
        ("missed_cost: .inf\n", "missed_cost"),  # listed every customer
        ("missed_cost: 1e308\noffboard_cost: 1e308\n", "missed_cost"),
        ("maturity_days: 1000000000000\n", "maturity_days"),  # monitor crashed with OverflowError
        ("rules: [{name: r, feature: f, op: '>', value: .nan, meaning: m}]\n", "rules.0.value"),
        ("rules: [{name: r, feature: f, op: '>', value: .inf, meaning: m}]\n", "rules.0.value"),
        (f"rules: [{RULE}, {RULE}]\n", "named twice"),
        (f"rules: [{RULE}]\nmin_rules: 2\n", "min_rules is 2"),
        ("drift: {psi: .inf}\n", "drift.psi"),
        ("capacity: 5\ncapacity: 500\n", "'capacity' is given twice (lines 1 and 2)"),  # the last won silently
        ("a:\n" + "".join("  " * i + "- \n" for i in range(1, 60)), "nested"),
    ],
)
def test_a_policy_that_cannot_be_honoured_is_refused_by_name(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "policy.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_policy(p)
    assert message in e.value.what and e.value.where == str(p)


def test_the_same_model_refuses_an_infinite_policy_read_from_a_run() -> None:
    """A policy published as JSON (the service and the monitor read it) is held to the same checks."""
    with pytest.raises(ValueError, match="offboard_cost"):
        OffboardConfig.model_validate_json('{"offboard_cost": Infinity}')


def test_files_that_are_not_configuration_are_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("capacity: 5\n" + "#" * MAX_BYTES)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("capacity: 5 # caf\xe9\n".encode("latin-1"))
    for path, message in ((big, "at most 1,000,000"), (latin, r"not UTF-8 \(byte 17")):
        for read in (load_policy, load_mapping, Users.load):
            with pytest.raises(ConfigError, match=message):
                read(path)


# -- properties: any input is accepted and round-trips, or refused with a RiskOpsError; never a traceback --------

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.floats(), st.text(max_size=20))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
POLICY_KEYS = st.sampled_from(
    [
        "offboard_cost",
        "missed_cost",
        "capacity",
        "high_cutoff",
        "medium_factor",
        "min_rules",
        "maturity_days",
        "rules",
        "drift",
        "reasons",
        "family",
        "surprise",
    ]
)
MAPPING_KEYS = st.sampled_from(
    [
        "customers",
        "transactions",
        "outcomes",
        "labels",
        "directions",
        "currencies",
        "max_amount",
        "max_quarantine_share",
        "cohorts",
        "surprise",
    ]
)
RULES = st.fixed_dictionaries(
    {
        "name": st.text(min_size=1, max_size=8),
        "feature": st.text(min_size=1, max_size=8),
        "op": st.sampled_from([">", ">=", "<", "<=", "=="]),
        "value": st.floats(),
        "meaning": st.text(max_size=10),
    }
)


def _yaml_file(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "file.yaml"
    path.write_text(yaml.safe_dump(content, allow_unicode=True))
    return path


def _accepted_or_refused(read: Any, path: Path) -> Any:
    try:
        got = read(path)
    except RiskOpsError:
        event("refused")
        return None
    event("accepted")
    return got


NUMBERS = st.floats() | st.integers(-5, 10**13)
PLAUSIBLE_POLICY = st.fixed_dictionaries(
    {},
    optional={
        "offboard_cost": NUMBERS,
        "missed_cost": NUMBERS,
        "capacity": NUMBERS | st.none(),
        "medium_factor": NUMBERS,
        "high_cutoff": NUMBERS | st.none(),
        "min_rules": st.integers(-1, 4),
        "maturity_days": NUMBERS,
        "rules": st.lists(RULES, max_size=3),
        "drift": st.fixed_dictionaries({}, optional={"psi": NUMBERS}),
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.dictionaries(POLICY_KEYS, VALUES | st.lists(RULES, max_size=3), max_size=6) | PLAUSIBLE_POLICY)
def test_any_policy_is_accepted_and_round_trips_or_is_refused(tmp_path: Path, content: dict[str, Any]) -> None:
    policy = _accepted_or_refused(load_policy, _yaml_file(tmp_path, content))
    if policy is not None:
        assert load_policy(_yaml_file(tmp_path, policy.model_dump(mode="json"))) == policy


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.dictionaries(MAPPING_KEYS, VALUES, max_size=6))
def test_any_mapping_is_accepted_and_round_trips_or_is_refused(tmp_path: Path, content: dict[str, Any]) -> None:
    mapping = _accepted_or_refused(load_mapping, _yaml_file(tmp_path, content))
    if mapping is not None:
        assert load_mapping(_yaml_file(tmp_path, mapping.parameter())) == mapping


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_are_a_configuration_or_a_clear_refusal(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "file.yaml"
    path.write_bytes(raw)
    for read in (load_policy, load_mapping, Users.load):
        _accepted_or_refused(read, path)

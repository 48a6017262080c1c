"""Every configuration file goes through one strict reader (riskops.core.configfile): the policy and mapping
findings of a careless user and an attacker, each refused with what, where and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskops.core.configfile import MAX_BYTES
from riskops.core.errors import ConfigError
from riskops.data.contract import load_mapping
from riskops.scoring.policy import OffboardConfig, load_policy
from riskops.scoring.review import Users

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

"""One strict reader for every configuration file a person writes (policy, mapping, users): bounded in size
before it is parsed, UTF-8 or a clear error, YAML (JSON is YAML too) with every key given once and a bounded
depth, then validated by its pydantic model, whose own checks (unknown keys, finite numbers in range,
cross-field rules) are the same wherever the model is read: a file, a run's JSON, the service."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from riskops.core.errors import ConfigError

MAX_BYTES = 1_000_000  # a policy, mapping or users file is a few kilobytes; a larger one is not a config
MAX_DEPTH = 20  # nesting deeper than any of our schemas: refused before the parser recurses into it
T = TypeVar("T", bound=BaseModel)


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader refusing a key given twice (PyYAML keeps the last silently)."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is given twice (lines {seen[key]} and {line}): keep one", key_node.start_mark
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _depth(text: str) -> int:
    """The deepest nesting of brackets and indentation levels, counted without parsing."""
    deepest = level = 0
    for ch in text:
        if ch in "[{":
            level += 1
            deepest = max(deepest, level)
        elif ch in "]}":
            level -= 1
    indent = max((len(line) - len(line.lstrip(" ")) for line in text.splitlines() if line.strip()), default=0)
    return max(deepest, indent // 2)


def read_yaml(path: Path, what: str, fix: str) -> Any:
    """The parsed content of a configuration file, or a ConfigError saying what is wrong, where and `fix`."""
    where = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(
                f"the {what} has {size:,} bytes; a {what} is at most {MAX_BYTES:,}",
                where,
                f"give the {what} itself, not data",
            )
        raw = path.read_bytes()
    except OSError as e:
        why = "it does not exist" if isinstance(e, FileNotFoundError) else e.strerror
        raise ConfigError(f"cannot read the {what}: {why}", where, f"pass an existing {what}") from e
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"the {what} is not UTF-8 (byte {e.start}: {raw[e.start : e.start + 1]!r})", where, "save it as UTF-8"
        ) from e
    if _depth(text) > MAX_DEPTH:
        raise ConfigError(f"the {what} is nested more than {MAX_DEPTH} levels deep", where, fix)
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as e:
        raise ConfigError(f"the {what} is not valid YAML: {e}", where, "fix the YAML at the line named") from e
    except RecursionError as e:
        raise ConfigError(f"the {what} is nested too deeply", where, fix) from e


def validation_problems(e: ValidationError, top: str) -> str:
    return "; ".join(f"{'.'.join(map(str, err['loc'])) or top}: {err['msg']}" for err in e.errors())


def read_config(path: Path, model: type[T], what: str, fix: str) -> T:
    """A configuration file read strictly and validated by `model`."""
    raw = read_yaml(path, what, fix)
    if not isinstance(raw, dict | None):
        raise ConfigError(f"the {what} does not hold a mapping of settings", str(path), fix)
    try:
        return model.model_validate(raw or {})
    except ValidationError as e:
        raise ConfigError(
            f"the {what} does not match its schema: {validation_problems(e, what)}", str(path), fix
        ) from e

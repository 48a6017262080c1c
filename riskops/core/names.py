"""The one way a name from data or configuration (a table, a column) reaches SQL: checked, then quoted by
sqlglot for the target dialect. Nothing else formats a name into SQL; a constant from configuration (a number,
a currency code) reaches it through `literal`, or as a bound parameter.

A name that cannot be represented safely (a quote or backtick, a backslash, a control character, empty or too
long) is refused with what, where and how to rename it: it never reaches a statement.
"""

from __future__ import annotations

import math
import re

from sqlglot import exp

from riskops.core.errors import DataContractError

_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
# Quotes and backslashes could end a quoted name; a dot makes BigQuery read a quoted name as a path.
_FORBIDDEN = re.compile(r"[`\"'\\.\x00-\x1f\x7f]")
MAX_COLUMN = 300  # BigQuery's limit for a column name


def check_table(name: str, where: str = "table name") -> str:
    """A table name: letters, digits and underscores, starting with a letter or underscore."""
    if not isinstance(name, str) or not _TABLE.fullmatch(name):
        raise DataContractError(
            f"table name {name!r} is not allowed",
            where,
            "use letters, digits and underscores only (at most 128), starting with a letter or underscore",
        )
    return name


def check_column(name: str, where: str = "column name") -> str:
    """A column name: anything printable without quotes, backticks, backslashes or dots, 1 to 300 characters."""
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_COLUMN or _FORBIDDEN.search(name):
        raise DataContractError(
            f"column name {name!r} cannot be used",
            where,
            "rename the column in the source (no quotes, backticks, backslashes, dots or control characters; "
            f"1-{MAX_COLUMN} characters), or map it in the mapping file",
        )
    return name


def safe_column(name: str) -> str:
    """The name a source column is loaded under: each quote, backtick, backslash, dot or control character
    replaced by `_` (`default.next.month` -> `default_next_month`), everything else kept. A mapping names source
    columns as they are in the file and goes through the same function, so both sides meet."""
    return _FORBIDDEN.sub("_", name) if isinstance(name, str) else name


def _quoted(checked: str, dialect: str) -> str:
    return str(exp.to_identifier(checked, quoted=True).sql(dialect=dialect))


def ident(name: str, dialect: str = "bigquery", where: str = "column name") -> str:
    """A column name checked and quoted for `dialect` (BigQuery by default: the SQL is written in it)."""
    return _quoted(check_column(name, where), dialect)


def table_ident(name: str, dialect: str = "bigquery", where: str = "table name") -> str:
    """A table name checked and quoted for `dialect`."""
    return _quoted(check_table(name, where), dialect)


def table_path(dataset: str, name: str) -> str:
    """`project.dataset.table` in BigQuery's quoting; the dataset comes from the settings, the name is checked."""
    return _quoted(f"{dataset}.{check_table(name)}", "bigquery")


def literal(value: str | float) -> str:
    """A constant from configuration as a BigQuery SQL literal: a finite number, or text quoted by sqlglot (a
    quote or backslash in it cannot end the literal). Infinity or NaN is refused: it would reach SQL as a name."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TypeError(f"no SQL literal for {type(value).__name__}")
    if isinstance(value, str):
        return str(exp.Literal.string(value).sql(dialect="bigquery"))
    if not math.isfinite(value):
        raise DataContractError(
            f"{value!r} cannot reach SQL as a number", "a configured number", "give a finite number"
        )
    return repr(float(value)) if isinstance(value, float) else str(int(value))

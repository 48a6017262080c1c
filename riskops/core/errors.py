"""Errors that tell the user what was wrong, where, and what to do."""

from __future__ import annotations


class RiskOpsError(Exception):
    """Base error: every message names what was wrong, where, and the fix."""

    def __init__(self, what: str, where: str = "", fix: str = "") -> None:
        self.what, self.where, self.fix = what, where, fix
        parts = [what]
        if where:
            parts.append(f"where: {where}")
        if fix:
            parts.append(f"what to do: {fix}")
        super().__init__("\n  ".join(parts))


class ConfigError(RiskOpsError):
    """A setting or mapping file is wrong."""


class DataContractError(RiskOpsError):
    """Source data cannot be mapped onto the contract (missing column, wrong type...)."""


class UnusableDataError(RiskOpsError):
    """Validation ran but what is left cannot be used (empty cohort, one class, too much quarantined)."""

    def __init__(self, what: str, where: str = "", fix: str = "", report_path: str = "") -> None:
        self.report_path = report_path
        if report_path:
            where = f"{where}; validation report: {report_path}" if where else f"validation report: {report_path}"
        super().__init__(what, where, fix)


class WarehouseError(RiskOpsError):
    """The warehouse refused a statement or a table is missing."""


class ArtifactError(RiskOpsError):
    """An artifact could not be read or written."""

"""Four-eyes approval of model versions: with approval required, no version becomes the champion (and so decides
about customers) until a person other than the one who registered it approves it.

    models/<version>/approvals.json   the version's approval log: append-only, changed by compare-and-swap

A gate winner is *requested* ("awaiting approval"); the first approval or rejection decides and is final (a
rejected version is retrained, not re-approved). Each decision records the SHA-256 of the evidence it was made
on (the card, the evaluation report and the validation pack), so an approval cannot silently cover files changed
after it.
"""

from __future__ import annotations

import getpass
import hashlib
import json
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from riskops.core.errors import RiskOpsError
from riskops.io.artifacts import ArtifactStore

Action = Literal["requested", "approved", "rejected"]
State = Literal["not submitted", "awaiting approval", "approved", "rejected"]
LOG = "approvals.json"
# What a validator reads; its digest is kept with each decision.
EVIDENCE = ("card.json", "evaluation/report.md", "validation/pack.json")
STATE_OF: dict[Action, State] = {"requested": "awaiting approval", "approved": "approved", "rejected": "rejected"}


class ApprovalError(RiskOpsError):
    """A decision the four-eyes rules refuse (the registering person, a second decision, no reason given), or a
    version that may not decide because nobody approved it."""


class Approval(BaseModel):
    """One entry of a version's approval log."""

    action: Action
    by: str = Field(min_length=1, max_length=200)
    at: str
    comment: str = Field(default="", max_length=2000)
    evidence_sha256: str = ""


def default_person() -> str:
    """Who is registering or deciding when nobody is named: the operating-system user."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in a bare container
        return "unknown"


def state_of(entries: list[Approval]) -> State:
    """The first decision is final; a request without one waits."""
    for e in entries:
        if e.action != "requested":
            return STATE_OF[e.action]
    return "awaiting approval" if entries else "not submitted"


class Approvals:
    """The approval logs of the versions under `prefix` (the registry's)."""

    def __init__(self, store: ArtifactStore, prefix: str) -> None:
        self.store, self.prefix = store, prefix

    def _key(self, version: str) -> str:
        return f"{self.prefix}/{version}/{LOG}"

    def entries(self, version: str) -> list[Approval]:
        key = self._key(version)
        if not self.store.exists(key):
            return []
        try:
            return [Approval.model_validate(e) for e in json.loads(self.store.read_text(key))]
        except ValueError as e:
            raise RiskOpsError(
                f"the approval log of {version} is unreadable ({e})".replace("\n", " ")[:400],
                self.store.uri(key),
                "restore it from the bucket's object versions; it is append-only and never edited by hand",
            ) from e

    def state(self, version: str) -> State:
        return state_of(self.entries(version))

    def evidence(self, version: str) -> str:
        """SHA-256 over the files a validator decides on, in a fixed order (an absent report counts as empty)."""
        h = hashlib.sha256()
        for name in EVIDENCE:
            key = f"{self.prefix}/{version}/{name}"
            h.update(name.encode() + b"\0")
            h.update(self.store.read_bytes(key) if self.store.exists(key) else b"")
        return h.hexdigest()

    def awaiting(self) -> list[str]:
        """The versions waiting for a decision, oldest first."""
        logs = [k for k in self.store.list(self.prefix) if k.endswith(f"/{LOG}") and k.count("/") == 2]
        versions = [k.split("/")[1] for k in logs]
        return [v for v in versions if self.state(v) == "awaiting approval"]

    def request(self, version: str, by: str, comment: str) -> Approval:
        """Put a version in the queue (the gate's winner); asking again while it waits adds nothing."""
        return self._append(version, Approval(action="requested", by=by, at=_now(), comment=comment))

    def decide(self, version: str, action: Action, by: str, comment: str, registered_by: str) -> Approval:
        """Approve or reject: by someone other than the registering person, once, on the evidence as it is now."""
        by = by.strip()
        if not by:
            raise ApprovalError("who decides is not named", f"model version {version}", "pass --by NAME")
        if registered_by and by.casefold() == registered_by.strip().casefold():
            raise ApprovalError(
                f"{by} registered model version {version} and cannot also {action.removesuffix('d')} it",
                f"the approval log of {version}",
                "four eyes: another person, a validator, decides on it",
            )
        if action == "rejected" and not comment.strip():
            raise ApprovalError("a rejection needs its reason", f"model version {version}", "pass --comment WHY")
        evidence = self.evidence(version)
        entry = Approval(action=action, by=by, at=_now(), comment=comment.strip(), evidence_sha256=evidence)
        return self._append(version, entry)

    def _refuse_decided(self, version: str, entries: list[Approval]) -> None:
        decided = next((e for e in entries if e.action != "requested"), None)
        if decided is not None:
            raise ApprovalError(
                f"model version {version} was already {decided.action} by {decided.by} at {decided.at}",
                self.store.uri(self._key(version)),
                "a decision is final: retrain to submit a new version",
            )

    def _append(self, version: str, entry: Approval, attempts: int = 20) -> Approval:
        """Add `entry` by compare-and-swap, checked against the log as it is at the write: two validators at
        once cannot both decide."""
        key = self._key(version)
        for _ in range(attempts):
            data, token = self.store.read_versioned(key)
            entries = [Approval.model_validate(e) for e in json.loads(data)] if data else []
            if entry.action == "requested" and state_of(entries) == "awaiting approval":
                return entries[-1]
            self._refuse_decided(version, entries)
            log = [e.model_dump() for e in [*entries, entry]]
            if self.store.write_if(key, json.dumps(log, indent=2).encode(), token):
                return entry
        raise RiskOpsError(
            f"the approval log of {version} changed {attempts} times while writing", self.store.uri(key), "try again"
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

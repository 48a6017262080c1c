"""The review of an off-boarding list: staff decide each listed customer, four eyes confirm an off-boarding,
and every decision is a row appended to the warehouse table `review_decisions`, never updated in place.

- A reviewer (or an approver) decides `offboard`, `keep` or `escalate`, always with a comment. The row keeps
  what was shown at the time: the run, the model version, the score, the segment, the reasons and the rules.
- An off-boarding takes effect only when an approver other than its author confirms it (`confirm`, keyed on
  the decision it confirms, so a second confirmation of the same decision cannot land). Until then the
  customer is "awaiting confirmation"; a later decision by anyone supersedes an unconfirmed one.
- A confirmed off-boarding is final for that run's list.
- The decisions are outcomes: a confirmed off-boarding is SUSPENDED, a keep ACTIVE, at the decision's time
  (`OUTCOMES_SQL`, read by the monitoring's outcome loop like the `outcomes` table).

Who may do what is `Role`; identities come from the console (a users file locally, the proxy's signed header on
GKE: `console.users`), which records decisions through the scoring service (`record`, behind
`POST /v1/review/...`): the service takes what was shown from its own copy of the run's book, so a caller cannot
make a decision say another score. The console also writes every read of a customer and every decision to its
audit log (`console.audit`).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from riskops.core.errors import RiskOpsError
from riskops.io.warehouse.base import Warehouse

DECISIONS = "review_decisions"
Role = Literal["viewer", "reviewer", "approver", "validator"]  # a validator approves models, not customers
Action = Literal["offboard", "keep", "escalate"]
ACTIONS: tuple[Action, ...] = ("offboard", "keep", "escalate")
Recorded = Literal["offboard", "keep", "escalate", "confirm"]  # what staff record: a decision or a confirmation
CAN_DECIDE: tuple[Role, ...] = ("reviewer", "approver")
MAX_COMMENT = 2000
COLUMNS = (
    "decision_id",
    "run_id",
    "customer_id",
    "action",
    "comment",
    "user",
    "role",
    "decided_at",
    "model_version",
    "score",
    "segment",
    "reasons",
    "rules",
    "confirms",
)


class ReviewError(RiskOpsError):
    """A decision that cannot be taken (role, four eyes, state); the console shows it to the user."""


class User(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    role: Role

    @property
    def can_decide(self) -> bool:
        return self.role in CAN_DECIDE


class Shown(BaseModel):
    """What the reviewer saw of the customer when deciding (from the scoring service)."""

    run_id: str
    customer_id: str
    model_version: str
    score: float
    segment: str
    reasons: list[str]
    rules: list[str]


def shown(profile: dict[str, Any]) -> Shown:
    """What a reviewer is deciding on, from the service's profile of the customer: only a listed customer."""
    if not profile["offboard"]:
        raise ReviewError(
            f"customer {profile['customer_id']} is not on run {profile['run_id']}'s list",
            "the review queue",
            "decide only listed customers",
        )
    return Shown(
        run_id=profile["run_id"],
        customer_id=profile["customer_id"],
        model_version=profile["model_version"],
        score=profile["score"],
        segment=profile["segment"],
        reasons=profile["reasons"],
        rules=[r["name"] for r in profile["rules"]],
    )


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Decision rows (as the service answers them) as the frame `states` and `decisions_csv` take."""
    return pd.DataFrame(rows, columns=list(COLUMNS)).astype({"score": "float64"})


def read_decisions(wh: Warehouse, run_id: str | None = None, customer_id: str | None = None) -> pd.DataFrame:
    """Every decision (of one run, of one customer), oldest first."""
    if not wh.exists(DECISIONS):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    frame = wh.read_table(DECISIONS).to_pandas()
    if run_id is not None:
        frame = frame[frame["run_id"] == run_id]
    if customer_id is not None:
        frame = frame[frame["customer_id"] == customer_id]
    return frame.sort_values(["decided_at", "decision_id"], kind="stable").reset_index(drop=True)


State = Literal["open", "awaiting confirmation", "off-boarded", "kept", "escalated"]
STATE_OF: dict[str, State] = {"offboard": "awaiting confirmation", "keep": "kept", "escalate": "escalated"}


def states(decisions: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per customer of the decisions given (one run's): its state, the decision that set it, and who
    confirmed an off-boarding."""
    out: dict[str, dict[str, Any]] = {}
    confirmed = {r["confirms"]: r for r in decisions.to_dict("records") if r["action"] == "confirm"}
    for r in decisions.to_dict("records"):
        if r["action"] == "confirm":
            continue
        cid = r["customer_id"]
        if out.get(cid, {}).get("state") == "off-boarded":
            continue  # final
        c = confirmed.get(r["decision_id"])
        out[cid] = {"state": "off-boarded" if c else STATE_OF[r["action"]], "decision": r, "confirmation": c}
    return out


# The review queue's views of a run's list: what each shows, and whether a customer's state belongs in it.
QueueView = Literal["undecided", "mine", "awaiting", "escalated", "decided", "all"]
QUEUE_VIEWS: dict[QueueView, str] = {
    "undecided": "undecided",
    "mine": "awaiting confirmation by me",
    "awaiting": "awaiting confirmation",
    "escalated": "escalated",
    "decided": "decided (kept or off-boarded)",
    "all": "all",
}


def in_view(view: QueueView, state: dict[str, Any] | None, user: User) -> bool:
    """Whether a customer whose review state is `state` (from `states`; None: undecided) is in `user`'s `view`;
    "mine" is an off-boarding awaiting confirmation that this approver may confirm (not their own)."""
    current = state["state"] if state else "open"
    if view == "mine":
        return (
            state is not None
            and current == "awaiting confirmation"
            and user.role == "approver"
            and state["decision"]["user"] != user.name
        )
    wanted: dict[str, tuple[str, ...]] = {
        "undecided": ("open",),
        "awaiting": ("awaiting confirmation",),
        "escalated": ("escalated",),
        "decided": ("kept", "off-boarded"),
    }
    return view == "all" or current in wanted[view]


def _comment(comment: str) -> str:
    text = comment.strip()
    if not text:
        raise ReviewError("a decision needs a comment", "the comment", "say why, in a sentence")
    if len(text) > MAX_COMMENT:
        raise ReviewError(f"the comment has {len(text):,} characters", "the comment", f"keep it under {MAX_COMMENT:,}")
    return text


def _append(wh: Warehouse, row: dict[str, Any]) -> int:
    rows = {c: [row[c]] for c in COLUMNS}
    rows["reasons"] = [json.dumps(row["reasons"])]
    rows["rules"] = [json.dumps(row["rules"])]
    table = pa.table(rows, schema=pa.schema([(c, pa.float64() if c == "score" else pa.string()) for c in COLUMNS]))
    return wh.append_new(DECISIONS, table, "decision_id")


def decide(wh: Warehouse, user: User, shown: Shown, action: str, comment: str) -> dict[str, Any]:
    """Append a reviewer's decision on a listed customer; returns the row."""
    if not user.can_decide:
        raise ReviewError(
            f"{user.name} is a {user.role} and cannot decide", "the review queue", "ask a reviewer or an approver"
        )
    if action not in ACTIONS:
        raise ReviewError(f"{action!r} is not a decision", "the decision", f"choose one of {', '.join(ACTIONS)}")
    text = _comment(comment)
    current = states(read_decisions(wh, shown.run_id)).get(shown.customer_id)
    if current and current["state"] == "off-boarded":
        raise ReviewError(
            f"customer {shown.customer_id} is already off-boarded in run {shown.run_id}",
            "the review queue",
            "nothing to decide: the off-boarding was confirmed",
        )
    row = {
        **shown.model_dump(),
        "decision_id": uuid.uuid4().hex,
        "action": action,
        "comment": text,
        "user": user.name,
        "role": user.role,
        "decided_at": datetime.now(UTC).isoformat(),
        "confirms": "",
    }
    _append(wh, row)
    return row


def confirm(wh: Warehouse, user: User, run_id: str, customer_id: str, comment: str) -> dict[str, Any]:
    """An approver's confirmation of the customer's pending off-boarding (four eyes: not its author's)."""
    if user.role != "approver":
        raise ReviewError(
            f"{user.name} is a {user.role}; only an approver confirms an off-boarding",
            "the review queue",
            "ask an approver",
        )
    text = _comment(comment)
    current = states(read_decisions(wh, run_id)).get(customer_id)
    if not current or current["state"] != "awaiting confirmation":
        state = current["state"] if current else "open"
        raise ReviewError(
            f"customer {customer_id} is {state}, not awaiting confirmation",
            "the review queue",
            "an off-boarding must be decided before it is confirmed",
        )
    pending = current["decision"]
    if pending["user"] == user.name:
        raise ReviewError(
            f"{user.name} decided this off-boarding and cannot also confirm it (four eyes)",
            "the review queue",
            "ask another approver",
        )
    row = {
        **pending,
        "reasons": json.loads(pending["reasons"]),
        "rules": json.loads(pending["rules"]),
        "decision_id": f"{pending['decision_id']}.confirm",
        "action": "confirm",
        "comment": text,
        "user": user.name,
        "role": user.role,
        "decided_at": datetime.now(UTC).isoformat(),
        "confirms": pending["decision_id"],
    }
    if _append(wh, row) == 0:  # keyed on the decision it confirms: only the first confirmation lands
        first = read_decisions(wh, run_id, customer_id)
        by = first.loc[first["decision_id"] == row["decision_id"], "user"]
        who = str(by.iloc[0]) if len(by) else "another approver"
        raise ReviewError(
            f"customer {customer_id}'s off-boarding was already confirmed by {who}",
            "the review queue",
            "nothing to do: reload the queue",
        )
    return row


def record(
    wh: Warehouse, user: User, profile: dict[str, Any], action: str, comment: str, run_id: str
) -> dict[str, Any]:
    """A staff member's decision, or an approver's confirmation, on a customer of the book's `profile`;
    `run_id` is the run whose list they saw, so a decision never lands on a list that changed meanwhile."""
    if run_id != profile["run_id"]:
        raise ReviewError(
            f"the list was run {run_id}'s; the latest scoring run is now {profile['run_id']}",
            "the review queue",
            "reload the queue and decide on the latest list",
        )
    if action == "confirm":
        return confirm(wh, user, run_id, profile["customer_id"], comment)
    return decide(wh, user, shown(profile), action, comment)


def decisions_table(decisions: pd.DataFrame) -> pd.DataFrame:
    """The decisions as a person reads them in a spreadsheet: reasons and rules as "; "-separated text."""
    out = decisions.loc[:, list(COLUMNS)].copy()
    for c in ("reasons", "rules"):
        out[c] = out[c].map(lambda v: "; ".join(json.loads(v)) if isinstance(v, str) and v.startswith("[") else v)
    return out


def outcomes_sql(table: str) -> str:
    """The decisions in `table` (the warehouse's reference to `review_decisions`) as outcomes
    (customer_id, account_state, decided_at): a confirmed off-boarding SUSPENDED, a keep ACTIVE."""
    return (
        f"SELECT o.customer_id, 'SUSPENDED' AS account_state, c.decided_at FROM {table} AS c "
        f"JOIN {table} AS o ON c.confirms = o.decision_id WHERE c.action = 'confirm' "
        f"UNION ALL SELECT customer_id, 'ACTIVE' AS account_state, decided_at FROM {table} WHERE action = 'keep'"
    )

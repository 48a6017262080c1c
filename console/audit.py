"""The console's audit log: who viewed which customer and who decided what."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from riskops.scoring.review import User


class AuditLog:
    """Who viewed which customer and who decided what: JSON lines appended (and synced) to
    `<folder>/audit-YYYY-MM.jsonl` before the page answers, and the same line on the `riskops.audit` logger
    (on GKE the JSON logs go to Cloud Logging, whose sink keeps them; docs/security.md)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.log = logging.getLogger("riskops.audit")

    def record(self, user: User, event: str, **detail: Any) -> dict[str, Any]:
        entry = {"time": datetime.now(UTC).isoformat(), "user": user.name, "role": user.role, "event": event, **detail}
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"audit-{entry['time'][:7]}.jsonl"
        with path.open("a") as fh:
            fh.write(json.dumps(entry, default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.log.info("audit %s by %s", event, user.name, extra={"audit": entry})
        return entry

    def read(self) -> list[dict[str, Any]]:
        return [
            json.loads(line) for p in sorted(self.folder.glob("audit-*.jsonl")) for line in p.read_text().splitlines()
        ]

"""A version's validation pack as stored (`models/<version>/validation/pack.json`): light enough for the service and
the model card to read (riskops.model.validation computes it, riskops.runs.validate writes it)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from riskops.io.artifacts import ArtifactStore
from riskops.model.config import ValidationPolicy

Status = Literal["pass", "warn", "fail", "n/a"]
FOLDER = "validation"


class Section(BaseModel):
    name: str
    title: str
    status: Status
    reading: str
    figures: dict[str, Any]


class Pack(BaseModel):
    version: str
    created: str
    status: Status
    policy: ValidationPolicy
    sections: list[Section]

    def section(self, name: str) -> Section:
        return next(s for s in self.sections if s.name == name)

    def summary(self) -> dict[str, Any]:
        """What the model card and the console show: the verdict and each section's status and reading."""
        return {
            "status": self.status,
            "created": self.created,
            "sections": [{"title": s.title, "status": s.status, "reading": s.reading} for s in self.sections],
        }


def pack_key(version: str) -> str:
    return f"models/{version}/{FOLDER}/pack.json"


def read_pack(store: ArtifactStore, version: str) -> Pack | None:
    key = pack_key(version)
    return Pack.model_validate_json(store.read_text(key)) if store.exists(key) else None

"""The console's users file: who may sign in locally, and the role of each identity the proxy vouches for."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from pydantic import Field, ValidationError

from riskops.core.configfile import read_yaml
from riskops.core.errors import ConfigError
from riskops.scoring.review import Role, User


class LocalUser(User):
    """A users-file entry: a local sign-in checks the password against `password_sha256`; an entry without one
    (an identity the proxy vouches for on GKE) only gives a role."""

    password_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


def password_hash(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


class Users:
    """The users file (YAML: `users: [{name, role, password_sha256}]`): who may sign in locally and, on GKE
    behind the proxy, the role of each identity the proxy vouches for (a user not in it is a viewer)."""

    def __init__(self, users: list[LocalUser]) -> None:
        self.by_name = {u.name: u for u in users}

    @classmethod
    def load(cls, path: Path) -> Users:
        where = f"users file {path}"
        raw = read_yaml(path, "users file", "give a YAML file `users: [...]`") or {}
        try:
            users = [LocalUser.model_validate(u) for u in (raw.get("users") or [])]
        except (ValidationError, AttributeError) as e:
            fix = "each entry needs name, role (viewer|reviewer|approver|validator) and password_sha256"
            raise ConfigError(f"a user entry is invalid: {e}", where, fix) from e
        names = [u.name for u in users]
        if len(set(names)) != len(names):
            raise ConfigError("a user is listed twice", where, "give each name once")
        return cls(users)

    def sign_in(self, name: str, password: str) -> User | None:
        u = self.by_name.get(name)
        if u is None or u.password_sha256 is None:  # unknown, or an identity only the proxy vouches for
            return None
        if not hmac.compare_digest(u.password_sha256, password_hash(password)):
            return None
        return User(name=u.name, role=u.role)

    def role_of(self, name: str) -> Role:
        u = self.by_name.get(name)
        return u.role if u else "viewer"

"""Who is asking: on GKE the identity Identity-Aware Proxy vouches for (its signed JWT, checked against IAP's
public keys, audience and issuer) with the role the users file gives; locally a sign-in against the users
file, kept as a server-side session whose random id travels in a signed cookie (sign-out ends it on the
server; a session ends after `SESSION_IDLE_S` idle or `SESSION_MAX_S` in all). Local sign-in slows down and
then locks a name (and an address) after repeated failures. Forms carry a token bound to the session (or,
behind IAP, to the user) that expires, so another site cannot post a decision in a signed-in user's name and
a token kept from an old session records nothing."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request

from riskops.scoring.review import User

IAP_JWT = "x-goog-iap-jwt-assertion"
IAP_ISSUER = "https://cloud.google.com/iap"
SESSION_IDLE_S = 30 * 60
SESSION_MAX_S = 8 * 3600
TOKEN_S = 2 * 3600  # a form token's life: a page left open longer is reloaded before deciding
LOCK_AFTER = 5  # failed sign-ins of one name (or 4x as many from one address) within LOCK_S lock it
LOCK_S = 15 * 60
DELAY_S = 0.5  # each failure is answered this much later, times the failures so far (at most 2 s)


class IapVerifier:
    """IAP's signed header checked as Google documents it: ES256 against IAP's JWK set (fetched once, kept an
    hour), this backend's audience, IAP as issuer, not expired. The unsigned e-mail header is never read: a
    request that reached the pod some other way carries no valid token."""

    def __init__(self, audience: str, keys_url: str) -> None:
        self.audience = audience
        self.keys = jwt.PyJWKClient(keys_url, cache_keys=True, lifespan=3600, timeout=10)

    def email(self, token: str) -> str:
        try:
            key = self.keys.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["ES256"],
                audience=self.audience,
                issuer=IAP_ISSUER,
                options={"require": ["exp", "iat", "aud", "iss", "email"]},
            )
        except jwt.PyJWTError as e:
            raise HTTPException(401, f"Identity-Aware Proxy's token was refused: {e}") from None
        return str(claims["email"])


@dataclass
class _Session:
    user: str
    started: float
    seen: float


class Sessions:
    """Local sign-in sessions, held by the console process: a cookie carries only the session's random id."""

    def __init__(self) -> None:
        self._by_id: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def start(self, user: str) -> str:
        sid = secrets.token_urlsafe(32)
        now = time.time()
        with self._lock:
            self._by_id[sid] = _Session(user, now, now)
        return sid

    def user(self, sid: str) -> str | None:
        now = time.time()
        with self._lock:
            s = self._by_id.get(sid)
            if s is None:
                return None
            if now - s.seen > SESSION_IDLE_S or now - s.started > SESSION_MAX_S:
                del self._by_id[sid]
                return None
            s.seen = now
            return s.user

    def end(self, sid: str) -> bool:
        with self._lock:
            return self._by_id.pop(sid, None) is not None


@dataclass
class SignInGuard:
    """Failed local sign-ins per name and per address: each failure is answered a little later, and a name
    with `LOCK_AFTER` failures (an address with four times as many) is locked for `LOCK_S`, even for the right
    password."""

    failures: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _recent(self, key: str, now: float) -> list[float]:
        kept = [t for t in self.failures.get(key, []) if now - t < LOCK_S]
        if kept:
            self.failures[key] = kept
        else:
            self.failures.pop(key, None)
        return kept

    def locked_until(self, name: str, address: str) -> float | None:
        now = time.time()
        with self.lock:
            by_name, by_address = self._recent(f"name:{name}", now), self._recent(f"addr:{address}", now)
        if len(by_name) >= LOCK_AFTER:
            return by_name[-LOCK_AFTER] + LOCK_S
        if len(by_address) >= 4 * LOCK_AFTER:
            return by_address[-4 * LOCK_AFTER] + LOCK_S
        return None

    def failed(self, name: str, address: str) -> float:
        """Count a failure; returns how long to wait before answering."""
        now = time.time()
        with self.lock:
            for key in (f"name:{name}", f"addr:{address}"):
                self.failures.setdefault(key, []).append(now)
            n = len(self._recent(f"name:{name}", now))
        return min(DELAY_S * n, 2.0)

    def succeeded(self, name: str) -> None:
        with self.lock:
            self.failures.pop(f"name:{name}", None)


class NotSignedIn(Exception):
    """No identity: the local console sends the user to the sign-in page."""


async def current_user(request: Request) -> User:
    app = request.app.state
    if app.settings.console_identity == "iap":
        token = request.headers.get(IAP_JWT, "")
        if not token or len(token) > 8192:
            raise HTTPException(401, "no identity from Identity-Aware Proxy: the console is served only behind it")
        name = await asyncio.to_thread(app.iap.email, token)  # the first call fetches IAP's keys
        return User(name=name, role=app.users.role_of(name))
    sid = request.session.get("sid")
    name = app.sessions.user(sid) if isinstance(sid, str) else None
    if name is None or name not in app.users.by_name:
        request.session.clear()
        raise NotSignedIn()
    return User(name=name, role=app.users.role_of(name))


UserDep = Annotated[User, Depends(current_user)]


def _binding(request: Request, user: User) -> str:
    """What a form token is bound to: the session locally, the user behind IAP (whose JWT is per request)."""
    sid = request.session.get("sid")
    return f"session:{sid}" if isinstance(sid, str) else f"user:{user.name}"


def form_token(secret: str, request: Request, user: User, now: float | None = None) -> str:
    expires = int((now or time.time()) + TOKEN_S)
    mac = hmac.new(secret.encode(), f"decide:{_binding(request, user)}:{expires}".encode(), hashlib.sha256)
    return f"{expires}.{mac.hexdigest()}"


def check_token(secret: str, request: Request, user: User, token: str) -> None:
    expires, _, mac = (token or "").partition(".")
    if not expires.isdigit() or int(expires) < time.time():
        raise HTTPException(403, "the form has expired: reload the page and decide again")
    want = hmac.new(secret.encode(), f"decide:{_binding(request, user)}:{expires}".encode(), hashlib.sha256)
    if not hmac.compare_digest(want.hexdigest(), mac):
        raise HTTPException(403, "the form's token does not match your session: reload the page and try again")

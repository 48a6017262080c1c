"""Who is asking: on GKE the identity Identity-Aware Proxy vouches for (its signed JWT, checked against IAP's
public keys, audience and issuer) with the role the users file gives; locally a sign-in against the users
file, kept in a signed session cookie. Forms carry a token bound to the user, so another site cannot post a
decision in a signed-in user's name."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request

from riskops.scoring.review import User, Users

IAP_JWT = "x-goog-iap-jwt-assertion"
IAP_ISSUER = "https://cloud.google.com/iap"


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
            claims = jwt.decode(token, key.key, algorithms=["ES256"], audience=self.audience, issuer=IAP_ISSUER,
                                options={"require": ["exp", "iat", "aud", "iss", "email"]})  # fmt: skip
        except jwt.PyJWTError as e:
            raise HTTPException(401, f"Identity-Aware Proxy's token was refused: {e}") from None
        return str(claims["email"])


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
    signed = request.session.get("user")
    if not isinstance(signed, str) or signed not in app.users.by_name:
        raise NotSignedIn()
    return User(name=signed, role=app.users.role_of(signed))


UserDep = Annotated[User, Depends(current_user)]


def form_token(secret: str, user: User) -> str:
    return hmac.new(secret.encode(), f"decide:{user.name}".encode(), hashlib.sha256).hexdigest()


def check_token(secret: str, user: User, token: str) -> None:
    if not hmac.compare_digest(form_token(secret, user), token or ""):
        raise HTTPException(403, "the form's token does not match your session: reload the page and try again")


def load_users(request: Request) -> Users:
    users: Users = request.app.state.users
    return users

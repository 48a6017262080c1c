"""Who is asking: on GKE the identity Identity-Aware Proxy vouches for (its headers) with the role the users
file gives; locally a sign-in against the users file, kept in a signed session cookie. Forms carry a token
bound to the user, so another site cannot post a decision in a signed-in user's name."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from riskops.scoring.review import User, Users

IAP_EMAIL = "x-goog-authenticated-user-email"  # "accounts.google.com:someone@bank.example"


class NotSignedIn(Exception):
    """No identity: the local console sends the user to the sign-in page."""


async def current_user(request: Request) -> User:
    app = request.app.state
    if app.settings.console_identity == "iap":
        raw = request.headers.get(IAP_EMAIL, "")
        name = raw.split(":", 1)[-1].strip()
        if not name:
            raise HTTPException(401, "no identity from Identity-Aware Proxy: the console is served only behind it")
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

"""The console behind Identity-Aware Proxy: the identity is IAP's signed JWT, checked against the keys served
by a JWK endpoint (a real HTTP server on 127.0.0.1 standing for gstatic.com), the backend's audience and IAP as
issuer. The unsigned e-mail header alone gets nobody in."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from console.main import create_app
from riskops.core.config import Settings
from riskops.core.errors import ConfigError

AUDIENCE = "/projects/123456/global/backendServices/987654"
ROOT = Path(__file__).resolve().parents[2]


def _jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": "ES256", "use": "sig"}


@pytest.fixture(scope="module")
def keys_url() -> Iterator[tuple[str, ec.EllipticCurvePrivateKey, list[int]]]:
    key = ec.generate_private_key(ec.SECP256R1())
    body = json.dumps({"keys": [_jwk(key, "iap-1")]}).encode()
    fetched = [0]

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetched[0] += 1
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/iap/verify/public_key-jwk", key, fetched
    server.shutdown()


def _token(key: ec.EllipticCurvePrivateKey, kid: str = "iap-1", **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": "https://cloud.google.com/iap",
        "aud": AUDIENCE,
        "email": "approver@example.com",
        "sub": "accounts.google.com:1",
        "iat": now,
        "exp": now + 600,
    } | claims
    return jwt.encode(payload, key, algorithm="ES256", headers={"kid": kid})


def _console(url: str, tmp_path: Path, audience: str = AUDIENCE) -> TestClient:
    settings = Settings(
        console_identity="iap",
        console_iap_audience=audience,
        console_iap_keys_url=url,
        console_users=ROOT / "configs" / "console-users.yaml",
        home=tmp_path,
    )
    return TestClient(create_app(settings), follow_redirects=False)


def test_only_a_token_iap_signed_for_this_backend_gets_in(keys_url: Any, tmp_path: Path) -> None:
    url, key, fetched = keys_url
    with _console(url, tmp_path) as client:
        # Let in: with no scoring service behind it, the console answers its own 503 page, saying what to do.
        ok = client.get("/search?customer_id=C1", headers={"x-goog-iap-jwt-assertion": _token(key)})
        assert ok.status_code == 503 and "cannot be reached" in ok.text and "make serve" in ok.text
        assert "script-src 'self'" in ok.headers["content-security-policy"] and ok.headers["x-frame-options"] == "DENY"
        other = ec.generate_private_key(ec.SECP256R1())
        refused = {
            "no token, only the e-mail header": {"x-goog-authenticated-user-email": "accounts.google.com:a@b.c"},
            "signed by another key": {"x-goog-iap-jwt-assertion": _token(other)},
            "another backend's audience": {"x-goog-iap-jwt-assertion": _token(key, aud="/projects/1/x")},
            "not issued by IAP": {"x-goog-iap-jwt-assertion": _token(key, iss="https://evil.example")},
            "expired": {"x-goog-iap-jwt-assertion": _token(key, iat=1, exp=2)},
            "no e-mail": {"x-goog-iap-jwt-assertion": _token(key, email=None)},
            "not a JWT": {"x-goog-iap-jwt-assertion": "x" * 100},
            "oversized": {"x-goog-iap-jwt-assertion": "x" * 10_000},
        }
        for case, headers in refused.items():
            r = client.get("/search?customer_id=C1", headers=headers)
            assert r.status_code == 401, (case, r.status_code, r.text)
        for _ in range(3):
            client.get("/search?customer_id=C1", headers={"x-goog-iap-jwt-assertion": _token(key)})
    assert fetched[0] <= 2  # the keys are cached, not fetched per request


def test_an_iap_console_without_an_audience_refuses_to_start(keys_url: Any, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no audience"):
        _console(keys_url[0], tmp_path, audience="")

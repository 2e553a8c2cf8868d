"""A loopback managed-identity token endpoint (the App Service / Azure Arc style
``IDENTITY_ENDPOINT`` + ``IDENTITY_HEADER`` protocol) minting the JWTs Azurite's
``--oauth basic`` accepts: issuer, audience and expiry right; the signature is not checked
by Azurite, so it is a placeholder.

``TokenEndpoint`` counts the tokens it issued, can shorten their lifetime, and can
``revoke`` the identity (every later request is refused as Entra ID refuses one).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TENANT = "11111111-2222-3333-4444-555555555555"
OBJECT_ID = "66666666-7777-8888-9999-000000000000"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(audience: str, lifetime: float) -> tuple[str, int]:
    now = int(time.time())
    expires = int(now + lifetime)
    header = {"alg": "RS256", "typ": "JWT", "kid": "loopback"}
    claims = {
        "aud": audience,
        "iss": f"https://sts.windows.net/{TENANT}/",
        "iat": now - 60,
        "nbf": now - 60,
        "exp": expires,
        "oid": OBJECT_ID,
        "tid": TENANT,
    }
    parts = [_b64(json.dumps(part).encode()) for part in (header, claims)]
    return ".".join([*parts, _b64(b"not-checked-by-azurite")]), expires


class TokenEndpoint:
    """State shared with the handler thread."""

    def __init__(self) -> None:
        self.header = secrets.token_hex(16)
        self.lifetime = 3600.0
        self.revoked = False
        self.issued = 0
        self.expiries: list[int] = []  # the exp claim of every token issued, in order
        self.url = ""

    def answer(self, headers: Any, query: str) -> tuple[int, dict[str, Any]]:
        if headers.get("X-IDENTITY-HEADER") != self.header:
            return 401, {"error": "unauthorized"}
        if self.revoked:
            return 400, {"error": "invalid_request", "error_description": "Identity not found"}
        resource = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("resource")
        audience = (resource or "https://storage.azure.com").replace("%3A", ":")
        audience = audience.replace("%2F", "/").removesuffix("/.default")
        token, expires = jwt(audience, self.lifetime)
        self.issued += 1
        self.expiries.append(expires)
        body = {
            "access_token": token,
            "expires_on": str(expires),
            "resource": audience,
            "token_type": "Bearer",
        }
        return 200, body


@contextmanager
def serving() -> Iterator[TokenEndpoint]:
    state = TokenEndpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            _, _, query = self.path.partition("?")
            status, body = state.answer(self.headers, query)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/msi/token"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()

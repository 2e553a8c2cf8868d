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
        self.tokens: list[str] = []  # every token issued (what a leak test greps for)
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
        self.tokens.append(token)
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


class Authority:
    """A loopback Entra ID authority for one tenant: OpenID discovery and the OAuth2 token
    endpoint's client-credentials grant, checking the client secret or the signature of the
    certificate's client assertion. ``revoked`` refuses every client as Entra ID refuses a
    deleted application (AADSTS7000215/700016)."""

    def __init__(self, client_id: str, secret: str | None, certificate: Any = None) -> None:
        self.client_id = client_id
        self.secret = secret
        self.certificate = certificate  # a cryptography x509.Certificate
        self.lifetime = 3600.0
        self.revoked = False
        self.issued = 0
        self.grants: list[str] = []  # "secret" or "certificate", per token issued
        self.url = ""

    def discovery(self) -> dict[str, Any]:
        base = f"{self.url}/{TENANT}"
        return {
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
        }

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = self._grant(form)
        if self.revoked or grant is None or form.get("client_id") != self.client_id:
            return 401, {
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided.",
            }
        scope = form.get("scope", "").split()[0] if form.get("scope") else ""
        token, _ = jwt(scope.removesuffix("/.default"), self.lifetime)
        self.issued += 1
        self.grants.append(grant)
        return 200, {"token_type": "Bearer", "expires_in": int(self.lifetime),
                     "access_token": token}  # fmt: skip

    def _grant(self, form: dict[str, str]) -> str | None:
        if "client_secret" in form:
            return "secret" if self.secret and form["client_secret"] == self.secret else None
        assertion = form.get("client_assertion")
        if self.certificate is None or not assertion:
            return None
        return "certificate" if _signed_by(assertion, self.certificate) else None


def _signed_by(assertion: str, certificate: Any) -> bool:
    """True when the JWT ``assertion`` is signed (RS256 or PS256) by the certificate's key."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    head, body, signature = assertion.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    pad = (
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
        if header.get("alg") == "PS256"
        else padding.PKCS1v15()
    )
    try:
        certificate.public_key().verify(raw, f"{head}.{body}".encode(), pad, hashes.SHA256())
    except InvalidSignature:
        return False
    return True


@contextmanager
def authority(
    cert_file: str, key_file: str, client_id: str, secret: str | None, certificate: Any = None
) -> Iterator[Authority]:
    """The authority over HTTPS (MSAL only talks to https://) with the given server cert."""
    import ssl
    from urllib.parse import parse_qsl

    state = Authority(client_id, secret, certificate)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.endswith("/v2.0/.well-known/openid-configuration"):
                self._answer(200, state.discovery())
            else:
                self._answer(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            self._answer(*state.token(form))

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    state.url = f"https://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()

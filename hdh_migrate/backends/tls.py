"""TLS for the HTTP backends (S3, Azure Blob): the CA bundle a plan names, and what a
failed handshake means. No SDK import: both backends call these at their boundary.

- ``ca_bundle(config, kind)`` checks ``config["ca_bundle"]`` before any request: the file
  must exist and hold at least one PEM certificate (``UsageError``, exit 2, otherwise). A
  bundle *replaces* the system trust store for that endpoint; verification itself is never
  turned off by it.
- ``handshake_error(exc, where)`` finds an ``ssl`` error in an SDK exception's chain. A
  certificate that fails verification (unknown CA, expired, wrong host name) becomes a
  ``CertificateError`` (exit 7, never retried): there is no fallback to plain HTTP or to
  an unverified connection. Any other handshake failure (e.g. https:// to a plain-HTTP
  port) is ``UnreachableError`` before the endpoint ever answered, retryable after.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from hdh_migrate.errors import (
    CertificateError,
    HdhError,
    RetryableError,
    UnreachableError,
    UsageError,
)

CERT_HINT = (
    "give the CA that signed the server's certificate with ca_bundle: (or fix the endpoint's "
    "host name, or renew the certificate); verification is never turned off"
)


def ca_bundle(config: Mapping[str, Any], kind: str) -> str | None:
    """The absolute path of ``config['ca_bundle']`` after checking it, or None if unset."""
    value = config.get("ca_bundle")
    if value is None or not str(value).strip():
        return None
    path = Path(str(value)).expanduser()
    if not path.is_file():
        raise UsageError(
            f"{kind} backend: ca_bundle {str(path)!r}: no such file",
            hint="give the path of the CA certificate(s), PEM",
        )
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError, ValueError):
        raise UsageError(
            f"{kind} backend: ca_bundle {str(path)!r} holds no readable PEM certificate",
            hint="a CA bundle is one or more '-----BEGIN CERTIFICATE-----' blocks",
        ) from None
    return str(path.absolute())


def handshake_error(
    exc: BaseException, where: str, *, reached: bool, key: str | None = None
) -> HdhError | None:
    """Our error for a TLS failure in ``exc``'s chain, or None when it holds no ssl error."""
    chain = list(_chain(exc))
    mismatch = next((e for e in chain if _is_urllib3_mismatch(e)), None)
    if mismatch is not None:
        return _refused(where, f"host name mismatch ({_printable(str(mismatch))})")
    failure = next((e for e in chain if isinstance(e, ssl.SSLError)), None)
    if failure is None:
        return None
    if isinstance(failure, ssl.SSLCertVerificationError):
        return _refused(where, failure.verify_message or failure.reason or "verification failed")
    reason = failure.reason or type(failure).__name__
    if reached:
        return RetryableError(f"{where}: TLS connection failed ({reason})", key=key)
    return UnreachableError(
        f"{where}: TLS handshake failed ({reason})",
        hint="check that the endpoint is https:// on a TLS port (or http:// on a plain one)",
    )


def is_certificate_failure(exc: BaseException) -> bool:
    """True when ``exc`` wraps a certificate verification failure (for SDK retry policies:
    it would fail the same way again)."""
    return isinstance(handshake_error(exc, "", reached=False), CertificateError)


def _refused(where: str, reason: str) -> CertificateError:
    return CertificateError(f"{where}: the server's TLS certificate is not trusted: {reason}",
                            hint=CERT_HINT)  # fmt: skip


def _is_urllib3_mismatch(exc: BaseException) -> bool:
    """urllib3 checks IP-address host names itself and raises its own CertificateError (a
    ValueError, not an ssl error); recognised by name so that no SDK is imported here."""
    return isinstance(exc, ValueError) and type(exc).__name__ == "CertificateError"


def _printable(text: str, limit: int = 160) -> str:
    """Server-provided names as inert text: printable characters only, bounded."""
    return "".join(c if c.isprintable() else "?" for c in text)[:limit]


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it wraps: causes, contexts, args and SDK wrappers."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, *current.args]
        linked += [getattr(current, name, None) for name in ("inner_exception", "reason")]
        kwargs = getattr(current, "kwargs", None)  # botocore keeps the wrapped error there
        if isinstance(kwargs, dict):
            linked += list(kwargs.values())
        todo.extend(e for e in linked if isinstance(e, BaseException))

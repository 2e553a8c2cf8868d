"""S3 backend settings from plain config: validated, secrets kept as references.

No SDK import here, so the probe and the plan checks can use it without boto3.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from hdh_migrate.backends import tls
from hdh_migrate.config_values import Secret, count, required, secret, size
from hdh_migrate.errors import UsageError
from hdh_migrate.secrets import reveal_private
from hdh_migrate.units import DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_SIZE

MIB = 1024 * 1024
MIN_PART = 5 * MIB
KIND = "s3"


@dataclass(frozen=True)
class S3Settings:
    """Everything needed to build a client; secrets stay references until ``client()``.
    The S3 backend's typed spec (``kind``): the engine builds it from the plan directly and
    ``checked`` applies the rules ``settings_from_config`` applies to plain config."""

    kind: ClassVar[str] = "s3"
    bucket: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key: Secret | None = None
    secret_key: Secret | None = None
    session_token: Secret | None = None
    profile: str | None = None
    addressing_style: str = "auto"
    signature_version: str = "s3v4"
    checksum_mode: str = "when_required"
    checksum_algorithms: tuple[str, ...] = ("md5",)
    verify_tls: bool = True
    ca_bundle: str | None = None
    sse_c_key: Secret | None = None
    storage_class: str | None = None
    multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD
    part_size: int = DEFAULT_PART_SIZE
    max_concurrency: int = 4
    page_size: int = 1000
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    sdk_attempts: int = 2


@dataclass(frozen=True)
class OpenUpload:
    """A multipart upload still open on the server (stale ones are aborted on resume)."""

    key: str
    upload_id: str
    initiated: datetime | None


@dataclass(frozen=True)
class S3Reply:
    """A raw answer for the capability probe: ``code`` is None on success."""

    status: int
    code: str | None
    data: Mapping[str, Any]
    body: bytes = b""


def is_loopback(endpoint_url: str | None) -> bool:
    """True when the endpoint's host is localhost or a loopback address."""
    host = urlsplit(endpoint_url or "").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def settings_from_config(config: Mapping[str, Any]) -> S3Settings:
    """Validate plain config into S3Settings (UsageError names the bad key)."""
    endpoint = config.get("endpoint_url") or None
    algorithms = tuple(str(a).lower() for a in config.get("checksum_algorithms", ("md5",)))
    return checked(
        S3Settings(
            bucket=required(config, "bucket", KIND),
            endpoint_url=endpoint,
            region=str(config.get("region") or "us-east-1"),
            access_key=secret(config, "access_key"),
            secret_key=secret(config, "secret_key"),
            session_token=secret(config, "session_token"),
            profile=str(config.get("profile") or "").strip() or None,
            addressing_style=str(
                config.get("addressing_style") or ("path" if endpoint else "auto")
            ),
            signature_version=str(config.get("signature_version") or "s3v4"),
            checksum_mode=str(config.get("checksum_mode", "when_required")),
            checksum_algorithms=algorithms,
            verify_tls=bool(config.get("verify_tls", True)),
            ca_bundle=tls.ca_bundle(config, KIND),
            sse_c_key=secret(config, "sse_c_key"),
            storage_class=config.get("storage_class") or None,
            multipart_threshold=size(
                config, "multipart_threshold", DEFAULT_MULTIPART_THRESHOLD, KIND
            ),
            part_size=size(config, "part_size", DEFAULT_PART_SIZE, KIND),
            max_concurrency=count(config, "max_concurrency", 4, KIND),
            page_size=count(config, "page_size", 1000, KIND),
            connect_timeout=float(config.get("connect_timeout", 10)),
            read_timeout=float(config.get("read_timeout", 60)),
            sdk_attempts=count(config, "sdk_attempts", 2, KIND),
        )
    )


def _addressing(endpoint: str | None) -> str:
    """Path style for an explicit endpoint (MinIO, SeaweedFS, most sovereign clouds)."""
    return "path" if endpoint else "auto"


def checked(settings: S3Settings) -> S3Settings:
    """``settings`` after the rules that hold across fields (UsageError names the bad one):
    what every S3 backend is built through, from a plan's spec or from plain config."""
    for name in settings.checksum_algorithms:
        if name not in ("md5", "sha256", "crc32c"):
            raise UsageError(f"s3 backend: unknown checksum algorithm {name!r}")
    if settings.checksum_mode not in ("when_required", "when_supported"):
        raise UsageError("s3 backend: checksum_mode must be when_required or when_supported")
    if not settings.verify_tls and not is_loopback(settings.endpoint_url):
        raise UsageError(
            "s3 backend: verify_tls: false is refused for a non-loopback endpoint",
            hint="give the endpoint's CA with ca_bundle: instead",
        )
    if settings.ca_bundle and not settings.verify_tls:
        raise UsageError(
            "s3 backend: ca_bundle is given but verify_tls is false",
            hint="remove verify_tls: false (the bundle is what verification uses)",
        )
    if settings.profile and (settings.access_key or settings.secret_key):
        raise UsageError("s3 backend: give access_key/secret_key or profile, not both")
    return replace(settings, ca_bundle=tls.ca_bundle({"ca_bundle": settings.ca_bundle}, KIND))


def sse_c_key_bytes(ref: Secret) -> bytes:
    """The 32-byte SSE-C key from its secret: raw bytes, or base64 of them."""
    raw = reveal_private(ref).strip()
    if len(raw) == 32:
        return raw
    with contextlib.suppress(binascii.Error, ValueError):
        decoded = base64.b64decode(raw, validate=True)
        if len(decoded) == 32:
            return decoded
    raise UsageError(f"sse_c_key {ref} must be 32 bytes (or their base64)")

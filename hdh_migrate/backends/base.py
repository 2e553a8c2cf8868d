"""The storage contract every backend implements, and the value objects it speaks.

Backends move opaque bytes. They never import crypto, journal, engine or plan. Every SDK
exception is translated at the boundary into ``hdh_migrate.errors``:
``NotFoundError`` (no such key), ``PreconditionFailedError`` (the ETag no longer matches),
``ThrottledError`` (503 SlowDown / 429), ``RetryableError`` (transient), ``PermanentError``,
``AuthError`` (401/403 or refused credentials).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Protocol, runtime_checkable

from hdh_migrate.errors import PermanentError

MIB = 1 << 20

#: Standard content headers carried with an object (Azure ContentSettings / S3 headers).
CONTENT_HEADERS = (
    "content_type",
    "content_encoding",
    "content_language",
    "content_disposition",
    "cache_control",
)


@dataclass(frozen=True)
class ObjectInfo:
    """What a backend knows about one object.

    ``etag`` is opaque and only comparable within one backend. ``content_md5`` is the
    stored whole-object MD5 (raw 16 bytes) when the service has one. ``content`` holds the
    standard headers (keys from ``CONTENT_HEADERS``), ``metadata`` the user metadata as the
    service returned it, ``extra`` anything else worth reporting (``access_tier``,
    ``version_id``, ``checksum_sha256``, ``checksum_crc32c``, ``tags`` …).
    """

    key: str
    size: int
    etag: str | None = None
    last_modified: datetime | None = None
    content_md5: bytes | None = None
    content: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do; the core probes these and falls back when one is missing."""

    multipart: bool = False
    ranged_read: bool = True
    conditional_read: bool = False  # open_read(if_match=…) is enforced by the server
    conditional_write: bool = False  # If-None-Match on PUT
    user_metadata: bool = True
    atomic_write: bool = True  # a failed write never leaves a visible object
    checksum_algorithms: tuple[str, ...] = ()  # sent with writes: "md5", "crc32c", "sha256"
    sse_c: bool = False
    versioning: bool = False
    object_lock: bool = False
    max_object_size: int | None = None
    min_part_size: int | None = None
    max_part_size: int | None = None
    max_part_count: int | None = None
    max_key_length: int | None = None
    open_uploads: bool = False  # lists and aborts multipart uploads left open (OpenUploads)
    # -- what the engine plans around (declared by the backend, never sniffed) ------------
    read_ahead: int = 2 * MIB  # bytes one open stream holds ahead of the reader
    multipart_threshold: int | None = None  # larger writes are multipart (None: one PUT)
    parts_in_flight: int = 1  # parts a multipart write sends at once
    read_with_info: bool = False  # open_read_info() answers properties with the bytes
    retention_settings: bool = False  # retention_settings() reports what keeps deleted data
    credential_expires: datetime | None = None  # the credential stops working then (a SAS)


@dataclass(frozen=True)
class WriteOptions:
    """How to write one object.

    ``content``/``metadata`` are stored with the object. ``checksums`` maps an algorithm
    (``md5``, ``sha256``, ``crc32c``) to the base64 digest of the *whole* stream the caller
    already knows; the backend sends it so the server validates, or checks it itself.
    ``part_size`` asks multipart uploads to cut parts at exactly that size (ciphertext
    segment alignment); ``first_part_size``, when set, is the size of part 1 (an HDH1 header
    plus whole segments), later parts being ``part_size``. ``if_none_match`` refuses to
    overwrite an existing key. ``resume``: the caller writes the same bytes as an earlier,
    interrupted write of this key (deterministic: HDH1 under a journaled header, the
    source pinned to one version), so a backend with multipart uploads may reuse an open
    upload of the key whose parts match these bytes, upload only the missing parts, and
    keep the upload open when the write fails on a retryable error.
    """

    content: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)
    checksums: Mapping[str, str] = field(default_factory=dict)
    part_size: int | None = None
    first_part_size: int | None = None
    if_none_match: bool = False
    resume: bool = False


@runtime_checkable
class Backend(Protocol):
    """One bucket, container or directory. Keys are ``/``-separated, relative, UTF-8."""

    name: str  # for messages: scheme + location, credentials redacted

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield every object whose key starts with ``prefix``, in key order where the service
        sorts, page by page: never more than one page in memory. Idempotent."""
        ...

    def stat(self, key: str) -> ObjectInfo:
        """Metadata of one object. Raises NotFoundError. Idempotent."""
        ...

    def open_read(
        self, key: str, range: tuple[int, int] | None = None, if_match: str | None = None
    ) -> BinaryIO:
        """A readable stream of the object, or of the inclusive byte ``range`` (start, end).
        An ``end`` past the object is clamped to its last byte; a ``start`` at or past the
        end raises PermanentError (HTTP 416). With ``if_match``, raises
        PreconditionFailedError when the ETag differs (at open or while reading). Raises
        NotFoundError. The caller closes the stream."""
        ...

    def write(
        self, key: str, stream: BinaryIO, size: int, options: WriteOptions | None = None
    ) -> ObjectInfo:
        """Store exactly ``size`` bytes read from ``stream`` at ``key``, atomically: the key
        shows the whole new object or what was there before, never a part. A stream that
        ends early or runs long raises PermanentError and leaves nothing (multipart uploads
        are aborted). Returns the stored object's info. Memory stays bounded."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``. Deleting a missing key is not an error. Idempotent."""
        ...

    def capabilities(self) -> Capabilities:
        """What this backend supports (static knowledge; the probe measures the rest)."""
        ...

    def close(self) -> None:
        """Release connections. Idempotent."""
        ...


class UploadRef(Protocol):
    """A multipart upload left open: its key and upload id."""

    key: str
    upload_id: str


class OpenUploads(Protocol):
    """What a backend declaring ``Capabilities.open_uploads`` offers the resume reconcile."""

    def list_multipart_uploads(self, prefix: str = "") -> Iterator[UploadRef]:
        """Multipart uploads open under ``prefix``, page by page."""
        ...

    def abort_multipart(self, key: str, upload_id: str, *, quiet: bool = False) -> None:
        """Abort one upload; an upload already gone is not an error."""
        ...


class ReadsWithInfo(Protocol):
    """What a backend declaring ``Capabilities.read_with_info`` offers."""

    def open_read_info(
        self, key: str, if_match: str | None = None
    ) -> tuple[BinaryIO, ObjectInfo]: ...


class ReportsRetention(Protocol):
    """What a backend declaring ``Capabilities.retention_settings`` offers."""

    def retention_settings(self, prefix: str = "") -> Mapping[str, object]: ...


class ReadOnlyBackend:
    """Wraps a backend so any write or delete raises: what an audit opens everything with."""

    def __init__(self, inner: Backend) -> None:
        self._inner = inner
        self.name = inner.name

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return self._inner.list(prefix)

    def stat(self, key: str) -> ObjectInfo:
        return self._inner.stat(key)

    def open_read(
        self, key: str, range: tuple[int, int] | None = None, if_match: str | None = None
    ) -> BinaryIO:
        return self._inner.open_read(key, range=range, if_match=if_match)

    def write(
        self, key: str, stream: BinaryIO, size: int, options: WriteOptions | None = None
    ) -> ObjectInfo:
        raise PermanentError(f"{self.name} is opened read-only", key=key)

    def delete(self, key: str) -> None:
        raise PermanentError(f"{self.name} is opened read-only", key=key)

    def capabilities(self) -> Capabilities:
        return self._inner.capabilities()

    def close(self) -> None:
        self._inner.close()

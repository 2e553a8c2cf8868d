"""Plain-data work items and their results: what crosses from the coordinator to a task
and back. Frozen, picklable, no clients inside (a task rebuilds those from the specs)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from hdh_migrate.backends.specs import BackendSpec
from hdh_migrate.keys import FileKeySpec, KeySpec, Pkcs11KeySpec
from hdh_migrate.stages.retry import DEFAULT_RETRY, RetryPolicy
from hdh_migrate.units import DEFAULT_BUFFER_MEMORY, DEFAULT_PART_SIZE


@dataclass(frozen=True)
class Spec:
    """How to build a backend or a key provider: its typed ``config`` (a backend spec or a
    key spec, built once from the plan; SecretRefs, not secrets). ``ident`` names it in
    caches and messages. ``retry``, the plan's policy, wraps every operation of the backend
    built from it (None: the backend as is)."""

    config: BackendSpec | KeySpec
    ident: str
    retry: RetryPolicy | None = None

    @property
    def kind(self) -> str:
        return self.config.kind

    @property
    def backend_spec(self) -> BackendSpec:
        """``config`` of a backend's spec (TypeError for a key's)."""
        if isinstance(self.config, FileKeySpec | Pkcs11KeySpec):
            raise TypeError(f"{self.ident} is a key, not a backend")
        return self.config

    @property
    def key_spec(self) -> KeySpec:
        """``config`` of a key's spec (TypeError for a backend's)."""
        if not isinstance(self.config, FileKeySpec | Pkcs11KeySpec):
            raise TypeError(f"{self.ident} is a backend, not a key")
        return self.config


@dataclass(frozen=True)
class CopyItem:
    """One object to copy: read ``key`` at ``etag`` from ``source``, encrypt as
    ``object_id``, write ``target_key`` on ``target``."""

    dataset: str
    key: str
    size: int
    etag: str | None
    object_id: str
    target_key: str
    source: Spec
    target: Spec
    kek: Spec
    content_md5: str | None = None  # hex, when the source stores one
    carry_metadata: bool = True
    rename_metadata: tuple[tuple[str, str], ...] = ()
    drop_metadata: tuple[str, ...] = ()
    segment_size: int = 1 << 20
    min_part_size: int = DEFAULT_PART_SIZE  # the plan's part_size (at least 5 MiB)
    buffer_memory: int = DEFAULT_BUFFER_MEMORY  # the plan's budget for this process's copies
    retry: RetryPolicy = DEFAULT_RETRY  # the whole copy (a write consumes its stream)
    drop_sidecar: bool = True  # a rotation left sidecars under the dataset's target prefix
    trust_write: bool = False  # the probe saw the target validate Content-MD5 on PUT
    #: The journaled HDH1 header (salt, data key wrapped by the KEK) of a large object at
    #: source version ``etag``: the copy re-encrypts the same bytes and reuses the
    #: multipart parts an interrupted attempt uploaded (docs/reliability.md).
    resume_header: bytes | None = None


@dataclass(frozen=True)
class CopyResult:
    """What happened to one CopyItem. ``state`` is ``copied`` or ``failed``; when the source
    changed during the copy, ``etag``/``size`` carry the version that was copied."""

    dataset: str
    key: str
    state: str
    etag: str | None = None
    size: int = 0
    attempts: int = 1
    error: str | None = None
    error_kind: str | None = None
    plaintext_sha256: str | None = None
    ciphertext_sha256: str | None = None
    header_sha256: str | None = None
    kek_ref: str | None = None
    target_key: str | None = None
    target_etag: str | None = None
    target_version: str | None = None
    target_size: int = 0
    not_carried: tuple[str, ...] = ()  # metadata and properties the target could not hold
    endpoint: str | None = None  # the endpoint a connection failure was with
    content_md5: str | None = None  # the Content-MD5 (hex) of the version copied, if any
    parts_reused: int = 0  # multipart parts an interrupted attempt had uploaded, not sent again
    parts_uploaded: int = 0  # multipart parts sent by this copy (when it resumed an upload)
    retries: tuple[str, ...] = ()  # the cause of each retry made (stages.retry.CAUSES)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class VerifyItem:
    """One object to verify at the target against what the journal recorded."""

    dataset: str
    key: str
    object_id: str
    target_key: str
    target: Spec
    kek: Spec
    mode: CheckMode  # a sample is drawn by the coordinator: full or header per object
    plaintext_sha256: str | None
    plaintext_size: int
    ciphertext_size: int
    target_etag: str | None = None
    retry: RetryPolicy = DEFAULT_RETRY  # the whole check (a read can fail mid-stream)
    header_sha256: str | None = None  # the HDH1 header written at copy time


#: How one object is checked (``sample:P%`` is resolved per object by the coordinator).
CheckMode = Literal["full", "header", "metadata", "none"]

#: What a verification concluded about one object:
#: ``verified`` — the target holds what the evidence says;
#: ``mismatch`` — it does not (only this changes the object's state: it is copied again);
#: ``unverifiable`` — the check could not be made (a server error, a lost connection,
#: retries exhausted): the object keeps its state and is checked again later.
Outcome = Literal["verified", "mismatch", "unverifiable"]


@dataclass(frozen=True)
class VerifyResult:
    dataset: str
    key: str
    mode: str
    outcome: Outcome
    reason: str | None = None
    bytes_read: int = 0
    tampered: bool = False  # a mismatch found by authentication (HDH1 tag, header, commitment)
    retries: tuple[str, ...] = ()  # the cause of each retry made (stages.retry.CAUSES)
    size: int = 0  # the object's plaintext size (what its verify bar advances by)

    @property
    def ok(self) -> bool:
        return self.outcome == "verified"

"""Freezing a source: blob leases, and the probes that prove a freeze holds (or was lifted).

Leases (strategy ``leases``): an infinite lease on a blob makes Azure refuse every write
and delete that does not carry the lease id. A lease does not stop the *creation* of new
blobs (the cutover's final listing catches those), and a *container* lease only blocks
deleting the container: it is not a freeze.

Lease ids are proposed by us, deterministically (``lease_id_for``): the same plan,
dataset, key and freeze epoch always give the same id. Acquiring again with the same id
succeeds, so a freeze interrupted between "leased at Azure" and "recorded in the journal"
is simply redone, and a rollback can release a lease the journal never heard of. Lease
ids are not secrets: anyone allowed to write may break a lease anyway.

Probes write to the source on purpose:

- ``probe_leased`` rewrites one leased blob *with its own bytes, headers and metadata*
  and without the lease id: refusal proves the leases hold; if Azure accepts it, nothing
  was lost (same content) and the freeze is reported as failed.
- ``probe_canary`` writes ``<prefix>_hdh-freeze-probe/<uuid>`` (a name every backend
  accepts; ``.hdh-`` names are reserved by the local backend): refusal proves a hook or
  manual freeze holds; a successful write means the freeze failed (the canary is deleted).
- ``probe_writable`` is the converse, after a rollback: the canary must be accepted.
"""

from __future__ import annotations

import contextlib
import io
import uuid
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from hdh_migrate.backends.base import Backend, WriteOptions
from hdh_migrate.errors import (
    AuthError,
    HdhError,
    NotFoundError,
    PermanentError,
    PreconditionFailedError,
    RetryableError,
    UsageError,
)

LEASE_NAMESPACE = uuid.UUID("6f1d3c1e-5b0a-4c59-9a57-2b7c4a1e0d11")
PROBE_DIR = "_hdh-freeze-probe/"
_REFUSALS = (AuthError, PreconditionFailedError, PermanentError)


@runtime_checkable
class Leasing(Protocol):
    """What a backend offers for blob leases (the Azure backend does)."""

    def acquire_lease(self, key: str, duration: int = -1, lease_id: str | None = None) -> str: ...

    def release_lease(self, key: str, lease_id: str) -> None: ...


def leasing(backend: Backend) -> Leasing:
    """``backend`` as a Leasing backend; UsageError when it has no blob leases."""
    if not isinstance(backend, Leasing):
        raise UsageError(
            f"freeze strategy 'leases' needs an Azure Blob source; {backend.name} has no leases",
            hint="use freeze strategy 'hook' (a command revoking write access) or 'manual'",
        )
    return backend


def lease_id_for(plan: str, dataset: str, key: str, epoch: int) -> str:
    """The lease id proposed for ``key`` in freeze ``epoch`` (a UUID string)."""
    return str(uuid.uuid5(LEASE_NAMESPACE, f"{plan}\x00{dataset}\x00{key}\x00{epoch}"))


@dataclass(frozen=True)
class LeaseResult:
    """What one lease call did. ``outcome``: ``leased``, ``released``, ``gone`` (no such
    blob), ``foreign`` (leased under another id) or ``error``."""

    key: str
    lease_id: str
    outcome: str
    error: str | None = None


def acquire(backend: Leasing, key: str, lease_id: str, attempts: int = 3) -> LeaseResult:
    """Take an infinite lease on ``key`` with ``lease_id``; idempotent; never raises."""
    return _attempt(
        lambda: backend.acquire_lease(key, -1, lease_id), key, lease_id, "leased", attempts
    )


def release(backend: Leasing, key: str, lease_id: str, attempts: int = 3) -> LeaseResult:
    """Release the lease ``lease_id`` on ``key``; a blob gone or no longer leased under that
    id is reported (``gone``/``foreign``), never raised."""
    return _attempt(
        lambda: backend.release_lease(key, lease_id), key, lease_id, "released", attempts
    )


def _attempt(call: Any, key: str, lease_id: str, success: str, attempts: int) -> LeaseResult:
    for attempt in range(1, attempts + 1):
        try:
            call()
            return LeaseResult(key, lease_id, success)
        except NotFoundError:
            return LeaseResult(key, lease_id, "gone")
        except PreconditionFailedError as error:
            return LeaseResult(key, lease_id, "foreign", error.one_line())
        except RetryableError as error:
            if attempt == attempts:
                return LeaseResult(key, lease_id, "error", error.one_line())
        except HdhError as error:
            return LeaseResult(key, lease_id, "error", error.one_line())
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class ProbeResult:
    """A probe write: ``refused`` is what the source answered; ``held`` whether that is what
    the caller wanted (refusal after a freeze, acceptance after a rollback)."""

    key: str
    refused: bool
    held: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "refused": self.refused, "held": self.held, "detail": self.detail}


def probe_leased(backend: Backend, key: str) -> ProbeResult:
    """Rewrite ``key`` with its own bytes, headers and metadata, without a lease id."""
    info = backend.stat(key)
    options = WriteOptions(content=dict(info.content), metadata=dict(info.metadata))
    try:
        with backend.open_read(key, if_match=info.etag) as stream:
            backend.write(key, stream, info.size, options)
    except _REFUSALS as error:
        return ProbeResult(key, True, True, f"write refused: {error.one_line()}")
    return ProbeResult(key, False, False, "write accepted without the lease id (same bytes)")


def canary_key(prefix: str) -> str:
    return f"{prefix}{PROBE_DIR}{uuid.uuid4().hex}"


def probe_canary(backend: Backend, prefix: str) -> ProbeResult:
    """Write a canary under ``prefix``; the freeze holds when the write is refused. An
    accepted canary is deleted again (best effort)."""
    refused, detail, key = _write_canary(backend, prefix)
    if refused:
        return ProbeResult(key, True, True, detail)
    return ProbeResult(key, False, False, "canary write accepted: the source is still writable")


def probe_writable(backend: Backend, prefix: str) -> ProbeResult:
    """Write a canary under ``prefix``; writes are back when it is accepted (then deleted)."""
    refused, detail, key = _write_canary(backend, prefix)
    if refused:
        return ProbeResult(key, True, False, detail)
    return ProbeResult(key, False, True, "canary write accepted: the source is writable")


def _write_canary(backend: Backend, prefix: str) -> tuple[bool, str, str]:
    key = canary_key(prefix)
    data = b"hdh-migrate freeze probe\n"
    try:
        backend.write(key, io.BytesIO(data), len(data))
    except _REFUSALS as error:
        return True, f"write refused: {error.one_line()}", key
    with contextlib.suppress(HdhError):
        backend.delete(key)
    return False, "write accepted", key

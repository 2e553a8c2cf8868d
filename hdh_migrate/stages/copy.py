"""The copy work unit: a pure function of a ``CopyItem`` returning a ``CopyResult``.

Per attempt: read the source pinned to its ETag → SHA-256 (and MD5 when the source has a
Content-MD5 to cross-check) of the plaintext → HDH1 encrypt under a fresh data key →
SHA-256 of the ciphertext → write (multipart parts aligned on whole segments) → HEAD
confirms the size. Each attempt re-opens the source and rebuilds the whole pipeline under
the same header (the journaled one for a large object), so an interrupted multipart upload
is resumed: the source is read again and every hash recomputed, only the parts missing at
the target are sent. A changed source (ETag) restarts the object at its new version with
a fresh data key.
Nothing here writes the journal: the coordinator records the result.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from functools import partial

from hdh_migrate.backends.base import Backend, ObjectInfo
from hdh_migrate.circuit import CIRCUITS
from hdh_migrate.crypto import Encryptor, KeyProvider, aligned_part_size
from hdh_migrate.errors import (
    AuthError,
    HdhError,
    PermanentError,
    PreconditionFailedError,
    RetryableError,
)
from hdh_migrate.integrity.hashing import HashingReader
from hdh_migrate.stages.buffers import process_buffers
from hdh_migrate.stages.clients import PROCESS_CLIENTS, Clients
from hdh_migrate.stages.envelopes import drop_stale_sidecar
from hdh_migrate.stages.items import CopyItem, CopyResult
from hdh_migrate.stages.metadata import not_carried, target_metadata
from hdh_migrate.stages.meter import metered
from hdh_migrate.stages.retry import RetryPolicy, recording_retries
from hdh_migrate.stages.source_read import open_source, same_etag
from hdh_migrate.stages.throttle import limited
from hdh_migrate.stages.write_confirm import confirmed_by_write

__all__ = ["buffer_estimate", "copy_object", "same_etag"]

SOURCE_CHANGES_TOLERATED = 3


@dataclass
class _Attempts:
    count: int = 0


def copy_object(
    item: CopyItem, clients: Clients = PROCESS_CLIENTS, retry: RetryPolicy | None = None
) -> CopyResult:
    """Copy one object; never raises for a per-object failure (the result says why). An
    AuthError is not one: credentials or keys refused are the run's, so it propagates and
    the run stops with exit 7 on the first object, not 5. The result carries the cause of
    every retry made, at any level (stages.retry.recording_retries)."""
    with recording_retries() as causes:
        result = _copy(item, clients, retry)
    return replace(result, retries=tuple(causes)) if causes else result


def _copy(item: CopyItem, clients: Clients, retry: RetryPolicy | None) -> CopyResult:
    attempts = _Attempts()
    policy = retry or item.retry
    try:
        for _ in range(SOURCE_CHANGES_TOLERATED + 1):
            sealer = _Sealer(item, clients)
            try:
                return policy.run(partial(_attempt, item, clients, attempts, sealer))
            except PreconditionFailedError:
                item = _restat(item, clients)
        raise RetryableError("the source object keeps changing while it is copied")
    except AuthError:
        raise  # credentials, keys, certificates: every object would fail the same way (exit 7)
    except HdhError as exc:
        return _failed(item, exc, attempts.count)


class _Sealer:
    """The Encryptor of one source version, shared by its attempts: the journaled header
    when the coordinator gave one, else a fresh one. Every attempt then produces the same
    ciphertext, so a multipart upload an attempt (or a killed run) left open is resumed
    (``WriteOptions.resume``). Only with an ETag, which pins every read to one version:
    one data key never encrypts two different plaintexts. Without one, each attempt gets
    a fresh key."""

    def __init__(self, item: CopyItem, clients: Clients) -> None:
        self.item, self.clients = item, clients
        self._kept: Encryptor | None = None

    def get(self) -> Encryptor:
        item = self.item
        if self._kept is not None:
            return self._kept
        provider = self.clients.key(item.kek)
        encryptor = self._journaled(provider) or Encryptor(
            provider, item.object_id, item.size, item.segment_size
        )
        if item.etag:
            self._kept = encryptor
        return encryptor

    def _journaled(self, provider: KeyProvider) -> Encryptor | None:
        item = self.item
        if item.resume_header is None or not item.etag:
            return None
        try:
            return Encryptor.resume(
                provider, item.resume_header, item.object_id, item.size, item.segment_size
            )
        except HdhError:  # another key, a damaged row: a fresh header costs a re-upload only
            return None


def _attempt(item: CopyItem, clients: Clients, attempts: _Attempts, sealer: _Sealer) -> CopyResult:
    attempts.count += 1
    CIRCUITS.check()  # an endpoint is dead: the run is stopping, take nothing new
    source, target = clients.backend(item.source), clients.backend(item.target)
    encryptor = sealer.get()
    first, part = aligned_part_size(
        item.size, item.segment_size, len(encryptor.header), min_part=item.min_part_size
    )
    need = buffer_estimate(source, target, item.size, encryptor.ciphertext_length, part)
    with process_buffers(item.buffer_memory).reserve(need):
        raw, info = open_source(source, item.key, item.etag)
        with raw:
            mapped, by_plan = target_metadata(
                info,
                carry=item.carry_metadata,
                rename=item.rename_metadata,
                drop=item.drop_metadata,
            )
            options = mapped.write_options(part_size=part, first_part_size=first, resume=True)
            algorithms = ("sha256", "md5") if item.content_md5 else ("sha256",)
            plain = HashingReader(metered(limited(raw), item.dataset, "copy"), algorithms)
            sealed = HashingReader(encryptor.reader(plain))  # type: ignore[arg-type]
            size = encryptor.ciphertext_length
            written = target.write(item.target_key, sealed, size, options)  # type: ignore[arg-type]
    _cross_check_md5(item, plain, clients)
    stat = written if confirmed_by_write(item, written) else target.stat(item.target_key)
    stored = _confirm(item, stat, encryptor.ciphertext_length, clients)
    _same_writer(item, written, stored)  # a duplicate execution replaced it: write again
    if item.drop_sidecar:
        drop_stale_sidecar(target, item.target_key)  # a rotation's sidecar fits the old header
    result = _copied(item, plain, sealed, encryptor, stored, attempts.count)
    return replace(
        result,
        not_carried=not_carried(mapped, by_plan),
        parts_reused=int(written.extra.get("parts_reused", 0)) if written else 0,
        parts_uploaded=int(written.extra.get("parts_uploaded", 0)) if written else 0,
    )


def buffer_estimate(source: Backend, target: Backend, size: int, ciphertext: int, part: int) -> int:
    """Bytes one copy holds at its peak, from what the backends declare: the source's
    read-ahead (at most the object) plus the target's upload buffers — the ciphertext twice
    for a single PUT (parts joined into one body), ``(parts in flight + 1) × part`` for a
    multipart upload. A target declaring no multipart threshold takes one PUT."""
    reads, writes = source.capabilities(), target.capabilities()
    threshold = writes.multipart_threshold
    single = threshold is None or ciphertext <= threshold
    upload = 2 * ciphertext if single else (writes.parts_in_flight + 1) * part
    return min(size, reads.read_ahead) + upload


def _cross_check_md5(item: CopyItem, plain: HashingReader, clients: Clients) -> None:
    if item.content_md5 and plain.digests()["md5"] != item.content_md5:
        clients.backend(item.target).delete(item.target_key)
        raise PermanentError(
            "bytes read do not match the source's Content-MD5; nothing kept at the target",
            key=item.key,
        )


def _confirm(item: CopyItem, stored: ObjectInfo, expected: int, clients: Clients) -> ObjectInfo:
    if stored.size != expected:
        clients.backend(item.target).delete(item.target_key)
        raise RetryableError(
            f"target holds {stored.size} bytes, expected {expected}", key=item.target_key
        )
    return stored


def _same_writer(item: CopyItem, written: ObjectInfo | None, stored: ObjectInfo) -> None:
    """The object the HEAD sees is the one this attempt wrote: a duplicate execution of the
    same work unit (Dask runs a task twice when a worker presumed dead still finishes) may
    have replaced it in between; then our hashes do not describe it — write again."""
    if written is not None and written.etag and stored.etag and written.etag != stored.etag:
        raise RetryableError(
            "another writer replaced the object right after our write", key=item.target_key
        )


def _restat(item: CopyItem, clients: Clients) -> CopyItem:
    info = clients.backend(item.source).stat(item.key)
    md5 = info.content_md5.hex() if info.content_md5 else None
    return replace(item, etag=info.etag, size=info.size, content_md5=md5, resume_header=None)


def _copied(
    item: CopyItem,
    plain: HashingReader,
    sealed: HashingReader,
    encryptor: Encryptor,
    stored: ObjectInfo,
    attempts: int,
) -> CopyResult:
    return CopyResult(
        dataset=item.dataset,
        key=item.key,
        state="copied",
        etag=item.etag,
        size=item.size,
        content_md5=item.content_md5,
        attempts=attempts,
        plaintext_sha256=plain.sha256,
        ciphertext_sha256=sealed.sha256,
        header_sha256=hashlib.sha256(encryptor.header).hexdigest(),
        kek_ref=encryptor.cipher.header.kek_ref,
        target_key=item.target_key,
        target_etag=stored.etag,
        target_version=stored.extra.get("version_id"),
        target_size=stored.size,
    )


def _failed(item: CopyItem, exc: HdhError, attempts: int) -> CopyResult:
    return CopyResult(
        dataset=item.dataset,
        key=item.key,
        state="failed",
        etag=item.etag,
        size=item.size,
        attempts=max(attempts, 1),
        error=exc.one_line(),
        error_kind=type(exc).__name__,
        target_key=item.target_key,
        endpoint=getattr(exc, "endpoint", None),
    )

"""The verify work unit: re-read what the target holds and compare it with the evidence.

Modes, per object:
- ``full``: read back, authenticate and decrypt every segment, compare the plaintext SHA-256;
- ``header``: the header and the final segment (commitment, key, length, final flag) —
  what ``sample:P%`` checks on every object not drawn for a full check;
- ``metadata``: HEAD only (size, and ETag when one was recorded);
- ``none``: nothing is read; the object is recorded as verified in mode ``none`` (the
  policy refuses this mode outside a rehearsal, SOV-12).

Outcomes, not exceptions (``VerifyResult.outcome``): a comparison that fails, a missing
object or an HDH1 authentication failure is a ``mismatch``; a server error, a lost
connection or a throttled read, once the retries are spent, is ``unverifiable`` — the
object keeps its state and is checked again later. A key that is not the object's
(``WrongKeyError``) or credentials the target refuses (``AuthError``) are configuration
errors: they escape, so a command over many objects stops at the first one and marks
nothing.

Full and header modes follow the sidecar rule of ``stages.envelopes``: a rotated object
opens through its sidecar, with the new KEK only.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from functools import partial
from typing import BinaryIO

from hdh_migrate.backends.base import Backend, ObjectInfo
from hdh_migrate.crypto import (
    check_object_size,
    decrypt_range,
    open_object,
    plan_range,
    read_header,
)
from hdh_migrate.crypto.format import MAX_HEADER_LEN
from hdh_migrate.errors import AuthError, HdhError, IntegrityAuthError, NotFoundError, WrongKeyError
from hdh_migrate.integrity.hashing import HashingReader
from hdh_migrate.keys import KeyProvider
from hdh_migrate.stages.clients import PROCESS_CLIENTS, Clients
from hdh_migrate.stages.envelopes import RotatedKeyError, current_envelope, open_plaintext
from hdh_migrate.stages.items import Outcome, VerifyItem, VerifyResult
from hdh_migrate.stages.meter import metered
from hdh_migrate.stages.retry import recording_retries

CHUNK = 1 << 20


def verify_object(item: VerifyItem, clients: Clients = PROCESS_CLIENTS) -> VerifyResult:
    """Verify one object: ``verified``, ``mismatch`` or ``unverifiable`` (see the module
    docstring); raises only for configuration errors (wrong key, refused credentials). The
    result carries the cause of every retry made."""
    with recording_retries() as causes:
        result = _verify(item, clients)
    return replace(result, retries=tuple(causes)) if causes else result


def _verify(item: VerifyItem, clients: Clients) -> VerifyResult:
    check = _CHECKS[item.mode]
    target = clients.backend(item.target)
    try:
        reason, read = item.retry.run(partial(check, item, target, clients))
    except RotatedKeyError:
        raise  # the plan names the key a rotation moved away from: stop, mark nothing
    except WrongKeyError as exc:
        if not _header_changed(item, target):
            raise  # the plan names another key than the object's: stop, mark nothing
        # the header names another key because it is not the header written at copy time
        return _result(item, "mismatch", f"HDH1 header altered: {exc.one_line()}", tampered=True)
    except IntegrityAuthError as exc:
        return _result(item, "mismatch", exc.one_line(), tampered=True)
    except NotFoundError:
        return _result(item, "mismatch", f"the target holds no object {item.target_key!r}")
    except AuthError:
        raise  # credentials refused: every other object would fail the same way
    except HdhError as exc:
        return _result(item, "unverifiable", exc.one_line())
    if reason is not None:
        return _result(item, "mismatch", reason)
    return _result(item, "verified", None, read)


def _header_changed(item: VerifyItem, target: Backend) -> bool:
    """Whether the header at the target differs from the one journaled at copy time (a
    damaged header may name another KEK: that is tampering, not a configuration error)."""
    if not item.header_sha256:
        return False
    size = min(MAX_HEADER_LEN, item.ciphertext_size)
    try:
        header = read_header(io.BytesIO(_read_all(target, item.target_key, (0, size - 1))))
    except HdhError:
        return True  # no longer a header at all
    return hashlib.sha256(header.raw).hexdigest() != item.header_sha256


def _result(
    item: VerifyItem,
    outcome: Outcome,
    reason: str | None,
    read: int = 0,
    *,
    tampered: bool = False,
) -> VerifyResult:
    return VerifyResult(
        item.dataset, item.key, item.mode, outcome, reason, read, tampered, size=item.plaintext_size
    )


def sample_drawn(object_id: str, percent: float, seed: str) -> bool:
    """Deterministic draw: the same object, percentage and seed always give the same answer."""
    digest = hashlib.sha256(f"{seed}\0{object_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < percent / 100 * 2**64


def _metadata(item: VerifyItem, target: Backend, clients: Clients) -> tuple[str | None, int]:
    info = target.stat(item.target_key)
    return _size_problem(item, info) or _etag_problem(item, info), 0


def _size_problem(item: VerifyItem, info: ObjectInfo) -> str | None:
    if info.size != item.ciphertext_size:
        return f"target holds {info.size} bytes, expected {item.ciphertext_size}"
    return None


def _etag_problem(item: VerifyItem, info: ObjectInfo) -> str | None:
    if item.target_etag and info.etag and info.etag != item.target_etag:
        return "target ETag changed since the copy"
    return None


def _full(item: VerifyItem, target: Backend, clients: Clients) -> tuple[str | None, int]:
    """Size first (cheap); then every segment is authenticated, so a modified object of
    the right size is found as tampered (IntegrityAuthError) before its changed ETag."""
    info = target.stat(item.target_key)
    size_problem = _size_problem(item, info)
    if size_problem:
        return size_problem, 0
    with open_plaintext(target, item.target_key, clients.key(item.kek), item.object_id) as reader:
        plain = HashingReader(metered(reader, item.dataset, "verify"))  # type: ignore[arg-type]
        # one reused buffer: each segment is decrypted straight into it and hashed there (a
        # read() per MiB allocated, mmapped and freed a fresh 1 MiB bytes object)
        buffer = memoryview(bytearray(CHUNK))
        while plain.readinto(buffer):
            pass
    if plain.bytes_read != item.plaintext_size:
        return f"decrypted {plain.bytes_read} bytes, expected {item.plaintext_size}", 0
    if item.plaintext_sha256 and plain.sha256 != item.plaintext_sha256:
        return "plaintext SHA-256 differs from the one recorded at copy time", 0
    return _etag_problem(item, info), item.ciphertext_size


def _header(item: VerifyItem, target: Backend, clients: Clients) -> tuple[str | None, int]:
    size_problem, _ = _metadata(item, target, clients)
    if size_problem:
        return size_problem, 0
    head = _read_all(target, item.target_key, (0, min(MAX_HEADER_LEN, item.ciphertext_size) - 1))
    header = read_header(io.BytesIO(head))
    check_object_size(header, item.ciphertext_size)
    provider = clients.key(item.kek)
    envelope = current_envelope(target, item.target_key, header, provider)  # sidecar rule
    cipher = open_object(header, provider, item.object_id, envelope)
    read = header.header_length
    if header.plaintext_length:
        last = header.plaintext_length - 1
        start, end, _ = plan_range(header, last, last)
        segment = _read_all(target, item.target_key, (start, end))
        for _ in decrypt_range(cipher, io.BytesIO(segment), last, last):
            pass
        read += len(segment)
    return None, read


def _none(item: VerifyItem, target: Backend, clients: Clients) -> tuple[str | None, int]:
    return None, 0


def _read_all(target: Backend, key: str, span: tuple[int, int]) -> bytes:
    with target.open_read(key, range=span) as stream:
        return _drain(stream)


def _drain(stream: BinaryIO) -> bytes:
    return b"".join(iter(lambda: stream.read(CHUNK), b""))


_CHECKS = {"full": _full, "header": _header, "metadata": _metadata, "none": _none}

__all__ = ["KeyProvider", "sample_drawn", "verify_object"]

"""The verify work unit: re-read what the target holds and compare it with the evidence.

Modes, per object:
- ``full``: read back, authenticate and decrypt every segment, compare the plaintext SHA-256;
- ``header``: the header and the final segment (commitment, key, length, final flag) —
  what ``sample:P%`` checks on every object not drawn for a full check;
- ``metadata``: HEAD only (size, and ETag when one was recorded).

Full and header modes follow the sidecar rule of ``stages.envelopes``: a rotated object
opens through its sidecar, with the new KEK only.
"""

from __future__ import annotations

import hashlib
import io
from typing import BinaryIO

from hdh_migrate.backends.base import Backend
from hdh_migrate.crypto import (
    check_object_size,
    decrypt_range,
    open_object,
    plan_range,
    read_header,
)
from hdh_migrate.crypto.format import MAX_HEADER_LEN
from hdh_migrate.errors import HdhError
from hdh_migrate.integrity.hashing import HashingReader
from hdh_migrate.keys import KeyProvider
from hdh_migrate.stages.clients import PROCESS_CLIENTS, Clients
from hdh_migrate.stages.envelopes import RotatedKeyError, current_envelope, open_plaintext
from hdh_migrate.stages.items import VerifyItem, VerifyResult
from hdh_migrate.stages.meter import metered

CHUNK = 1 << 20


def verify_object(item: VerifyItem, clients: Clients = PROCESS_CLIENTS) -> VerifyResult:
    """Verify one object; a mismatch is a result (ok=False with the reason), not an exception."""
    target = clients.backend(item.target)
    try:
        reason, read = _CHECKS[item.mode](item, target, clients)
    except RotatedKeyError:
        raise  # the plan names a rotated-away key: stop, mark nothing failed
    except HdhError as exc:
        reason, read = exc.one_line(), 0
    return VerifyResult(item.dataset, item.key, item.mode, reason is None, reason, read)


def sample_drawn(object_id: str, percent: float, seed: str) -> bool:
    """Deterministic draw: the same object, percentage and seed always give the same answer."""
    digest = hashlib.sha256(f"{seed}\0{object_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < percent / 100 * 2**64


def _metadata(item: VerifyItem, target: Backend, clients: Clients) -> tuple[str | None, int]:
    info = target.stat(item.target_key)
    if info.size != item.ciphertext_size:
        return f"target holds {info.size} bytes, expected {item.ciphertext_size}", 0
    if item.target_etag and info.etag and info.etag != item.target_etag:
        return "target ETag changed since the copy", 0
    return None, 0


def _full(item: VerifyItem, target: Backend, clients: Clients) -> tuple[str | None, int]:
    size_problem, _ = _metadata(item, target, clients)
    if size_problem:
        return size_problem, 0
    with open_plaintext(target, item.target_key, clients.key(item.kek), item.object_id) as reader:
        plain = HashingReader(metered(reader, item.dataset, "verify"))  # type: ignore[arg-type]
        while plain.read(CHUNK):
            pass
    if plain.bytes_read != item.plaintext_size:
        return f"decrypted {plain.bytes_read} bytes, expected {item.plaintext_size}", 0
    if item.plaintext_sha256 and plain.sha256 != item.plaintext_sha256:
        return "plaintext SHA-256 differs from the one recorded at copy time", 0
    return None, item.ciphertext_size


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


def _read_all(target: Backend, key: str, span: tuple[int, int]) -> bytes:
    with target.open_read(key, range=span) as stream:
        return _drain(stream)


def _drain(stream: BinaryIO) -> bytes:
    return b"".join(iter(lambda: stream.read(CHUNK), b""))


_CHECKS = {"full": _full, "header": _header, "metadata": _metadata}

__all__ = ["KeyProvider", "sample_drawn", "verify_object"]

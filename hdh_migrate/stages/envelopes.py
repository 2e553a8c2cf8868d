"""Sidecar envelopes at the target: where they live, how readers find them, how one object's
data key is rewrapped (the ``keys rotate`` work unit).

Location: ``.hdh-envelopes/<target key>.hdhk`` in the object's own bucket, outside every
dataset prefix (so listings of a dataset never see them); the object key is kept verbatim
(Unicode, spaces), only the prefix and suffix are added.

Reading rule (every reader: verify full/header, restore, ``decrypt s3://``): when a sidecar
exists it is authoritative — the header's own envelope is never tried — so after a
rotation the old KEK is refused with a one-line IntegrityAuthError naming the sidecar. A
sidecar that belongs to another header (its ``ctx`` differs) is refused too. A key that
is not the sidecar's raises ``RotatedKeyError``, a ``WrongKeyError`` that verify and restore
let through (the plan names the old key: one line, exit 7, no object marked failed).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import BinaryIO

from hdh_migrate.backends.base import Backend
from hdh_migrate.crypto import DecryptingReader, Envelope, Header, open_object, read_header
from hdh_migrate.crypto.envelope import MAX_SIDECAR_LEN, parse_sidecar, rewrap
from hdh_migrate.crypto.format import MAX_HEADER_LEN
from hdh_migrate.errors import HdhError, IntegrityAuthError, NotFoundError, WrongKeyError
from hdh_migrate.keys import KeyProvider
from hdh_migrate.stages.clients import PROCESS_CLIENTS, Clients
from hdh_migrate.stages.items import Spec

SIDECAR_PREFIX = ".hdh-envelopes/"
SIDECAR_SUFFIX = ".hdhk"


def sidecar_key(target_key: str) -> str:
    """Where the sidecar envelope of ``target_key`` lives (same bucket)."""
    return f"{SIDECAR_PREFIX}{target_key}{SIDECAR_SUFFIX}"


def is_sidecar(key: str) -> bool:
    """True for keys under the sidecar prefix (listings leave them out)."""
    return key.startswith(SIDECAR_PREFIX)


def load_envelope(target: Backend, target_key: str, header: Header) -> Envelope | None:
    """The sidecar envelope of ``target_key`` (checked against ``header``), or None when the
    object has no sidecar. Raises IntegrityAuthError for a malformed or misplaced sidecar."""
    try:
        with target.open_read(sidecar_key(target_key)) as stream:
            raw = _read_at_most(stream, MAX_SIDECAR_LEN + 1)
    except NotFoundError:
        return None
    try:
        return parse_sidecar(raw, header)
    except IntegrityAuthError as exc:
        raise IntegrityAuthError(f"sidecar {sidecar_key(target_key)}: {exc.message}") from None


def has_sidecars(target: Backend, target_prefix: str) -> bool:
    """Whether any sidecar lives under ``target_prefix`` (one listing request, at most one
    page): only then can a copy overwrite a rotated object and need ``drop_stale_sidecar``.
    Asked of the bucket, not the journal, so a rotation run from another state dir counts."""
    return next(iter(target.list(SIDECAR_PREFIX + target_prefix)), None) is not None


def drop_stale_sidecar(target: Backend, target_key: str) -> None:
    """Remove the sidecar of an object just (re)written: it belonged to the old header."""
    target.delete(sidecar_key(target_key))


class RotatedKeyError(WrongKeyError):
    """A sidecar names another KEK than the one given: the plan (or ``--key``) still names
    the key a rotation moved away from. A configuration error, not a damaged object:
    readers that go over many objects (verify, restore) stop at the first one instead of
    marking every object failed."""


def check_key(
    header: Header, envelope: Envelope | None, provider: KeyProvider, target_key: str
) -> None:
    """Refuse, in one line, a KEK that is not the one the current envelope names: after a
    rotation the sidecar names the new KEK and the old one is refused here
    (RotatedKeyError); a header naming another KEK is a WrongKeyError: both are
    configuration errors that readers over many objects stop at."""
    current = envelope.kek_ref if envelope is not None else header.kek_ref
    if current == provider.ref:
        return
    where = f"sidecar {sidecar_key(target_key)}" if envelope is not None else "its header"
    message = (
        f"object {header.object_id!r}: its data key is wrapped under {current} ({where}), "
        f"not under the key given ({provider.ref})"
    )
    if envelope is not None:
        raise RotatedKeyError(message, hint="after `keys rotate`, name the new key in the plan")
    raise WrongKeyError(message, hint="use the key the object was written with")


def read_target_header(target: Backend, target_key: str) -> Header:
    """The HDH1 header of a target object (one ranged GET of at most 4 KiB)."""
    with target.open_read(target_key, range=(0, MAX_HEADER_LEN - 1)) as stream:
        return read_header(stream)


def _read_at_most(stream: BinaryIO, limit: int) -> bytes:
    """Up to ``limit`` bytes, however the stream splits its reads."""
    data = bytearray()
    while len(data) < limit and (chunk := stream.read(limit - len(data))):
        data += chunk
    return bytes(data)


def current_envelope(
    target: Backend, target_key: str, header: Header, provider: KeyProvider
) -> Envelope | None:
    """The sidecar envelope (None: use the header's) after checking ``provider`` is its KEK."""
    envelope = load_envelope(target, target_key, header)
    check_key(header, envelope, provider, target_key)
    return envelope


@contextmanager
def open_plaintext(
    target: Backend, target_key: str, provider: KeyProvider, object_id: str | None
) -> Iterator[DecryptingReader]:
    """A DecryptingReader of a target object under the reading rule above (one GET of the
    object, one of the sidecar). Raises IntegrityAuthError at entry for key problems."""
    with target.open_read(target_key) as raw:
        header = read_header(raw)
        envelope = current_envelope(target, target_key, header, provider)
        rejoined = _Rejoined(header.raw, raw)
        yield DecryptingReader(rejoined, provider, object_id, envelope=envelope)  # type: ignore[arg-type]


class _Rejoined(io.RawIOBase):
    """The header bytes already read, followed by the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        super().__init__()
        self._head, self._rest = memoryview(head), rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        target = memoryview(buffer).cast("B")
        if self._head:
            count = min(len(target), len(self._head))
            target[:count] = self._head[:count]
            self._head = self._head[count:]
            return count
        readinto = getattr(self._rest, "readinto", None)
        if readinto is not None:
            return int(readinto(target) or 0)
        data = self._rest.read(len(target))
        target[: len(data)] = data
        return len(data)


# ---------------------------------------------------------------- the rotation work unit


@dataclass(frozen=True)
class RewrapItem:
    """One object whose data key moves from KEK ``old`` to KEK ``new``."""

    dataset: str
    key: str
    object_id: str
    target_key: str
    target: Spec
    old: Spec
    new: Spec


@dataclass(frozen=True)
class RewrapResult:
    """``state``: ``rotated`` (sidecar written), ``skipped`` (already opens with the new KEK)
    or ``failed`` (``reason`` says why; nothing was written)."""

    dataset: str
    key: str
    object_id: str
    state: str
    from_ref: str = ""
    to_ref: str = ""
    header_sha256: str = ""
    reason: str | None = None
    from_sidecar: bool = False  # skipped through a sidecar (not a header already under K2)


def rewrap_object(item: RewrapItem, clients: Clients = PROCESS_CLIENTS) -> RewrapResult:
    """Rewrap one object's data key into its sidecar; never raises for a per-object failure."""
    try:
        return _rewrap(item, clients)
    except HdhError as exc:
        return RewrapResult(item.dataset, item.key, item.object_id, "failed", reason=exc.one_line())


def _rewrap(item: RewrapItem, clients: Clients) -> RewrapResult:
    target = clients.backend(item.target)
    header = read_target_header(target, item.target_key)
    if header.object_id != item.object_id:
        raise IntegrityAuthError(
            f"HDH1 header names object {header.object_id!r}, expected {item.object_id!r}"
        )
    sidecar = load_envelope(target, item.target_key, header)
    current = sidecar or Envelope(header.kek_ref, header.wrapped_dek, header.wrap_algorithm)
    old, new = clients.key(item.old), clients.key(item.new)
    result = RewrapResult(
        item.dataset,
        item.key,
        item.object_id,
        "rotated",
        old.ref,
        new.ref,
        hashlib.sha256(header.raw).hexdigest(),
    )
    if current.kek_ref == new.ref:
        open_object(header, new, item.object_id, current)  # it must really open with the new KEK
        return replace(result, state="skipped", from_sidecar=sidecar is not None)
    _check_from(current, old, new)
    blob = rewrap(header, current, old, new)
    target.write(sidecar_key(item.target_key), io.BytesIO(blob), len(blob))
    return result


def _check_from(current: Envelope, old: KeyProvider, new: KeyProvider) -> None:
    if current.kek_ref != old.ref:
        raise IntegrityAuthError(
            f"data key wrapped under {current.kek_ref}, neither --from ({old.ref}) "
            f"nor --to ({new.ref})"
        )

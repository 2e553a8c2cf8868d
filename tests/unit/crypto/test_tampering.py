"""Tampering: every case raises IntegrityAuthError.

What is guaranteed about plaintext (docs/encryption.md, "What a reader may emit"):
* header-level faults (header bytes, wrong KEK, wrong object id, swapped header) fail at
  construction, before any segment is read: nothing is emitted;
* the streaming reader emits only whole segments that precede the faulty one, each after
  its own tag verified;
* ``authenticate_first=True`` and ``authenticate()`` emit nothing at all; the ``decrypt``
  command writes nothing at OUT.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hdh_migrate.crypto import DecryptingReader, Envelope, authenticate, parse_header
from hdh_migrate.errors import IntegrityAuthError
from hdh_migrate.keys import FileKeyProvider

SEG, SEALED = 64, 80
DATA = bytes((i * 13 + 5) % 256 for i in range(300))  # 4 full segments + 44 bytes
N = 5
OID = "ds/obj"

Seal = Callable[..., bytes]


@pytest.fixture
def blob(kek: FileKeyProvider, seal: Seal) -> bytes:
    return seal(kek, DATA, OID)


def _hlen(blob: bytes) -> int:
    return int.from_bytes(blob[8:12], "big")


def _seg(blob: bytes, index: int) -> slice:
    start = _hlen(blob) + index * SEALED
    return slice(start, start + SEALED)


def stream(blob: bytes, kek: FileKeyProvider, oid: str = OID, **kw: object) -> tuple[bytes, bool]:
    """Consume a reader in small reads; returns (emitted plaintext, raised?)."""
    out = bytearray()
    try:
        reader = DecryptingReader(io.BytesIO(blob), kek, oid, **kw)  # type: ignore[arg-type]
        while chunk := reader.read(7):
            out += chunk
    except IntegrityAuthError:
        return bytes(out), True
    return bytes(out), False


def assert_rejected(blob: bytes, kek: FileKeyProvider, good_segments: int, oid: str = OID) -> None:
    """Rejected by every entry point; the stream released at most the good prefix."""
    emitted, raised = stream(blob, kek, oid)
    assert raised
    assert emitted == DATA[: len(emitted)]
    assert len(emitted) <= good_segments * SEG
    emitted, raised = stream(blob, kek, oid, authenticate_first=True)
    assert raised and emitted == b""
    with pytest.raises(IntegrityAuthError):
        authenticate(io.BytesIO(blob), kek, oid)


def test_untampered_passes(blob: bytes, kek: FileKeyProvider) -> None:
    assert stream(blob, kek) == (DATA, False)
    assert stream(blob, kek, authenticate_first=True) == (DATA, False)
    assert authenticate(io.BytesIO(blob), kek, OID).plaintext_length == len(DATA)


@pytest.mark.parametrize("keep", range(N))
def test_truncation_at_segment_boundary(blob: bytes, kek: FileKeyProvider, keep: int) -> None:
    assert_rejected(blob[: _seg(blob, keep).start], kek, keep)


INSIDE = [(k, i) for k in range(N - 1) for i in (1, 30, 63, 64, 70, 79)] + [
    (N - 1, i)
    for i in (1, 30, 43, 44, 50, 59)  # the final segment holds 44 + 16 bytes
]


@pytest.mark.parametrize(("keep", "into"), INSIDE)
def test_truncation_inside_a_segment(
    blob: bytes, kek: FileKeyProvider, keep: int, into: int
) -> None:
    cut = _seg(blob, keep).start + into
    assert cut < len(blob)
    assert_rejected(blob[:cut], kek, keep)


def test_truncation_inside_header(blob: bytes, kek: FileKeyProvider) -> None:
    for cut in range(_hlen(blob)):
        assert stream(blob[:cut], kek) == (b"", True)


def test_dropped_final_segment(blob: bytes, kek: FileKeyProvider) -> None:
    assert_rejected(blob[: _seg(blob, N - 1).start], kek, N - 1)


def test_dropped_final_segment_with_shortened_length_field(
    blob: bytes, kek: FileKeyProvider
) -> None:
    """Rewriting the plaintext length to hide the loss breaks the commitment."""
    forged = bytearray(blob[: _seg(blob, N - 1).start])
    forged[12:20] = (4 * SEG).to_bytes(8, "big")
    assert stream(bytes(forged), kek) == (b"", True)


def test_non_final_segment_cannot_end_the_stream(kek: FileKeyProvider, seal: Seal) -> None:
    """An object whose segment-aligned prefix is presented with a forged shorter length:
    the last remaining segment was sealed as non-final."""
    data = DATA[: 4 * SEG]
    full = seal(kek, data, OID)
    assert stream(full, kek) == (data, False)
    assert_rejected(full[: _seg(full, 3).start], kek, 3)


@pytest.mark.parametrize(("a", "b"), [(0, 1), (1, 2), (2, 3), (3, 4)])
def test_reordered_segments(blob: bytes, kek: FileKeyProvider, a: int, b: int) -> None:
    forged = bytearray(blob)
    sa, sb = _seg(blob, a), _seg(blob, b)
    if b == N - 1:  # the final segment is shorter: move the first full one to the end
        forged = bytearray(blob[: sa.start] + blob[sa.stop :] + blob[sa])
    else:
        forged[sa], forged[sb] = blob[sb], blob[sa]
    assert_rejected(bytes(forged), kek, a)


def test_duplicated_segment(blob: bytes, kek: FileKeyProvider) -> None:
    forged = bytearray(blob)
    forged[_seg(blob, 2)] = blob[_seg(blob, 1)]
    assert_rejected(bytes(forged), kek, 2)


def test_extra_trailing_bytes(blob: bytes, kek: FileKeyProvider) -> None:
    assert_rejected(blob + b"\x00", kek, N - 1)
    assert_rejected(blob + blob[_seg(blob, 0)], kek, N - 1)


def test_header_swapped_between_objects(kek: FileKeyProvider, seal: Seal) -> None:
    other_data = os.urandom(len(DATA))
    a, b = seal(kek, DATA, "ds/a"), seal(kek, other_data, "ds/b")
    ha, hb = _hlen(a), _hlen(b)
    b_header_on_a_body = b[:hb] + a[ha:]
    assert stream(b_header_on_a_body, kek, "ds/a") == (b"", True)  # id mismatch
    assert_rejected(b_header_on_a_body, kek, 0, oid="ds/b")  # segment 0 fails


def test_same_id_swapped_header(kek: FileKeyProvider, seal: Seal) -> None:
    """Two encryptions of the same object id (e.g. a redo): headers are not interchangeable."""
    a, b = seal(kek, DATA, OID), seal(kek, DATA, OID)
    assert_rejected(b[: _hlen(b)] + a[_hlen(a) :], kek, 0)


def test_every_header_bit_position_is_covered(blob: bytes, kek: FileKeyProvider) -> None:
    for pos in range(_hlen(blob)):
        for bit in (0x01, 0x80):
            forged = bytearray(blob)
            forged[pos] ^= bit
            assert stream(bytes(forged), kek) == (b"", True), f"header byte {pos} bit {bit}"


@pytest.mark.parametrize("index", range(N))
@pytest.mark.parametrize("where", ["body", "tag"])
def test_bit_flip_in_segment(blob: bytes, kek: FileKeyProvider, index: int, where: str) -> None:
    seg = _seg(blob, index)
    end = min(seg.stop, len(blob))
    pos = seg.start + 3 if where == "body" else end - 5
    forged = bytearray(blob)
    forged[pos] ^= 0x10
    assert_rejected(bytes(forged), kek, index)


@settings(max_examples=60, deadline=None)
@given(pos=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_any_single_bit_flip_is_rejected(pos: int, bit: int) -> None:
    kek = FileKeyProvider.from_bytes(bytes(32))
    from hdh_migrate.crypto import Encryptor

    enc = Encryptor(kek, OID, len(DATA), SEG)
    blob = bytearray(b"".join(enc.encrypt_stream(io.BytesIO(DATA))))
    blob[pos % len(blob)] ^= 1 << bit
    emitted, raised = stream(bytes(blob), kek)
    assert raised and emitted == DATA[: len(emitted)]


def test_wrong_kek(blob: bytes, kek: FileKeyProvider) -> None:
    other = FileKeyProvider.from_bytes(os.urandom(32))
    with pytest.raises(IntegrityAuthError) as info:
        DecryptingReader(io.BytesIO(blob), other, OID)
    assert kek.ref in info.value.one_line()  # the hint names the KEK the object needs
    assert stream(blob, other) == (b"", True)


def test_wrong_expected_object_id(blob: bytes, kek: FileKeyProvider) -> None:
    with pytest.raises(IntegrityAuthError, match="expected 'ds/other'"):
        DecryptingReader(io.BytesIO(blob), kek, "ds/other")


def test_forged_envelope_under_the_right_kek(blob: bytes, kek: FileKeyProvider) -> None:
    """A DEK of the attacker's choosing, properly wrapped: the commitment rejects it."""
    header = parse_header(blob[: _hlen(blob)])
    forged = Envelope(kek.ref, kek.wrap(os.urandom(32)))
    with pytest.raises(IntegrityAuthError, match="commitment"):
        DecryptingReader(io.BytesIO(blob), kek, OID, envelope=forged)
    good = Envelope(kek.ref, header.wrapped_dek)
    assert DecryptingReader(io.BytesIO(blob), kek, OID, envelope=good).read() == DATA


def test_rewrapped_sidecar_envelope_opens_the_same_object(
    blob: bytes, kek: FileKeyProvider
) -> None:
    """Rotation: the DEK rewrapped under a new KEK opens the unchanged object."""
    header = parse_header(blob[: _hlen(blob)])
    new = FileKeyProvider.from_bytes(os.urandom(32))
    sidecar = Envelope(new.ref, new.wrap(kek.unwrap(header.wrapped_dek)))
    assert DecryptingReader(io.BytesIO(blob), new, OID, envelope=sidecar).read() == DATA
    with pytest.raises(IntegrityAuthError):
        DecryptingReader(io.BytesIO(blob), new, OID)  # the header's own envelope: old KEK


def test_authenticate_first_needs_a_seekable_source(blob: bytes, kek: FileKeyProvider) -> None:
    class OneWay(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._io = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
            return self._io.readinto(b)

    with pytest.raises(ValueError, match="seekable"):
        DecryptingReader(OneWay(blob), kek, OID, authenticate_first=True)  # type: ignore[arg-type]


def test_object_size_check(blob: bytes, kek: FileKeyProvider) -> None:
    from hdh_migrate.crypto import check_object_size, read_header

    header = read_header(io.BytesIO(blob))
    check_object_size(header, len(blob))
    for wrong in (len(blob) - 1, len(blob) + 1, len(blob) - 16):
        with pytest.raises(IntegrityAuthError, match="truncated or extended"):
            check_object_size(header, wrong)

"""Sidecar envelopes (rotation without touching object bodies)."""

from __future__ import annotations

import io
import os
from collections.abc import Callable

import pytest

from hdh_migrate.crypto import DecryptingReader, Envelope, read_header
from hdh_migrate.crypto.envelope import encode_sidecar, parse_sidecar, rewrap
from hdh_migrate.errors import IntegrityAuthError
from hdh_migrate.keys import FileKeyProvider

Seal = Callable[..., bytes]


def _header_envelope(blob: bytes) -> tuple[object, Envelope]:
    header = read_header(io.BytesIO(blob))
    return header, Envelope(header.kek_ref, header.wrapped_dek)


def test_rotation_chain(kek: FileKeyProvider, seal: Seal) -> None:
    data = os.urandom(300)
    blob = seal(kek, data, "ds/r")
    header = read_header(io.BytesIO(blob))
    k2, k3 = (FileKeyProvider.from_bytes(os.urandom(32)) for _ in range(2))
    side2 = parse_sidecar(rewrap(header, Envelope(kek.ref, header.wrapped_dek), kek, k2), header)
    assert side2.kek_ref == k2.ref
    side3 = parse_sidecar(rewrap(header, side2, k2, k3), header)
    reader = DecryptingReader(io.BytesIO(blob), k3, "ds/r", envelope=side3)
    assert reader.read() == data
    for old in (kek, k2):
        with pytest.raises(IntegrityAuthError):
            DecryptingReader(io.BytesIO(blob), old, "ds/r", envelope=side3)


def test_rewrap_refuses_a_wrong_current_envelope(kek: FileKeyProvider, seal: Seal) -> None:
    header = read_header(io.BytesIO(seal(kek, b"x", "ds/r")))
    forged = Envelope(kek.ref, kek.wrap(os.urandom(32)))
    with pytest.raises(IntegrityAuthError, match="commitment"):
        rewrap(header, forged, kek, FileKeyProvider.from_bytes(os.urandom(32)))


def test_sidecar_bound_to_its_header(kek: FileKeyProvider, seal: Seal) -> None:
    a = read_header(io.BytesIO(seal(kek, b"a", "ds/a")))
    b = read_header(io.BytesIO(seal(kek, b"b", "ds/b")))
    raw = encode_sidecar(a, Envelope(kek.ref, a.wrapped_dek))
    assert parse_sidecar(raw, a).wrapped_dek == a.wrapped_dek
    with pytest.raises(IntegrityAuthError, match="another header"):
        parse_sidecar(raw, b)


def test_sidecar_parsing_is_strict(kek: FileKeyProvider, seal: Seal) -> None:
    header = read_header(io.BytesIO(seal(kek, b"a", "ds/a")))
    raw = encode_sidecar(header, Envelope(kek.ref, header.wrapped_dek))
    for bad in (raw[:-1], raw + b"\0", b"XDHK" + raw[4:], raw[:4] + b"\x02" + raw[5:], b""):
        with pytest.raises(IntegrityAuthError):
            parse_sidecar(bad, header)

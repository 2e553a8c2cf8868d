"""``Encryptor.resume``: the encryptor of a journaled header produces exactly the bytes the
first one did (what lets a multipart upload reuse the parts already sent), and refuses a
header that describes another object or was made under another key."""

from __future__ import annotations

import io
import os

import pytest

from hdh_migrate.crypto import Encryptor
from hdh_migrate.errors import IntegrityAuthError, PermanentError
from hdh_migrate.keys import FileKeyProvider
from tests.unit.crypto.conftest import SEG


def sealed(enc: Encryptor, data: bytes) -> bytes:
    return b"".join(enc.encrypt_stream(io.BytesIO(data)))


def test_a_resumed_encryptor_produces_the_same_ciphertext(kek: FileKeyProvider) -> None:
    data = os.urandom(10 * SEG + 5)
    first = Encryptor(kek, "ds/obj", len(data), SEG)
    again = Encryptor.resume(kek, first.header, "ds/obj", len(data), SEG)
    assert again.header == first.header
    assert sealed(again, data) == sealed(first, data)
    assert sealed(Encryptor(kek, "ds/obj", len(data), SEG), data) != sealed(first, data)


@pytest.mark.parametrize(
    ("object_id", "length", "segment"),
    [("ds/other", 100, SEG), ("ds/obj", 101, SEG), ("ds/obj", 100, 2 * SEG)],
)
def test_a_header_of_another_object_is_refused(
    kek: FileKeyProvider, object_id: str, length: int, segment: int
) -> None:
    header = Encryptor(kek, "ds/obj", 100, SEG).header
    with pytest.raises(PermanentError, match="another object"):
        Encryptor.resume(kek, header, object_id, length, segment)


def test_a_header_under_another_key_is_refused(kek: FileKeyProvider) -> None:
    header = Encryptor(kek, "ds/obj", 100, SEG).header
    with pytest.raises(IntegrityAuthError):
        Encryptor.resume(FileKeyProvider.from_bytes(os.urandom(32)), header, "ds/obj", 100, SEG)

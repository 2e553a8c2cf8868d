"""HashingReader (hdh_migrate.integrity.hashing): digests of what passed through."""

from __future__ import annotations

import hashlib
import io

from hdh_migrate.crypto import Encryptor
from hdh_migrate.integrity.hashing import HashingReader
from hdh_migrate.keys import FileKeyProvider


def test_digests_match_hashlib() -> None:
    data = bytes(range(256)) * 40
    reader = HashingReader(io.BytesIO(data), ("sha256", "md5"))
    out = bytearray()
    while chunk := reader.read(1000):
        out += chunk
    assert bytes(out) == data and reader.bytes_read == len(data)
    assert reader.sha256 == hashlib.sha256(data).hexdigest()
    assert reader.digests()["md5"] == hashlib.md5(data).hexdigest()


def test_plaintext_and_ciphertext_digests_in_one_pass() -> None:
    data = bytes(5000)
    kek = FileKeyProvider.from_bytes(bytes(32))
    enc = Encryptor(kek, "ds/h", len(data), 1024)
    plain = HashingReader(io.BytesIO(data))
    cipher = HashingReader(enc.reader(plain))  # type: ignore[arg-type]
    blob = cipher.read()
    assert plain.sha256 == hashlib.sha256(data).hexdigest()
    assert cipher.sha256 == hashlib.sha256(blob).hexdigest()
    assert len(blob) == enc.ciphertext_length

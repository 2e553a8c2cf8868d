"""The committed vectors (tests/vectors/hdh1.json) against the library and against an
independent from-scratch implementation of docs/hdh1-format.md written here."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from hdh_migrate.crypto import DecryptingReader, Encryptor
from hdh_migrate.crypto import vectors as gen
from hdh_migrate.keys import FileKeyProvider

VECTORS_PATH = Path(__file__).parents[2] / "vectors" / "hdh1.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
CASES = VECTORS["cases"]


def _ids(case: dict[str, Any]) -> str:
    return str(case["name"])


def _hkdf_expand(prk: bytes, info: bytes) -> bytes:
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()  # one block: 32 bytes


def independent_encrypt(case: dict[str, Any]) -> tuple[bytes, bytes]:
    """Spec-only reimplementation: returns (header, whole object)."""
    kek, dek, salt = (bytes.fromhex(VECTORS[k]) for k in ("kek", "dek", "salt"))
    log2, length = case["log2_segment_size"], case["plaintext_length"]
    oid, ref = case["object_id"].encode(), case["kek_ref"].encode()
    wrapped = aes_key_wrap(kek, dek)
    hlen = 20 + 32 + 2 + len(oid) + 2 + len(ref) + 32 + 3 + len(wrapped)
    core = b"HDH1\x01\x01" + bytes([log2, 0]) + struct.pack(">IQ", hlen, length) + salt
    core += struct.pack(">H", len(oid)) + oid + struct.pack(">H", len(ref)) + ref
    ctx = hashlib.sha256(core).digest()
    prk = hmac.new(salt, dek, hashlib.sha256).digest()
    header = core + _hkdf_expand(prk, b"hdh/v1/commit" + ctx)
    header += b"\x01" + struct.pack(">H", len(wrapped)) + wrapped
    size = 1 << log2
    count = max(1, -(-length // size))
    data = gen.plaintext(length)
    out = [header]
    keys: dict[int, AESGCM] = {}
    for i in range(count):
        epoch = i >> 18
        if epoch not in keys:
            keys[epoch] = AESGCM(
                _hkdf_expand(prk, b"hdh/v1/payload" + ctx + struct.pack(">I", epoch))
            )
        nonce = i.to_bytes(11, "big") + (b"\x01" if i == count - 1 else b"\x00")
        out.append(keys[epoch].encrypt(nonce, data[i * size : (i + 1) * size], ctx))
    return header, b"".join(out)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_independent_implementation_matches_vectors(case: dict[str, Any]) -> None:
    header, body = independent_encrypt(case)
    assert header.hex() == case["header"]
    assert len(body) == case["ciphertext_length"]
    assert hashlib.sha256(body).hexdigest() == case["ciphertext_sha256"]
    if "ciphertext" in case:
        assert body.hex() == case["ciphertext"]


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_library_encrypts_to_the_vectors(case: dict[str, Any]) -> None:
    provider = FileKeyProvider.from_bytes(bytes.fromhex(VECTORS["kek"]))
    enc = Encryptor(
        provider,
        case["object_id"],
        case["plaintext_length"],
        1 << case["log2_segment_size"],
        dek=bytes.fromhex(VECTORS["dek"]),
        salt=bytes.fromhex(VECTORS["salt"]),
    )
    body = b"".join(enc.encrypt_stream(io.BytesIO(gen.plaintext(case["plaintext_length"]))))
    assert enc.header.hex() == case["header"]
    assert hashlib.sha256(body).hexdigest() == case["ciphertext_sha256"]
    sealed = (1 << case["log2_segment_size"]) + 16
    for index, hexdata in case["segments"].items():
        start = len(enc.header) + int(index) * sealed
        assert body[start : start + sealed].hex() == hexdata


@pytest.mark.parametrize("case", [c for c in CASES if "ciphertext" in c], ids=_ids)
def test_library_decrypts_the_vectors(case: dict[str, Any]) -> None:
    provider = FileKeyProvider.from_bytes(bytes.fromhex(VECTORS["kek"]))
    reader = DecryptingReader(
        io.BytesIO(bytes.fromhex(case["ciphertext"])), provider, case["object_id"]
    )
    assert reader.read() == bytes.fromhex(case["plaintext"])


def test_committed_file_is_what_the_generator_produces() -> None:
    """Fails (never rewrites) when the generator and the committed vectors disagree."""
    assert gen.render(gen.build()) == VECTORS_PATH.read_text(encoding="utf-8")


def test_library_decrypts_across_the_epoch_boundary() -> None:
    """2^18 + 1 segments: segment 2^18 is under the epoch-1 payload key."""
    case = next(c for c in CASES if c["name"] == "epoch-boundary")
    provider = FileKeyProvider.from_bytes(bytes.fromhex(VECTORS["kek"]))
    _, body = independent_encrypt(case)
    reader = DecryptingReader(io.BytesIO(body), provider, case["object_id"])
    digest = hashlib.sha256()
    while chunk := reader.read(1 << 20):
        digest.update(chunk)
    assert digest.hexdigest() == case["plaintext_sha256"]


def test_generator_check_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gen.main(["--check", str(VECTORS_PATH)]) == 0
    altered = tmp_path / "hdh1.json"
    altered.write_text(VECTORS_PATH.read_text(encoding="utf-8").replace("ds/one", "ds/One"))
    assert gen.main(["--check", str(altered)]) == 1
    assert "DIFFER" in capsys.readouterr().out

"""HDH1 test vectors: fixed KEK, DEK, salt and plaintexts → exact header and ciphertext.

``python -m hdh_migrate.crypto.vectors --check tests/vectors/hdh1.json`` recomputes and
compares; ``--write PATH`` regenerates (only when the format deliberately changes).
Large cases store the SHA-256 of the ciphertext plus chosen segments in hex.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap

from hdh_migrate.crypto import keyschedule as ks
from hdh_migrate.crypto.encrypt import Encryptor
from hdh_migrate.crypto.format import TAG_LEN

KEK = bytes(range(0x00, 0x20))
DEK = bytes(range(0x20, 0x40))
SALT = bytes(range(0x40, 0x60))
INLINE_LIMIT = 4096

#: (name, object id, log2 segment size, plaintext length, segments to show for large cases)
CASES: tuple[tuple[str, str, int, int, tuple[int, ...]], ...] = (
    ("empty", "ds/empty", 6, 0, ()),
    ("one-byte", "ds/one", 6, 1, ()),
    ("one-full-segment", "ds/full", 6, 64, ()),
    ("segment-plus-one", "ds/plus-one", 6, 65, ()),
    ("four-segments-utf8-id", "données/patient é.csv", 6, 200, ()),
    ("default-1MiB-small", "ds/default", 20, 100, ()),
    ("epoch-boundary", "ds/epoch", 6, (1 << 18) * 64 + 10, (0, (1 << 18) - 1, 1 << 18)),
)


class StaticKek:
    """The vectors' KEK, as the ``file`` provider would present it (crypto may not import
    ``hdh_migrate.keys``): ref ``file:kcv=`` + first 6 bytes of AES-ECB(KEK, 0^16)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - KCV only
        self.ref = "file:kcv=" + ecb.update(bytes(16))[:6].hex()

    def wrap(self, dek: bytes) -> bytes:
        return aes_key_wrap(self._key, dek)

    def unwrap(self, blob: bytes) -> bytes:
        return aes_key_unwrap(self._key, blob)


def plaintext(length: int) -> bytes:
    """The deterministic plaintext of a case: byte i is (i * 7 + 3) mod 251."""
    pattern = bytes((i * 7 + 3) % 251 for i in range(251 * 7))[:251]
    reps = -(-length // 251)
    return (pattern * reps)[:length]


def build_case(
    name: str, object_id: str, log2: int, length: int, show: tuple[int, ...]
) -> dict[str, Any]:
    provider = StaticKek(KEK)
    data = plaintext(length)
    enc = Encryptor(provider, object_id, length, 1 << log2, dek=DEK, salt=SALT)
    body = b"".join(enc.encrypt_stream(io.BytesIO(data)))
    header = enc.cipher.header
    prk = ks.extract(SALT, DEK)
    case: dict[str, Any] = {
        "name": name,
        "object_id": object_id,
        "log2_segment_size": log2,
        "plaintext_length": length,
        "plaintext_sha256": hashlib.sha256(data).hexdigest(),
        "kek_ref": provider.ref,
        "wrapped_dek": header.wrapped_dek.hex(),
        "ctx": header.ctx.hex(),
        "prk": prk.hex(),
        "commitment": header.commitment.hex(),
        "payload_key_epoch0": ks.payload_key(prk, header.ctx, 0).hex(),
        "header": header.raw.hex(),
        "ciphertext_length": len(body),
        "ciphertext_sha256": hashlib.sha256(body).hexdigest(),
    }
    if length <= INLINE_LIMIT:
        case["plaintext"] = data.hex()
        case["ciphertext"] = body.hex()
    sealed = (1 << log2) + TAG_LEN
    start = len(header.raw)
    case["segments"] = {
        str(i): body[start + i * sealed : start + (i + 1) * sealed].hex() for i in show
    }
    return case


def build() -> dict[str, Any]:
    return {
        "format": "HDH1",
        "description": "see docs/hdh1-format.md; plaintext byte i = (i*7+3) mod 251",
        "kek": KEK.hex(),
        "dek": DEK.hex(),
        "salt": SALT.hex(),
        "cases": [build_case(*case) for case in CASES],
    }


def render(vectors: dict[str, Any]) -> str:
    return json.dumps(vectors, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path)
    group.add_argument("--check", type=Path)
    args = parser.parse_args(argv)
    text = render(build())
    if args.write:
        args.write.write_text(text, encoding="utf-8")
        return 0
    same = args.check.read_text(encoding="utf-8") == text
    sys.stdout.write("vectors match\n" if same else "vectors DIFFER\n")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())

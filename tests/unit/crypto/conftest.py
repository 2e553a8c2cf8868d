from __future__ import annotations

import io
import os
from collections.abc import Callable

import pytest

from hdh_migrate.crypto import Encryptor
from hdh_migrate.keys import FileKeyProvider

SEG = 64  # small segments keep the tests fast; the format allows 2^6 and up


@pytest.fixture
def kek() -> FileKeyProvider:
    return FileKeyProvider.from_bytes(os.urandom(32))


Seal = Callable[..., bytes]


def _seal(
    provider: FileKeyProvider, data: bytes, object_id: str = "ds/obj", seg: int = SEG
) -> bytes:
    """The whole HDH1 object for ``data``."""
    enc = Encryptor(provider, object_id, len(data), seg)
    return b"".join(enc.encrypt_stream(io.BytesIO(data)))


@pytest.fixture
def seal() -> Seal:
    return _seal

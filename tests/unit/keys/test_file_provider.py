"""The ``file`` key provider: permissions, formats, RFC 3394 interop, errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap

from hdh_migrate.errors import AuthError, IntegrityAuthError, UsageError
from hdh_migrate.keys import FileKeyProvider, generate_key_file, key_check_value, open_key_provider


def _write(path: Path, data: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path


def test_generate_key_file_is_private_and_exclusive(tmp_path: Path) -> None:
    path = tmp_path / "kek"
    ref = generate_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_bytes()) == 32
    assert ref == FileKeyProvider(path).ref
    with pytest.raises(UsageError, match="exists"):
        generate_key_file(path)


def test_kcv_is_aes_ecb_of_zeros() -> None:
    key = os.urandom(32)
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    assert key_check_value(key) == enc.update(bytes(16))[:6].hex()


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o601])
def test_refuses_group_or_other_access(tmp_path: Path, mode: int) -> None:
    path = _write(tmp_path / "kek", os.urandom(32), mode)
    with pytest.raises(AuthError) as info:
        FileKeyProvider(path)
    assert f"chmod 600 {path}" in info.value.one_line()
    assert "\n" not in info.value.one_line()


def test_accepts_raw_and_hex(tmp_path: Path) -> None:
    key = os.urandom(32)
    raw = FileKeyProvider(_write(tmp_path / "raw", key, 0o400))
    hexed = FileKeyProvider(_write(tmp_path / "hex", key.hex().encode() + b"\n"))
    assert raw.ref == hexed.ref == f"file:kcv={key_check_value(key)}"


@pytest.mark.parametrize("data", [b"", b"x" * 31, b"x" * 33, b"z" * 64, b"ab" * 33])
def test_wrong_length_or_format(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(AuthError, match="not a 32-byte"):
        FileKeyProvider(_write(tmp_path / "kek", data))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match="does not exist"):
        FileKeyProvider(tmp_path / "nope")


def test_wrap_is_rfc3394_and_round_trips(tmp_path: Path) -> None:
    key, dek = os.urandom(32), os.urandom(32)
    provider = FileKeyProvider(_write(tmp_path / "kek", key))
    blob = provider.wrap(dek)
    assert len(blob) == 40
    assert aes_key_unwrap(key, blob) == dek
    assert provider.unwrap(blob) == dek


def test_unwrap_with_wrong_key_is_an_integrity_error() -> None:
    blob = FileKeyProvider.from_bytes(os.urandom(32)).wrap(os.urandom(32))
    with pytest.raises(IntegrityAuthError):
        FileKeyProvider.from_bytes(os.urandom(32)).unwrap(blob)
    with pytest.raises(IntegrityAuthError):
        FileKeyProvider.from_bytes(os.urandom(32)).unwrap(b"short")


def test_no_key_material_in_repr_or_describe(tmp_path: Path) -> None:
    key = os.urandom(32)
    provider = FileKeyProvider(_write(tmp_path / "kek", key))
    shown = repr(provider) + repr(provider.describe())
    assert key.hex() not in shown and repr(key) not in shown
    assert provider.describe() == {
        "provider": "file",
        "reference": provider.ref,
        "path": str(tmp_path / "kek"),
    }


def test_factory(tmp_path: Path) -> None:
    path = _write(tmp_path / "kek", os.urandom(32))
    assert open_key_provider("file", {"path": str(path)}).ref == FileKeyProvider(path).ref
    with pytest.raises(UsageError, match="unknown key provider"):
        open_key_provider("kms", {})
    with pytest.raises(UsageError, match="needs 'path'"):
        open_key_provider("file", {})


def test_factory_key_from_secret_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    import base64

    key = os.urandom(32)
    monkeypatch.setenv("HDH_TEST_KEK", base64.b64encode(key).decode())
    provider = open_key_provider("file", {"ref": "${env:HDH_TEST_KEK}"})
    assert provider.ref == f"file:kcv={key_check_value(key)}"
    assert "HDH_TEST_KEK" in repr(provider.describe()) and key.hex() not in repr(provider)
    monkeypatch.setenv("HDH_TEST_KEK", "bm90IGEga2V5")
    with pytest.raises(AuthError, match="not a 32-byte key"):
        open_key_provider("file", {"ref": "${env:HDH_TEST_KEK}"})


def test_factory_create_and_path_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "new.key"
    monkeypatch.setenv("HDH_TEST_KEY_PATH", str(path))
    first = open_key_provider("file", {"path": "${env:HDH_TEST_KEY_PATH}", "create": True})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = open_key_provider("file", {"path": str(path), "create": True})
    assert first.ref == again.ref  # never overwritten

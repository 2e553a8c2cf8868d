"""SftpBackend without a server: config, names, keys, ordering, connection refused."""

from __future__ import annotations

import time
import types
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from hdh_migrate.backends import sftp_layout
from hdh_migrate.backends.sftp import SftpBackend
from hdh_migrate.backends.sftp_layout import etag_of, is_reserved, parse_sidecar
from hdh_migrate.errors import AuthError, PermanentError, UnreachableError, UsageError
from hdh_migrate.remote.spec import SshSettings
from hdh_migrate.remote.ssh import load_key
from tests.support.net import free_port

PASSWORD = "pa55-word-never-shown"


def key_text(passphrase: bytes | None = None) -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    encryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    raw = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption
    )
    return raw.decode()


def config(tmp_path: Path, **extra: object) -> dict[str, object]:
    known = tmp_path / "known_hosts"
    known.write_text("")
    base = {
        "host": "127.0.0.1",
        "port": free_port(),
        "user": "u",
        "password": PASSWORD,
        "known_hosts": str(known),
        "root": "/data/in",
        "connect_timeout": 3,
    }
    return {**base, **extra}


@pytest.mark.parametrize("missing", ["host", "user", "known_hosts", "root"])
def test_required_settings(tmp_path: Path, missing: str) -> None:
    settings = config(tmp_path)
    del settings[missing]
    with pytest.raises(UsageError, match=missing):
        SftpBackend.from_config(settings)


def test_key_or_password_is_required(tmp_path: Path) -> None:
    settings = config(tmp_path)
    del settings["password"]
    with pytest.raises(UsageError, match="key or password"):
        SftpBackend.from_config(settings)


def test_name_shows_user_host_port_root_and_no_secret(tmp_path: Path) -> None:
    settings = config(tmp_path, root="/data/in/")
    backend = SftpBackend.from_config(settings)
    assert backend.name == f"sftp://u@127.0.0.1:{settings['port']}/data/in"
    assert PASSWORD not in repr(backend) and PASSWORD not in repr(vars(backend))


def test_connection_refused_is_unreachable_and_quick(tmp_path: Path) -> None:
    backend = SftpBackend.from_config(config(tmp_path))
    started = time.monotonic()
    with pytest.raises(UnreachableError) as info:
        backend.stat("k")
    assert time.monotonic() - started < 5
    assert PASSWORD not in info.value.one_line()
    with pytest.raises(UnreachableError):
        list(backend.list())


def test_connection_refused_after_a_success_is_retryable(tmp_path: Path) -> None:
    from hdh_migrate.errors import RetryableError

    backend = SftpBackend.from_config(config(tmp_path))
    backend._reached = True
    with pytest.raises(RetryableError):
        backend.stat("k")


def test_missing_known_hosts_file_is_a_usage_error(tmp_path: Path) -> None:
    backend = SftpBackend.from_config(config(tmp_path, known_hosts=str(tmp_path / "nope")))
    with pytest.raises(UsageError, match="known_hosts"):
        backend.stat("k")


@pytest.mark.parametrize(
    "key", ["", "/abs", "a//b", "a/../b", "./a", "a/", "x/.f.hdhmeta.json", ".f.hdhtmp-123"]
)
def test_invalid_keys_are_refused(tmp_path: Path, key: str) -> None:
    backend = SftpBackend.from_config(config(tmp_path))
    with pytest.raises(PermanentError):
        backend._path(key)


def test_valid_keys_map_under_the_root(tmp_path: Path) -> None:
    backend = SftpBackend.from_config(config(tmp_path))
    assert backend._path("é/a b%+#.txt") == "/data/in/é/a b%+#.txt"
    assert backend._path(".hidden") == "/data/in/.hidden"


def test_reserved_names() -> None:
    assert is_reserved(".a.hdhmeta.json") and is_reserved(".a.hdhtmp-0123")
    assert not is_reserved("a.hdhmeta.json") and not is_reserved(".profile")


def test_etag_is_mtime_and_size() -> None:
    attrs = types.SimpleNamespace(st_mtime=1_700_000_000, st_size=255)
    assert etag_of(attrs) == '"6553f100-ff"'  # type: ignore[arg-type]


def test_directories_sort_as_name_slash() -> None:
    def entry(name: str, is_dir: bool) -> types.SimpleNamespace:
        return types.SimpleNamespace(filename=name, st_mode=(0o040755 if is_dir else 0o100644))

    entries = [entry("a0", False), entry("a", True), entry("a-b", False), entry("a.", False)]
    ordered = [e.filename for e in sorted(entries, key=sftp_layout.sort_name)]  # type: ignore[arg-type]
    assert ordered == ["a-b", "a.", "a", "a0"]  # "a/" sits between "a." and "a0"


def test_may_hold() -> None:
    assert sftp_layout.may_hold("a/", "a/b/c")
    assert sftp_layout.may_hold("a/b/", "a/")
    assert sftp_layout.may_hold("a/", "")
    assert not sftp_layout.may_hold("b/", "a/")


def test_private_key_from_text_and_from_path(tmp_path: Path) -> None:
    text = key_text()
    settings = SshSettings(config(tmp_path, key=text))
    assert load_key(settings).get_name() == "ssh-ed25519"
    path = tmp_path / "id"
    path.write_text(text)
    shared = SshSettings(config(tmp_path, key=f"${{file:{path}}}"))
    with pytest.raises(AuthError, match="group or others"):
        load_key(shared)  # key material readable by others is refused
    path.chmod(0o600)
    settings = SshSettings(config(tmp_path, key=f"${{file:{path}}}"))
    assert load_key(settings).get_name() == "ssh-ed25519"
    settings = SshSettings(config(tmp_path, key=str(path)))
    assert load_key(settings).get_name() == "ssh-ed25519"


def test_encrypted_private_key_needs_its_passphrase(tmp_path: Path) -> None:
    text = key_text(b"s3cret-phrase")
    good = SshSettings(config(tmp_path, key=text, key_passphrase="s3cret-phrase"))
    assert load_key(good).get_name() == "ssh-ed25519"
    bad = SshSettings(config(tmp_path, key=text, key_passphrase="wrong"))
    with pytest.raises(AuthError) as info:
        load_key(bad)
    assert "s3cret" not in info.value.one_line()


def test_garbage_key_is_an_auth_error(tmp_path: Path) -> None:
    bogus = "-----BEGIN OPENSSH PRIVATE KEY-----\nnope\n-----END OPENSSH PRIVATE KEY-----\n"
    with pytest.raises(AuthError, match="private key"):
        load_key(SshSettings(config(tmp_path, key=bogus)))
    with pytest.raises(AuthError, match="private key file"):
        load_key(SshSettings(config(tmp_path, key=str(tmp_path / "missing"))))


def test_sidecar_belongs_to_one_file_version() -> None:
    from hdh_migrate.backends.base import WriteOptions

    doc = sftp_layout.sidecar(WriteOptions(metadata={"a": "é"}, content={"x": "dropped"}), '"1-2"')
    raw = sftp_layout.encode_sidecar(doc)
    assert parse_sidecar(raw, '"1-2"') == {
        "v": 1,
        "etag": '"1-2"',
        "content": {},
        "metadata": {"a": "é"},
    }
    assert parse_sidecar(raw, '"1-3"') is None
    assert parse_sidecar(b"not json", '"1-2"') is None
    assert parse_sidecar(b"[1]", '"1-2"') is None


def test_temporary_and_sidecar_names_are_reserved() -> None:
    assert is_reserved(sftp_layout.temp_path("/r/d/f.bin", "abc").rsplit("/", 1)[1])
    assert is_reserved(sftp_layout.sidecar_path("/r/d/f.bin").rsplit("/", 1)[1])
    assert sftp_layout.sidecar_path("/r/d/f.bin") == "/r/d/.f.bin.hdhmeta.json"

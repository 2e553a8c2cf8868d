"""SftpBackend against the devstack sshd: host keys, sidecars, temporary files, snapshot
reads, channels shared by threads, reconnects. The contract cases run from tests/contract/
("sftp-sshd"). The tests look at the server's directory directly (same machine)."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from hdh_migrate.backends.base import WriteOptions
from hdh_migrate.backends.sftp import SftpBackend
from hdh_migrate.errors import AuthError, PermanentError

pytestmark = pytest.mark.stack


def settings(stack: Any, root: str, **extra: object) -> dict[str, object]:
    base = {
        "host": stack.sftp_host,
        "port": stack.sftp_port,
        "user": stack.sftp_user,
        "key": f"${{file:{stack.sftp_key_path}}}",
        "known_hosts": str(stack.sftp_known_hosts),
        "root": root,
        "read_window": 64 * 1024,
        "connect_timeout": 5,
    }
    return {**base, **extra}


@pytest.fixture
def root(stack: Any) -> Path:
    return Path(stack.sftp_root) / f"hdh-it-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def sf(stack: Any, root: Path) -> Iterator[SftpBackend]:
    backend = SftpBackend.from_config(settings(stack, str(root)))
    backend.ensure_root()
    yield backend
    backend.remove_root()
    backend.close()


def put(backend: SftpBackend, key: str, data: bytes, **options: Any) -> None:
    backend.write(key, io.BytesIO(data), len(data), WriteOptions(**options))


def server_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# -- host keys and credentials -----------------------------------------------------------------


def test_unknown_host_is_refused_naming_host_and_file(stack: Any, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    backend = SftpBackend.from_config(settings(stack, "/tmp", known_hosts=str(known)))
    with pytest.raises(AuthError) as info:
        list(backend.list())
    line = info.value.one_line()
    assert "127.0.0.1" in line and str(known) in line and "SHA256:" in line
    assert known.read_text() == ""  # never added


def test_changed_host_key_is_refused(stack: Any, tmp_path: Path) -> None:
    other = ed25519.Ed25519PrivateKey.generate().public_key()
    blob = other.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    known = tmp_path / "known_hosts"
    known.write_text(f"[{stack.sftp_host}]:{stack.sftp_port} {blob.decode()}\n")
    backend = SftpBackend.from_config(settings(stack, "/tmp", known_hosts=str(known)))
    with pytest.raises(AuthError, match="does not match") as info:
        backend.stat("x")
    assert str(known) in info.value.one_line()


def test_wrong_user_key_is_refused(stack: Any, tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    text = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    backend = SftpBackend.from_config(settings(stack, "/tmp", key=text))
    with pytest.raises(AuthError, match="authentication refused"):
        backend.stat("x")


# -- sidecars and temporary files -------------------------------------------------------------


def test_metadata_lives_in_a_hidden_sidecar_and_goes_with_an_overwrite(
    sf: SftpBackend, root: Path
) -> None:
    put(sf, "d/f.bin", b"one", metadata={"Owner": "a"}, content={"content_type": "x/y"})
    assert server_files(root) == ["d/.f.bin.hdhmeta.json", "d/f.bin"]
    assert [info.key for info in sf.list()] == ["d/f.bin"]
    assert dict(sf.stat("d/f.bin").metadata) == {"Owner": "a"}
    put(sf, "d/f.bin", b"two")
    assert server_files(root) == ["d/f.bin"]
    assert dict(sf.stat("d/f.bin").metadata) == {} and dict(sf.stat("d/f.bin").content) == {}
    sf.delete("d/f.bin")
    assert server_files(root) == []


def test_a_sidecar_of_another_version_is_ignored(sf: SftpBackend, root: Path) -> None:
    put(sf, "f", b"abc", metadata={"v": "1"})
    target = root / "f"
    os.utime(target, (1_600_000_000, 1_600_000_000))  # someone else changed the file
    assert dict(sf.stat("f").metadata) == {}


def test_failed_writes_leave_no_temporary_file(sf: SftpBackend, root: Path) -> None:
    put(sf, "keep", b"old")
    with pytest.raises(PermanentError):
        sf.write("keep", io.BytesIO(b"short"), 10)
    md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(PermanentError, match="checksum"):
        put(sf, "new/deep/key", os.urandom(300_000), checksums={"md5": md5})
    assert [p for p in server_files(root) if "hdhtmp" in p] == []
    with sf.open_read("keep") as stream:
        assert stream.read() == b"old"


def test_expected_md5_is_reported(sf: SftpBackend) -> None:
    data = os.urandom(1000)
    md5 = hashlib.md5(data).digest()
    info = sf.write(
        "m",
        io.BytesIO(data),
        len(data),
        WriteOptions(checksums={"md5": base64.b64encode(md5).decode()}),
    )
    assert info.content_md5 == md5


# -- reads -----------------------------------------------------------------------------------


def test_listed_etag_equals_stat_etag_and_pins_reads(sf: SftpBackend) -> None:
    put(sf, "a/b", os.urandom(10))
    listed = next(iter(sf.list()))
    assert listed.etag == sf.stat("a/b").etag
    with sf.open_read("a/b", if_match=listed.etag) as stream:
        assert len(stream.read()) == 10


def test_an_open_stream_keeps_reading_the_version_it_opened(sf: SftpBackend) -> None:
    old, new = os.urandom(1_000_000), os.urandom(1_000_000)
    put(sf, "v", old)
    with sf.open_read("v") as stream:
        head = stream.read(100_000)
        put(sf, "v", new)  # renamed over the key while we read
        assert head + stream.read() == old
    with sf.open_read("v") as stream:
        assert stream.read() == new


def test_threads_share_a_few_channels(stack: Any, root: Path) -> None:
    backend = SftpBackend.from_config(settings(stack, str(root), channels=2))
    backend.ensure_root()
    payloads = {f"t/{i:02d}": os.urandom(50_000 + i) for i in range(16)}

    def roundtrip(key: str) -> bool:
        put(backend, key, payloads[key])
        with backend.open_read(key) as stream:
            return stream.read() == payloads[key]

    try:
        with ThreadPoolExecutor(6) as pool:
            assert all(pool.map(roundtrip, payloads))
        assert [info.key for info in backend.list("t/")] == sorted(payloads)
    finally:
        backend.remove_root()
        backend.close()


def test_a_dropped_connection_is_reopened(sf: SftpBackend) -> None:
    put(sf, "r", b"x")
    ssh = sf._pool._ssh
    assert ssh is not None
    ssh.close()  # the server side would look the same: transport gone
    assert sf.stat("r").size == 1


def test_deep_trees_list_in_byte_order(sf: SftpBackend) -> None:
    names = ["a/b/c/d/e/1", "a/b/c/d/e/2", "a/b-c", "a/b0", "a/b/c/x", "b", "a.txt"]
    for name in names:
        put(sf, name, b"-")
    assert [info.key for info in sf.list()] == sorted(names)
    assert [info.key for info in sf.list("a/b/")] == ["a/b/c/d/e/1", "a/b/c/d/e/2", "a/b/c/x"]
    assert [info.key for info in sf.list("a/b")] == sorted(n for n in names if n.startswith("a/b"))

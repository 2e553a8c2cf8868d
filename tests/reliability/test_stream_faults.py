"""R5 and R6: a source stream that lies — ends k bytes early (R5) or carries one flipped
bit (R6), or an expected checksum with one flipped bit (R6) — is detected every time,
leaves nothing at the final key, and the item copies cleanly once the source behaves.

The rows' 1,000 trials run in-process on the memory backends (a few seconds); a small
confirmation runs the same faults from Azurite to SeaweedFS, multipart uploads included
(``stack``). HDH_R5_TRIALS / HDH_R6_TRIALS scale the in-process rows.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from hdh_migrate.backends.base import Backend, Capabilities, ObjectInfo, WriteOptions
from hdh_migrate.backends.memory import MemoryBackend, drop_store
from hdh_migrate.backends.specs import MemorySpec
from hdh_migrate.crypto import DecryptingReader
from hdh_migrate.keys import FileKeyProvider, FileKeySpec, generate_key_file
from hdh_migrate.stages.clients import Clients
from hdh_migrate.stages.copy import copy_object
from hdh_migrate.stages.items import CopyItem, CopyResult, Spec
from hdh_migrate.stages.retry import RetryPolicy

R5_TRIALS = int(os.environ.get("HDH_R5_TRIALS", "1000"))
R6_TRIALS = int(os.environ.get("HDH_R6_TRIALS", "1000"))
FAST = RetryPolicy(attempts=2, initial=0.001, maximum=0.001, throttle_initial=0.001)
SEG = 1 << 10
MIB = 1 << 20


@dataclass
class Fault:
    """What the next read of ``key`` delivers: ``cut`` bytes fewer, or bit ``flip`` flipped."""

    cut: int = 0
    flip: int | None = None


class Lying:
    """A source backend whose reads lie as ``faults`` say (no ``open_read_info``: the copy
    stats, then reads)."""

    def __init__(self, inner: Backend) -> None:
        self.inner, self.name = inner, inner.name
        self.faults: dict[str, Fault] = {}

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return self.inner.list(prefix)

    def stat(self, key: str) -> ObjectInfo:
        return self.inner.stat(key)

    def open_read(
        self, key: str, range: tuple[int, int] | None = None, if_match: str | None = None
    ) -> BinaryIO:
        with self.inner.open_read(key, range=range, if_match=if_match) as stream:
            data = bytearray(stream.read())
        fault = self.faults.get(key, Fault())
        if fault.flip is not None:
            data[fault.flip // 8] ^= 1 << (fault.flip % 8)
        return io.BytesIO(bytes(data[: len(data) - fault.cut]))

    def write(
        self, key: str, stream: BinaryIO, size: int, options: WriteOptions | None = None
    ) -> ObjectInfo:
        return self.inner.write(key, stream, size, options)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def capabilities(self) -> Capabilities:
        return replace(self.inner.capabilities(), read_with_info=False)  # it has no open_read_info

    def close(self) -> None:
        self.inner.close()


class LyingClients(Clients):
    def __init__(self, source: Spec) -> None:
        super().__init__()
        self.source_spec = source
        self.lying: Lying | None = None

    def backend(self, spec: Spec) -> Backend:
        inner = super().backend(spec)
        if spec != self.source_spec:
            return inner
        if self.lying is None:
            self.lying = Lying(inner)
        return self.lying  # type: ignore[return-value]


@dataclass
class Rig:
    clients: LyingClients
    source: Backend
    target: Backend
    specs: tuple[Spec, Spec, Spec]
    key_path: Path

    @property
    def lying(self) -> Lying:
        found = self.clients.backend(self.specs[0])
        assert isinstance(found, Lying)
        return found

    def item(self, key: str, **extra: Any) -> CopyItem:
        info = self.source.stat(key)
        md5 = info.content_md5.hex() if info.content_md5 else None
        source, target, kek = self.specs
        fields: dict[str, Any] = {"content_md5": md5, "segment_size": SEG, "min_part_size": 5 * MIB}
        return CopyItem("ds", key, info.size, info.etag, f"ds/{key}", "enc/" + key,
                        source, target, kek, **(fields | extra))  # fmt: skip

    def copy(self, item: CopyItem) -> CopyResult:
        return copy_object(item, self.clients, FAST)

    def at_target(self, key: str) -> bool:
        return any(info.key == "enc/" + key for info in self.target.list("enc/" + key))

    def decrypted(self, key: str) -> bytes:
        provider = FileKeyProvider(self.key_path)
        with self.target.open_read("enc/" + key) as raw:
            return bytes(DecryptingReader(raw, provider, f"ds/{key}").read())


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[Rig]:
    names = (f"src-{uuid.uuid4().hex}", f"dst-{uuid.uuid4().hex}")
    generate_key_file(tmp_path / "kek")
    specs = (
        Spec(MemorySpec(names[0]), names[0]),
        Spec(MemorySpec(names[1]), names[1]),
        Spec(FileKeySpec(path=str(tmp_path / "kek")), "kek"),
    )
    yield Rig(LyingClients(specs[0]), MemoryBackend(names[0]), MemoryBackend(names[1]), specs,
              tmp_path / "kek")  # fmt: skip
    for name in names:
        drop_store(name)


def put(rig: Rig, key: str, data: bytes, md5: bool) -> None:
    checksums = {"md5": _b64md5(data)} if md5 else {}
    rig.source.write(key, io.BytesIO(data), len(data), WriteOptions(checksums=checksums))


def _b64md5(data: bytes) -> str:
    import base64

    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def run_r5(rig: Rig, trials: int, sizes: list[int], seed: int = 5) -> dict[str, int]:
    """Each trial: an object read k bytes short (1 ≤ k ≤ N) must fail, leave nothing at
    its final key, then copy cleanly when read whole."""
    rng = random.Random(seed)
    found = {"trials": 0, "detected": 0, "stored_anyway": 0, "retried_ok": 0}
    for trial in range(trials):
        size = rng.choice(sizes)
        key = f"r5/{trial:04d}"
        data = os.urandom(size)
        put(rig, key, data, md5=False)  # no checksum to lean on: the length alone tells
        rig.lying.faults[key] = Fault(cut=rng.randint(1, size))
        result = rig.copy(rig.item(key))
        found["trials"] += 1
        found["detected"] += result.state == "failed" and "shorter" in (result.error or "")
        found["stored_anyway"] += rig.at_target(key)
        del rig.lying.faults[key]
        again = rig.copy(rig.item(key))
        found["retried_ok"] += again.state == "copied" and rig.decrypted(key) == data
    return found


def run_r6(rig: Rig, trials: int, sizes: list[int], seed: int = 6) -> dict[str, int]:
    """Each trial: one bit flipped in the stream (even trials) or in the expected
    Content-MD5 (odd ones) must fail and leave nothing at the final key."""
    rng = random.Random(seed)
    found = {"trials": 0, "detected": 0, "stored_anyway": 0, "retried_ok": 0}
    for trial in range(trials):
        size = rng.choice(sizes)
        key = f"r6/{trial:04d}"
        data = os.urandom(size)
        put(rig, key, data, md5=True)
        item = rig.item(key)
        assert item.content_md5 is not None
        if trial % 2 == 0:
            rig.lying.faults[key] = Fault(flip=rng.randrange(size * 8))
            bad = item
        else:
            bit = rng.randrange(128)
            wrong = int(item.content_md5, 16) ^ (1 << bit)
            bad = replace(item, content_md5=f"{wrong:032x}")
        result = rig.copy(bad)
        found["trials"] += 1
        found["detected"] += result.state == "failed" and "Content-MD5" in (result.error or "")
        found["stored_anyway"] += rig.at_target(key)
        rig.lying.faults.pop(key, None)
        again = rig.copy(item)
        found["retried_ok"] += again.state == "copied" and rig.decrypted(key) == data
    return found


SMALL = [1, 2, 1000, SEG - 1, SEG, SEG + 1, 3 * SEG + 7, 10 * SEG]


def test_r5_a_short_source_stream_is_detected_every_time(memory: Rig) -> None:
    found = run_r5(memory, R5_TRIALS, SMALL)
    print(f"R5 (memory): {found}")
    assert found == {"trials": R5_TRIALS, "detected": R5_TRIALS, "stored_anyway": 0,
                     "retried_ok": R5_TRIALS}  # fmt: skip


def test_r6_a_flipped_bit_in_the_stream_or_the_checksum_is_detected_every_time(
    memory: Rig,
) -> None:
    found = run_r6(memory, R6_TRIALS, SMALL)
    print(f"R6 (memory): {found}")
    assert found == {"trials": R6_TRIALS, "detected": R6_TRIALS, "stored_anyway": 0,
                     "retried_ok": R6_TRIALS}  # fmt: skip


@pytest.fixture
def stack_rig(stack: Any, tmp_path: Path) -> Iterator[Rig]:
    from hdh_migrate.backends.registry import open_backend
    from hdh_migrate.backends.s3_config import settings_from_config
    from hdh_migrate.backends.specs import AzureBlobSpec
    from hdh_migrate.config_values import PlainSecret

    name = f"r56-{uuid.uuid4().hex[:12]}"
    generate_key_file(tmp_path / "kek")
    azure = {"container": name, "connection_string": stack.azurite_connection_string}
    s3 = {"endpoint_url": stack.s3_endpoint, "region": "us-east-1", "bucket": name,
          "access_key": stack.s3_access_key, "secret_key": stack.s3_secret_key,
          "multipart_threshold": "6MiB", "part_size": "5MiB"}  # fmt: skip
    azure_spec = AzureBlobSpec(
        container=name, connection_string=PlainSecret(azure["connection_string"])
    )
    specs = (Spec(azure_spec, "src"), Spec(settings_from_config(s3), "dst"),
             Spec(FileKeySpec(path=str(tmp_path / "kek")), "kek"))  # fmt: skip
    source, target = open_backend("azure_blob", azure), open_backend("s3", s3)
    source.ensure_container()  # type: ignore[attr-defined]
    target.ensure_bucket()  # type: ignore[attr-defined]
    rig = Rig(LyingClients(specs[0]), source, target, specs, tmp_path / "kek")
    yield rig
    rig.clients.close()
    source.delete_container()  # type: ignore[attr-defined]
    target.delete_bucket(force=True)  # type: ignore[attr-defined]


@pytest.mark.stack
def test_r5_r6_on_the_stack_multipart_included(stack_rig: Rig) -> None:
    """The same faults from Azurite to SeaweedFS: a short stream fails a single PUT and a
    multipart upload alike (the upload aborted: no part left behind), a flipped bit fails
    against the blob's Content-MD5; nothing at any final key; clean copies afterwards."""
    r5 = run_r5(stack_rig, 6, [1000, 7 * MIB + 1])
    r6 = run_r6(stack_rig, 4, [1000, 100_000])
    print(f"R5 (stack): {r5}; R6 (stack): {r6}")
    assert r5 == {"trials": 6, "detected": 6, "stored_anyway": 0, "retried_ok": 6}
    assert r6 == {"trials": 4, "detected": 4, "stored_anyway": 0, "retried_ok": 4}
    assert list(stack_rig.target.list_multipart_uploads("enc/")) == []  # type: ignore[attr-defined]

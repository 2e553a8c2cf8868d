"""The copy's side of resumable multipart uploads: every attempt of one source version
encrypts under one header (the journaled one when given), so an upload an attempt left
open can be resumed; a new source version, a source without an ETag, or a header the key
cannot open get a fresh header (never one data key for two plaintexts)."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.backends.memory import MemoryBackend, drop_store
from hdh_migrate.backends.specs import MemorySpec
from hdh_migrate.crypto import Encryptor, parse_header
from hdh_migrate.errors import RetryableError
from hdh_migrate.keys import FileKeyProvider, FileKeySpec, generate_key_file
from hdh_migrate.stages.clients import Clients
from hdh_migrate.stages.copy import copy_object
from hdh_migrate.stages.items import Spec
from tests.unit.stages.test_copy_verify import FAST, SEG, item_for, put


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    names = (f"src-{uuid.uuid4().hex}", f"dst-{uuid.uuid4().hex}")
    generate_key_file(tmp_path / "kek")
    yield {
        "source": Spec(MemorySpec(names[0]), names[0]),
        "target": Spec(MemorySpec(names[1]), names[1]),
        "kek": Spec(FileKeySpec(path=str(tmp_path / "kek")), "kek"),
        "clients": Clients(),
        "src": MemoryBackend(names[0]),
        "dst": MemoryBackend(names[1]),
    }
    for name in names:
        drop_store(name)


def recording_writes(world: dict[str, Any], fail: int) -> list[bytes]:
    """The first bytes of every stream the target is asked to write; the first ``fail``
    writes raise a retryable error after reading them."""
    target = world["clients"].backend(world["target"])
    seen: list[bytes] = []
    inner = target.write

    def write(key: str, stream: Any, size: int, options: Any = None) -> Any:
        head = stream.read(200)
        seen.append(head)
        assert options is not None and options.resume
        if len(seen) <= fail:
            raise RetryableError("reset mid-upload")
        return inner(key, io.BytesIO(head + stream.read()), size, options)

    target.write = write
    return seen


def provider(world: dict[str, Any]) -> FileKeyProvider:
    return FileKeyProvider(world["kek"].config.path)


def test_every_attempt_of_one_version_encrypts_under_one_header(world):
    put(world, "x", os.urandom(5 * SEG))
    seen = recording_writes(world, fail=2)
    result = copy_object(item_for(world, "x"), world["clients"], FAST)
    assert result.state == "copied" and result.attempts == 3
    assert len(seen) == 3 and len(set(seen)) == 1  # same header, same first segment bytes


def test_without_an_etag_each_attempt_gets_a_fresh_key(world):
    put(world, "x", os.urandom(5 * SEG))
    seen = recording_writes(world, fail=1)
    result = copy_object(replace(item_for(world, "x"), etag=None), world["clients"], FAST)
    assert result.state == "copied" and len(set(seen)) == 2


def test_the_journaled_header_is_the_one_written(world):
    data = os.urandom(5 * SEG)
    put(world, "x", data)
    header = Encryptor(provider(world), "ds/x", len(data), SEG).header
    result = copy_object(item_for(world, "x", resume_header=header), world["clients"], FAST)
    assert result.state == "copied"
    assert world["dst"].open_read("enc/x").read(len(header)) == header


def test_a_changed_source_never_reuses_the_journaled_header(world):
    put(world, "x", os.urandom(5 * SEG))
    header = Encryptor(provider(world), "ds/x", 5 * SEG, SEG).header
    item = item_for(world, "x", resume_header=header)
    put(world, "x", os.urandom(5 * SEG))  # same size, new version
    result = copy_object(item, world["clients"], FAST)
    assert result.state == "copied" and result.etag == world["src"].stat("x").etag
    assert world["dst"].open_read("enc/x").read(len(header)) != header


def test_a_header_the_key_cannot_open_is_replaced_by_a_fresh_one(world):
    put(world, "x", os.urandom(5 * SEG))
    other = FileKeyProvider.from_bytes(os.urandom(32))
    header = Encryptor(other, "ds/x", 5 * SEG, SEG).header
    result = copy_object(item_for(world, "x", resume_header=header), world["clients"], FAST)
    assert result.state == "copied"
    stored = parse_header(world["dst"].open_read("enc/x").read(len(header)))
    assert stored.raw != header and stored.kek_ref == provider(world).ref

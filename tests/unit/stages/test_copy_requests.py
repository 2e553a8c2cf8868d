"""Requests a copy makes per object (issue 12): no source stat when the read answers the
properties, no HEAD after a PUT the target confirmed, no sidecar DELETE unless a rotation
left sidecars. Each saving has its counter-case: the request is still made otherwise."""

from __future__ import annotations

import io
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from hdh_migrate.backends.base import Capabilities, ObjectInfo, WriteOptions
from hdh_migrate.backends.memory import MemoryBackend, drop_store
from hdh_migrate.backends.specs import MemorySpec
from hdh_migrate.keys import FileKeySpec, generate_key_file
from hdh_migrate.stages.clients import Clients, spec_digest
from hdh_migrate.stages.copy import copy_object
from hdh_migrate.stages.envelopes import has_sidecars, sidecar_key
from hdh_migrate.stages.items import CopyItem, Spec


class Counting:
    """A MemoryBackend that counts calls; optionally answers properties with the read
    (like Azure's Get Blob) and marks single writes as sent with a Content-MD5 (like S3)."""

    def __init__(self, store: str, *, read_info: bool = False, md5_sent: bool = False) -> None:
        self.inner = MemoryBackend(store)
        self.name = self.inner.name
        self.calls: Counter[str] = Counter()
        self.md5_sent = md5_sent
        self.read_info = read_info

    def capabilities(self) -> Capabilities:
        """The memory backend's, declaring ``read_with_info`` when asked (like Azure)."""
        return replace(self.inner.capabilities(), read_with_info=self.read_info)

    def open_read_info(self, key: str, if_match: str | None = None) -> tuple[BinaryIO, ObjectInfo]:
        self.calls["open_read_info"] += 1
        return self.inner.open_read(key, if_match=if_match), self.inner.stat(key)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if callable(attr):

            def counted(*args: Any, **kwargs: Any) -> Any:
                self.calls[name] += 1
                return attr(*args, **kwargs)

            return counted
        return attr

    def write(
        self, key: str, stream: BinaryIO, size: int, options: WriteOptions | None = None
    ) -> ObjectInfo:
        self.calls["write"] += 1
        info = self.inner.write(key, stream, size, options)
        if self.md5_sent:
            info = replace(info, extra={**info.extra, "sent_content_md5": "true"})
        return info


@pytest.fixture
def world(tmp_path: Path) -> Any:
    names = (f"src-{uuid.uuid4().hex}", f"dst-{uuid.uuid4().hex}")
    key_path = tmp_path / "kek"
    generate_key_file(key_path)
    yield names, Spec(FileKeySpec(path=str(key_path)), "kek")
    for name in names:
        drop_store(name)


def run(world: Any, *, read_info: bool, md5_sent: bool, **item: Any) -> tuple[Counting, Counting]:
    names, kek = world
    source = Counting(names[0], read_info=read_info)
    target = Counting(names[1], md5_sent=md5_sent)
    data = b"small object " * 100
    info = source.inner.write("a/k", io.BytesIO(data), len(data))
    clients = Clients()
    source_spec = Spec(MemorySpec(names[0]), "src")
    target_spec = Spec(MemorySpec(names[1]), "dst")
    clients._backends = {  # type: ignore[dict-item]
        spec_digest(source_spec): source,
        spec_digest(target_spec): target,
    }
    result = copy_object(
        CopyItem(
            dataset="ds",
            key="a/k",
            size=len(data),
            etag=info.etag,
            object_id="ds/a/k",
            target_key="enc/a/k",
            source=source_spec,
            target=target_spec,
            kek=kek,
            segment_size=1024,
            min_part_size=4096,
            **item,
        ),
        clients,
    )
    assert result.state == "copied", result.error
    assert result.target_etag and result.target_size == target.inner.stat("enc/a/k").size
    return source, target


def test_properties_from_the_read_spare_the_source_stat(world: Any) -> None:
    source, _ = run(world, read_info=True, md5_sent=False)
    assert source.calls["stat"] == 0 and source.calls["open_read_info"] == 1
    source, _ = run(world, read_info=False, md5_sent=False)
    assert source.calls["stat"] == 1 and source.calls["open_read"] == 1


@pytest.mark.parametrize(
    "trust,sent,heads", [(True, True, 0), (True, False, 1), (False, True, 1), (False, False, 1)]
)
def test_head_after_put_only_when_the_write_is_not_confirmed(
    world: Any, trust: bool, sent: bool, heads: int
) -> None:
    _, target = run(world, read_info=True, md5_sent=sent, trust_write=trust)
    assert target.calls["stat"] == heads


def test_sidecar_delete_only_when_sidecars_exist(world: Any) -> None:
    _, target = run(world, read_info=True, md5_sent=True, drop_sidecar=False)
    assert target.calls["delete"] == 0
    _, target = run(world, read_info=True, md5_sent=True, drop_sidecar=True)
    assert target.calls["delete"] == 1


def test_has_sidecars_looks_under_the_dataset_prefix(world: Any) -> None:
    names, _ = world
    bucket = MemoryBackend(names[1])
    assert not has_sidecars(bucket, "data/")
    bucket.write(sidecar_key("other/x"), io.BytesIO(b"e"), 1)
    assert not has_sidecars(bucket, "data/")
    bucket.write(sidecar_key("data/x"), io.BytesIO(b"e"), 1)
    assert has_sidecars(bucket, "data/")

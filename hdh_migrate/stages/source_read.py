"""Opening a source object for a copy: the stream and the properties of the version read.

A backend that answers both in one request (it declares ``read_with_info``: Azure's Get Blob returns
the blob's properties and metadata with its first bytes) saves the Get Properties round
trip a stat would cost per object — a fifth of a small object's time (docs/benchmarks.md).
Others are stat'ed first. Either way the read is pinned to the listed ETag: a source
changed since the listing raises ``PreconditionFailedError`` (the caller restarts the
object at its new version).
"""

from __future__ import annotations

from typing import BinaryIO, cast

from hdh_migrate.backends.base import Backend, ObjectInfo, ReadsWithInfo
from hdh_migrate.errors import PreconditionFailedError


def same_etag(a: str | None, b: str | None) -> bool:
    """ETags compared without their quotes: Azure's List Blobs gives ``0x8D…`` where Get
    Blob Properties gives ``"0x8D…"`` (the raw comparison made every Azure copy fail its
    pin once, re-stat and start over)."""
    return (a or "").strip('"') == (b or "").strip('"')


def open_source(source: Backend, key: str, etag: str | None) -> tuple[BinaryIO, ObjectInfo]:
    """(a stream of the whole object pinned to ``etag``, its properties). The caller closes
    the stream."""
    stream: BinaryIO | None = None
    if source.capabilities().read_with_info:
        stream, info = cast(ReadsWithInfo, source).open_read_info(key, if_match=etag)
    else:
        info = source.stat(key)
    if etag and not same_etag(info.etag, etag):
        if stream is not None:
            stream.close()
        raise PreconditionFailedError("the source changed since it was listed", key=key)
    if stream is None:
        stream = source.open_read(key, if_match=etag)
    return stream, info

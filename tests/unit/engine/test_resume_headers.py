"""The coordinator's side of resumable multipart uploads (``engine.resume``): a large
object's header is journaled once per source version and reused by every later run; small
objects, targets without listable uploads and sources without an ETag get none; a header
made under another KEK is replaced."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hdh_migrate.backends.base import Capabilities
from hdh_migrate.crypto import parse_header
from hdh_migrate.engine.resume import resume_header
from hdh_migrate.journal import InventoryEntry, Journal
from hdh_migrate.keys import FileKeyProvider

MIB = 1 << 20


class Target:
    def __init__(self, open_uploads: bool = True) -> None:
        self._caps = Capabilities(
            multipart=True, open_uploads=open_uploads, multipart_threshold=8 * MIB
        )

    def capabilities(self) -> Capabilities:
        return self._caps


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    with Journal(tmp_path / "j.db") as j:
        yield j  # type: ignore[misc]


def item(journal: Journal, size: int, etag: str = "e1"):  # type: ignore[no-untyped-def]
    journal.upsert_inventory([InventoryEntry("ds", "data/big", size, etag)])
    found = journal.get("ds", "data/big")
    assert found is not None
    return found


def test_a_large_object_gets_one_journaled_header_per_source_version(journal: Journal) -> None:
    kek = FileKeyProvider.from_bytes(os.urandom(32))
    big = item(journal, 9 * MIB)
    header = resume_header(journal, Target(), lambda: kek, big, "ds/big", MIB)  # type: ignore[arg-type]
    assert header is not None and parse_header(header).plaintext_length == 9 * MIB
    assert journal.resume_header(big.item_id, "e1") == header
    again = resume_header(journal, Target(), lambda: kek, big, "ds/big", MIB)  # type: ignore[arg-type]
    assert again == header  # a later run: the same header, the same bytes
    changed = item(journal, 9 * MIB, etag="e2")
    fresh = resume_header(journal, Target(), lambda: kek, changed, "ds/big", MIB)  # type: ignore[arg-type]
    assert fresh is not None and fresh != header


def test_a_header_under_another_kek_is_replaced(journal: Journal) -> None:
    big = item(journal, 9 * MIB)
    old = FileKeyProvider.from_bytes(os.urandom(32))
    header = resume_header(journal, Target(), lambda: old, big, "ds/big", MIB)  # type: ignore[arg-type]
    new = FileKeyProvider.from_bytes(os.urandom(32))
    other = resume_header(journal, Target(), lambda: new, big, "ds/big", MIB)  # type: ignore[arg-type]
    assert other is not None and other != header and parse_header(other).kek_ref == new.ref


@pytest.mark.parametrize(
    ("size", "etag", "target"),
    [(7 * MIB, "e1", Target()), (9 * MIB, "", Target()), (9 * MIB, "e1", Target(False))],
    ids=["single-put", "no-etag", "no-listable-uploads"],
)
def test_no_header_when_nothing_can_be_resumed(
    journal: Journal, size: int, etag: str, target: Target
) -> None:
    def never() -> FileKeyProvider:
        raise AssertionError("the KEK is opened only for an object that can resume")

    found = item(journal, size, etag)
    assert resume_header(journal, target, never, found, "ds/big", MIB) is None  # type: ignore[arg-type]
    assert journal.resumable_keys("ds") == set()

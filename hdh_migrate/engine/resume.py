"""Resumable multipart uploads, the coordinator's side: which header a large object is
encrypted under, and which open uploads a resume keeps.

Before a large object's first copy, the coordinator makes its HDH1 header (fresh salt and
data key, the key wrapped by the KEK) and journals it with the source version (ETag) it is
for — the wrapped key only: the plaintext data key never reaches the journal. Every
attempt, in this run or after a ``kill -9``, encrypts that version under the same header:
the same bytes, so the parts an interrupted attempt uploaded are found (ListParts, size
and MD5) and not sent again (``S3Backend`` with ``WriteOptions.resume``). The source is
read again from its first byte: the plaintext and ciphertext SHA-256 recorded in the
manifest cover the whole object and a hash state cannot be saved (docs/reliability.md).
"""

from __future__ import annotations

from collections.abc import Callable

from hdh_migrate.backends.base import Backend
from hdh_migrate.crypto import Encryptor, KeyProvider, parse_header
from hdh_migrate.errors import HdhError
from hdh_migrate.journal import Item, JournalStore
from hdh_migrate.plan import EffectiveDataset

__all__ = ["kept_upload_keys", "resume_header"]


def resume_header(
    journal: JournalStore,
    target: Backend,
    key: Callable[[], KeyProvider],
    item: Item,
    object_id: str,
    segment_size: int,
) -> bytes | None:
    """The header ``item`` is to be encrypted under, journaled (FULL) before its copy;
    None when its upload cannot be resumed (no multipart, no ETag to pin the source).
    ``key`` gives the KEK's provider (opened only for such an object)."""
    if not item.etag or not _multipart(target, item.size):
        return None
    provider = key()
    kept = journal.resume_header(item.item_id, item.etag)
    if kept is not None and _fits(kept, provider, object_id, item.size, segment_size):
        return kept
    header = Encryptor(provider, object_id, item.size, segment_size).header
    journal.record_resume(item.item_id, item.etag, header)
    return header


def kept_upload_keys(journal: JournalStore, dataset: EffectiveDataset) -> set[str]:
    """Target keys whose open multipart uploads the reconcile keeps (resumed by the copy)."""
    ds = dataset.dataset
    keys = journal.resumable_keys(dataset.name)
    return {ds.target_prefix + key[len(ds.prefix) :] for key in keys}


def _multipart(target: Backend, size: int) -> bool:
    """Whether ``target`` writes an object of ``size`` plaintext bytes in parts it can
    list again: an S3 target (open uploads declared) at or over its threshold."""
    caps = target.capabilities()
    threshold = caps.multipart_threshold
    return bool(caps.open_uploads and threshold is not None and size >= threshold)


def _fits(header: bytes, provider: KeyProvider, object_id: str, size: int, segment: int) -> bool:
    try:
        parsed = parse_header(header)
    except (HdhError, ValueError):  # a damaged row: a fresh header replaces it
        return False
    return (parsed.kek_ref, parsed.object_id, parsed.plaintext_length, parsed.segment_size) == (
        provider.ref,
        object_id,
        size,
        segment,
    )

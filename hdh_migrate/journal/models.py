"""The journal's value objects: small, frozen, with ``to_dict``/``from_dict``.

``item_id`` is deterministic: the first 16 bytes (hex) of SHA-256(dataset ‖ 0x00 ‖ key),
so the same object always has the same id across runs, processes and machines.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from hdh_migrate.errors import HdhError
from hdh_migrate.journal.states import DatasetState, ItemState


class JournalError(HdhError):
    """The journal cannot be opened or used as asked (schema, missing item, bad state)."""


class InvalidTransition(JournalError):
    """A state change the state machine does not allow (a coordinator bug, or a race)."""


def item_id_for(dataset: str, key: str) -> str:
    """The deterministic identity of the object ``key`` in ``dataset``."""
    digest = hashlib.sha256(dataset.encode("utf-8") + b"\x00" + key.encode("utf-8"))
    return digest.hexdigest()[:32]


class _Value:
    """to_dict/from_dict for frozen dataclasses; enum fields are converted back."""

    _enums: dict[str, type[Any]] = {}  # noqa: RUF012 — class-level constant, never mutated

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)  # type: ignore[call-overload]
        return {k: (str(v) if k in self._enums and v is not None else v) for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        values = {k: v for k, v in data.items() if k in names}
        for name, enum in cls._enums.items():
            if values.get(name) is not None:
                values[name] = enum(values[name])
        return cls(**values)


@dataclass(frozen=True)
class InventoryEntry(_Value):
    """One source object as listed. ``flag`` marks it skipped/flagged with ``reason``."""

    dataset: str
    key: str
    size: int
    etag: str
    last_modified: str | None = None
    content_md5: str | None = None
    flag: ItemState | None = None
    reason: str | None = None
    object_id: str | None = None  # ``dataset/relative``, computed once at inventory
    target_key: str | None = None  # where it lands (target prefix + relative)
    _enums = {"flag": ItemState}  # noqa: RUF012

    @functools.cached_property
    def item_id(self) -> str:
        """Computed once (a SHA-256): the upsert needs it three times per entry."""
        return item_id_for(self.dataset, self.key)


@dataclass(frozen=True)
class CopyResult(_Value):
    """What the copy task confirmed at the target (HEAD matched size and checksum).

    ``source_etag``/``source_size``/``source_content_md5`` name the source version that was
    actually read when it is not the listed one (the source changed before or during the
    copy): the item's ``etag``/``size``/``content_md5`` then become that version's, so the
    journal and the manifest never pair one version's ETag with another's bytes."""

    plaintext_sha256: str
    ciphertext_sha256: str
    target_key: str
    target_size: int
    header_sha256: str
    target_etag: str | None = None
    target_version: str | None = None
    source_etag: str | None = None
    source_size: int | None = None
    source_content_md5: str | None = None

    def item_fields(self) -> dict[str, Any]:
        """The item columns this result sets."""
        fields = self.to_dict()
        etag, size = fields.pop("source_etag"), fields.pop("source_size")
        md5 = fields.pop("source_content_md5")
        if etag is not None and size is not None:
            fields |= {"etag": etag, "size": size, "content_md5": md5}
        return fields


@dataclass(frozen=True)
class Item(_Value):
    """One journaled object and everything known about its migration."""

    item_id: str
    dataset: str
    key: str
    size: int
    etag: str
    state: ItemState
    attempts: int = 0
    last_modified: str | None = None
    content_md5: str | None = None
    reason: str | None = None
    last_error: str | None = None
    plaintext_sha256: str | None = None
    ciphertext_sha256: str | None = None
    target_key: str | None = None
    target_size: int | None = None
    target_etag: str | None = None
    target_version: str | None = None
    header_sha256: str | None = None
    verify_mode: str | None = None
    verify_result: str | None = None
    updated_at: str | None = None
    manifest_leaf: int | None = None
    object_id: str | None = None  # as the inventory computed it (schema 3)
    _enums = {"state": ItemState}  # noqa: RUF012


@dataclass(frozen=True)
class UpsertCounts(_Value):
    """What one inventory upsert did: new objects, changed ones (reset), unchanged."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0

    def __add__(self, other: UpsertCounts) -> UpsertCounts:
        return UpsertCounts(
            self.new + other.new, self.changed + other.changed, self.unchanged + other.unchanged
        )


@dataclass(frozen=True)
class StateCount(_Value):
    """Objects and bytes of one dataset in one state."""

    dataset: str
    state: ItemState
    count: int
    bytes: int
    _enums = {"state": ItemState}  # noqa: RUF012


@dataclass(frozen=True)
class Upload(_Value):
    """A multipart upload in flight (aborted on resume when stale)."""

    upload_id: str
    item_id: str
    bucket: str
    key: str
    started_at: str


@dataclass(frozen=True)
class Run(_Value):
    run_id: str
    plan_digest: str
    tool_version: str
    started_at: str
    ended_at: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class Transition(_Value):
    """One recorded dataset state change (cutover history)."""

    dataset: str
    from_state: DatasetState
    to_state: DatasetState
    at: str
    detail: str | None = None
    _enums = {"from_state": DatasetState, "to_state": DatasetState}  # noqa: RUF012


@dataclass(frozen=True)
class Lease(_Value):
    """A blob lease held to freeze a source object; released on rollback."""

    dataset: str
    key: str
    lease_id: str
    acquired_at: str
    released_at: str | None = None


@dataclass(frozen=True)
class Approval(_Value):
    wave: str
    name: str
    at: str
    detail: str | None = None

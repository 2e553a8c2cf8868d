"""``NullJournal``: the journal's no-op twin for dry runs and audits.

Accepts every call, records nothing, and answers as an empty journal would: no items,
no runs, no counts. Change methods return False ("nothing changed"); the values a real
journal would return are built from the arguments so callers need no special case.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from hdh_migrate.journal.models import (
    Approval,
    CopyResult,
    InventoryEntry,
    Item,
    Lease,
    Run,
    StateCount,
    Transition,
    Upload,
    UpsertCounts,
)
from hdh_migrate.journal.states import DatasetState, ItemState

_EPOCH = "1970-01-01T00:00:00.000000Z"


class NullJournal:
    """Records nothing. Satisfies ``JournalStore``."""

    def close(self) -> None:
        return None

    def begin_run(self, run_id: str, plan_digest: str, tool_version: str) -> Run:
        return Run(run_id, plan_digest, tool_version, _EPOCH)

    def end_run(self, run_id: str, status: str) -> Run:
        return Run(run_id, "", "", _EPOCH, _EPOCH, status)

    def runs(self) -> list[Run]:
        return []

    def upsert_inventory(
        self, entries: Iterable[InventoryEntry], batch_size: int = 1000
    ) -> UpsertCounts:
        """Counts every entry as new (nothing is known), without keeping any."""
        return UpsertCounts(new=sum(1 for _ in entries))

    def mark_copying(self, item_id: str) -> bool:
        return False

    def mark_copied(self, item_id: str, result: CopyResult) -> bool:
        return False

    def mark_copied_many(self, results: Iterable[tuple[str, CopyResult]]) -> int:
        return 0

    def mark_verified(self, item_id: str, mode: str, result: str = "ok") -> bool:
        return False

    def mark_verified_many(self, passed: Iterable[tuple[str, str]]) -> int:
        return 0

    def upgrade_verify_modes(self, passed: Iterable[tuple[str, str]]) -> int:
        return 0

    def mark_failed(
        self, item_id: str, reason: str, error: str | None = None, verify_mode: str | None = None
    ) -> bool:
        return False

    def mark_skipped(self, item_id: str, reason: str) -> bool:
        return False

    def reset_to_pending(self, item_id: str, reason: str | None = None) -> bool:
        return False

    def mark_recorded(self, item_id: str, leaf: int) -> bool:
        return False

    def get(self, dataset: str, key: str) -> Item | None:
        return None

    def get_by_id(self, item_id: str) -> Item | None:
        return None

    def items(
        self, state: ItemState | None = None, dataset: str | None = None, page_size: int = 500
    ) -> Iterator[Item]:
        return iter(())

    def pending(self, dataset: str | None = None, page_size: int = 500) -> Iterator[Item]:
        return iter(())

    def in_copying(self, dataset: str | None = None) -> Iterator[Item]:
        return iter(())

    def unrecorded(
        self, manifest_size: int, dataset: str | None = None, page_size: int = 500
    ) -> Iterator[Item]:
        return iter(())

    def failures(self, dataset: str | None = None, limit: int = 100) -> list[Item]:
        return []

    def counts(self, dataset: str | None = None) -> list[StateCount]:
        return []

    def verified_modes(self, dataset: str | None = None) -> dict[str, int]:
        return {}

    def record_upload(self, item_id: str, upload_id: str, bucket: str, key: str) -> None:
        return None

    def forget_upload(self, upload_id: str) -> None:
        return None

    def open_uploads(self) -> list[Upload]:
        return []

    def record_resume(self, item_id: str, etag: str, header: bytes) -> None:
        return None

    def resume_header(self, item_id: str, etag: str) -> bytes | None:
        return None

    def resumable_keys(self, dataset: str) -> set[str]:
        return set()

    def ensure_dataset(self, dataset: str, wave: str) -> DatasetState:
        return DatasetState.NEW

    def dataset_state(self, dataset: str) -> DatasetState | None:
        return None

    def move_dataset(
        self, dataset: str, target: DatasetState, detail: str | None = None
    ) -> Transition | None:
        return None

    def transitions(self, dataset: str) -> list[Transition]:
        return []

    def note_dataset(self, dataset: str, detail: str) -> Transition:
        return Transition(dataset, DatasetState.NEW, DatasetState.NEW, _EPOCH, detail)

    def record_leases(self, dataset: str, leases: Iterable[tuple[str, str]]) -> int:
        return 0

    def release_lease(self, dataset: str, key: str) -> bool:
        return False

    def leases(
        self, dataset: str, active_only: bool = True, page_size: int = 500
    ) -> Iterator[Lease]:
        return iter(())

    def add_approval(self, wave: str, name: str, detail: str | None = None) -> Approval:
        return Approval(wave, name, _EPOCH, detail)

    def approvals(self, wave: str) -> list[Approval]:
        return []

    def fill_object_ids(self, dataset: str, prefix: str, target_prefix: str) -> int:
        return 0

    def forget_manifest_leaves(self) -> int:
        return 0

    def integrity_check(self) -> str:
        return "ok"

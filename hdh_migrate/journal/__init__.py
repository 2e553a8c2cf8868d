"""The crash-safe journal: SQLite (WAL) state of every object, dataset and cutover step.

The coordinator is its only writer. ``Journal`` stores; ``NullJournal`` records nothing
(dry runs, audits); both satisfy ``JournalStore``. See docs/journal.md.
"""

from hdh_migrate.journal.base import JournalStore
from hdh_migrate.journal.models import (
    Approval,
    CopyResult,
    InvalidTransition,
    InventoryEntry,
    Item,
    JournalError,
    Lease,
    Run,
    StateCount,
    Transition,
    Upload,
    UpsertCounts,
    item_id_for,
)
from hdh_migrate.journal.null import NullJournal
from hdh_migrate.journal.states import DatasetState, ItemState
from hdh_migrate.journal.store import Journal

__all__ = [
    "Approval",
    "CopyResult",
    "DatasetState",
    "InvalidTransition",
    "InventoryEntry",
    "Item",
    "ItemState",
    "Journal",
    "JournalError",
    "JournalStore",
    "Lease",
    "NullJournal",
    "Run",
    "StateCount",
    "Transition",
    "Upload",
    "UpsertCounts",
    "item_id_for",
]

"""Item and dataset state machines, and which transitions each allows.

Items (one per source object)::

    pending → copying → copied → verified
       │         ↘ failed(reason, attempts) → copying (retry) / pending
       └→ skipped(reason) · flagged(reason)   (oversized, archive tier, invalid name …)

``copying → pending`` is the reconcile step on resume; a source object that changed
since it was copied goes back to ``pending`` from any state (inventory upsert).

Datasets (the cutover, issue 7)::

    new → copying → verified → frozen → delta_synced → final_verified → switched → finalized
                                  ↘──────────↘──────────────↘──────────────↘→ rolled_back

Rollback is allowed from every state after ``verified`` and before ``finalized``;
``finalized`` is the point of no return. A rolled-back dataset can be frozen again.
"""

from __future__ import annotations

from enum import StrEnum


class ItemState(StrEnum):
    PENDING = "pending"
    COPYING = "copying"
    COPIED = "copied"
    VERIFIED = "verified"
    FAILED = "failed"
    SKIPPED = "skipped"
    FLAGGED = "flagged"


class DatasetState(StrEnum):
    NEW = "new"
    COPYING = "copying"
    VERIFIED = "verified"
    FROZEN = "frozen"
    DELTA_SYNCED = "delta_synced"
    FINAL_VERIFIED = "final_verified"
    SWITCHED = "switched"
    FINALIZED = "finalized"
    ROLLED_BACK = "rolled_back"


_I = ItemState
ITEM_TRANSITIONS: dict[ItemState, frozenset[ItemState]] = {
    _I.PENDING: frozenset({_I.COPYING, _I.SKIPPED, _I.FLAGGED, _I.FAILED}),
    _I.COPYING: frozenset({_I.COPIED, _I.FAILED, _I.PENDING}),
    _I.COPIED: frozenset({_I.VERIFIED, _I.FAILED}),
    _I.VERIFIED: frozenset({_I.FAILED}),
    _I.FAILED: frozenset({_I.COPYING, _I.PENDING, _I.SKIPPED, _I.FLAGGED}),
    _I.SKIPPED: frozenset({_I.PENDING}),
    _I.FLAGGED: frozenset({_I.PENDING}),
}

_D = DatasetState
ROLLBACK_FROM = frozenset({_D.FROZEN, _D.DELTA_SYNCED, _D.FINAL_VERIFIED, _D.SWITCHED})
DATASET_TRANSITIONS: dict[DatasetState, frozenset[DatasetState]] = {
    _D.NEW: frozenset({_D.COPYING}),
    _D.COPYING: frozenset({_D.VERIFIED}),
    _D.VERIFIED: frozenset({_D.COPYING, _D.FROZEN}),
    _D.FROZEN: frozenset({_D.DELTA_SYNCED, _D.ROLLED_BACK}),
    _D.DELTA_SYNCED: frozenset({_D.FINAL_VERIFIED, _D.ROLLED_BACK}),
    _D.FINAL_VERIFIED: frozenset({_D.SWITCHED, _D.ROLLED_BACK}),
    _D.SWITCHED: frozenset({_D.FINALIZED, _D.ROLLED_BACK}),
    _D.FINALIZED: frozenset(),
    _D.ROLLED_BACK: frozenset({_D.FROZEN, _D.COPYING}),
}


def item_sources(target: ItemState) -> frozenset[ItemState]:
    """The item states from which ``target`` may be entered."""
    return frozenset(s for s, allowed in ITEM_TRANSITIONS.items() if target in allowed)


def dataset_allows(current: DatasetState, target: DatasetState) -> bool:
    """True when a dataset in ``current`` may move to ``target``."""
    if target is _D.ROLLED_BACK:
        return current in ROLLBACK_FROM
    return target in DATASET_TRANSITIONS[current]

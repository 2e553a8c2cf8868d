"""The delta and the final pass of a frozen dataset: list again, diff against the journal
(ETag, size, last-modified), copy + verify created and changed objects through
``Migration.run_dataset``, record deletions (``skipped``, ``deleted at source``; their
copies at the target are kept). The final pass's residual delta counts against
``gates.max_delta_objects``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from hdh_migrate.engine.cutover.base import CutoverContext, S
from hdh_migrate.engine.run.object_ids import object_id
from hdh_migrate.engine.run.runner import Context
from hdh_migrate.errors import ObjectsFailedError
from hdh_migrate.journal import Item, ItemState
from hdh_migrate.stages import delta as deltas


class Delta:
    """frozen ─delta─▶ delta_synced ─final pass─▶ final_verified, and the verified share,
    on the cutover's shared context."""

    def __init__(self, shared: CutoverContext) -> None:
        self.shared = shared

    def sync_delta(self, ctx: Context) -> None:
        counts = self._sync(ctx, "delta")
        self.shared.report.step(ctx.eff.name, "delta", **counts)
        self.shared.move(ctx, S.DELTA_SYNCED, {"delta": counts})

    def final_pass(self, ctx: Context) -> None:
        residual = self._sync(ctx, "residual")
        pct, unverified = self.verified(ctx.eff.name)
        self.shared.report.step(ctx.eff.name, "final", residual=residual, verified_pct=pct)
        self.shared.move(
            ctx,
            S.FINAL_VERIFIED,
            {"residual": residual, "verified_pct": f"{pct:.3f}", "unverified": unverified},
        )

    def _sync(self, ctx: Context, label: str) -> dict[str, Any]:
        """Diff, record deletions, copy + verify created/changed objects; the counts."""
        counts = deltas.DeltaCounts()
        with deltas.SeenKeys(self.shared.plan.state_path) as seen:
            for change in deltas.listing_changes(
                self.shared.listing(ctx), self._lookup(ctx), seen, counts
            ):
                self._force_recopy(ctx, change)
            for change in deltas.deleted(self._known(ctx), seen):
                counts.count(change)
                self._record_deleted(ctx, change, label)
        outcome = self.shared.job.run_dataset(ctx.eff.name)
        problems = outcome.failed + outcome.unverifiable  # unverifiable: checked next time
        if problems:
            key, reason = problems[0]
            raise ObjectsFailedError(
                f"{label} of {ctx.eff.name}: "
                f"{len(problems)} object(s) failed or not verified ({key}: {reason})",
                hint="re-run the cutover to retry them (the source stays frozen)",
            )
        return counts.to_dict() | {"copied": outcome.copied, "bytes_copied": outcome.bytes_copied}

    def _lookup(self, ctx: Context) -> Callable[[str], deltas.Known | None]:
        def lookup(key: str) -> deltas.Known | None:
            item = self.shared.journal.get(ctx.eff.name, key)
            if item is None or _is_deleted(item):
                return None
            return deltas.Known(item.key, item.size, item.etag, item.last_modified)

        return lookup

    def _known(self, ctx: Context) -> Iterator[deltas.Known]:
        for item in self.shared.journal.items(dataset=ctx.eff.name):
            if not _is_deleted(item):
                yield deltas.Known(item.key, item.size, item.etag, item.last_modified)

    def _force_recopy(self, ctx: Context, change: deltas.Change) -> None:
        """A change the inventory upsert would not see (same ETag and size, new
        last-modified time, or an object deleted then re-created): send it to be copied."""
        item = self.shared.journal.get(ctx.eff.name, change.key)
        if item is None:
            return
        if change.why == "last_modified" and item.state in (ItemState.VERIFIED, ItemState.COPIED):
            self.shared.journal.mark_failed(item.item_id, "changed at source (last-modified)")
        elif _is_deleted(item):
            self.shared.journal.reset_to_pending(item.item_id, "re-created at source")

    def _record_deleted(self, ctx: Context, change: deltas.Change, label: str) -> None:
        """Manifest first (evidence is never lost; a crash may repeat it), then journal."""
        item = self.shared.journal.get(ctx.eff.name, change.key)
        assert item is not None
        state = self.shared.state(ctx.eff.name)
        self.shared.job.manifest.append(
            {
                "type": "cutover",
                "dataset": ctx.eff.name,
                "wave": ctx.eff.wave.name,
                "from_state": str(state),
                "to_state": str(state),
                "event": "deleted_at_source",
                "step": label,
                "object_id": object_id(item),
                "source_key": item.key,
                "target_key": item.target_key,
                "target_kept": True,
            }
        )
        _mark_deleted(self.shared.journal, item)

    def verified(self, dataset: str) -> tuple[float, dict[str, int]]:
        counts = {c.state: c.count for c in self.shared.journal.counts(dataset)}
        counts.pop(ItemState.SKIPPED, None)
        total = sum(counts.values())
        verified = counts.get(ItemState.VERIFIED, 0)
        unverified = {str(s): n for s, n in counts.items() if s is not ItemState.VERIFIED}
        return (100.0 if total == 0 else 100.0 * verified / total), unverified

    def full_readback(self, dataset: str) -> float:
        """Share of the dataset's objects (deleted ones excepted) verified by full read-back."""
        counts = {c.state: c.count for c in self.shared.journal.counts(dataset)}
        counts.pop(ItemState.SKIPPED, None)
        total = sum(counts.values())
        full = self.shared.journal.verified_modes(dataset).get("full", 0)
        return 100.0 if total == 0 else 100.0 * full / total


def _is_deleted(item: Item) -> bool:
    return item.state is ItemState.SKIPPED and item.reason == deltas.DELETED_REASON


def _mark_deleted(journal: Any, item: Item) -> None:
    """Any state → skipped(deleted at source), through the states the journal allows."""
    reason = deltas.DELETED_REASON
    if item.state in (ItemState.VERIFIED, ItemState.COPIED):
        journal.mark_failed(item.item_id, reason)
    elif item.state in (ItemState.COPYING, ItemState.FLAGGED, ItemState.SKIPPED):
        journal.reset_to_pending(item.item_id, reason)
    journal.mark_skipped(item.item_id, reason)

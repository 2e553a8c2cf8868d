"""Freeze and unfreeze of a wave's source, by strategy.

- ``leases``: lease every selected blob of each dataset (bounded thread pool, ids
  journaled in batches; ids are deterministic per plan, dataset, key and freeze epoch),
  then rewrite the smallest leased blob without the id and expect a refusal. Unfreeze
  releases every journaled lease, then sweeps leases taken under this epoch's ids but
  never journaled (a crash).
- ``hook``: the plan's freeze (unfreeze) hook; ``manual``: the operator confirms. Both
  then write a canary and expect a refusal (unfreeze: expect the write to succeed).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from hdh_migrate.engine.cutover.base import CutoverContext, CutoverError, S
from hdh_migrate.engine.run.runner import Context
from hdh_migrate.errors import UsageError
from hdh_migrate.execution import imap_unordered
from hdh_migrate.plan import Wave
from hdh_migrate.plan.cutover import Cutover
from hdh_migrate.stages import freeze as freezing

LEASE_BATCH = 100
_FREEZABLE = (S.VERIFIED, S.ROLLED_BACK)


class Freeze:
    """Freeze (``freeze``) and unfreeze (``unfreeze``, ``sweep_idle``) of datasets, on the
    cutover's shared context."""

    def __init__(self, shared: CutoverContext) -> None:
        self.shared = shared

    def freeze(self, wave: Wave, cut: Cutover) -> None:
        shared = self.shared
        todo = [d.name for d in wave.datasets if shared.state(d.name) in _FREEZABLE]
        if not todo:
            return
        strategy = cut.freeze.strategy
        if strategy == "hook":
            shared.run_hooks(wave, [cut.freeze.hook] if cut.freeze.hook else [], "freeze")
        elif strategy == "manual" and not shared.confirm(_MANUAL_FREEZE.format(wave=wave.name)):
            raise UsageError(
                "manual freeze not confirmed: revoke write access to the source, then confirm",
                hint="re-run with --yes once writes are revoked (or answer the prompt)",
            )
        for name in todo:
            ctx = self.shared.job.context(name)
            detail = self._lease(ctx) if strategy == "leases" else self._canary(ctx, strategy)
            self.shared.move(ctx, S.FROZEN, detail)

    def _lease(self, ctx: Context) -> dict[str, Any]:
        source = self.shared.job.clients.backend(ctx.source)
        backend = freezing.leasing(source)
        epoch = self.shared.epoch(ctx.eff.name)
        tally = self._lease_all(ctx, backend, epoch)
        leased, smallest = tally.leased, tally.smallest
        if tally.failed:
            shown = "; ".join(
                f"{r.key}: {r.outcome} {r.error or ''}".strip() for r in tally.problems
            )
            raise CutoverError(
                f"freeze of {ctx.eff.name} incomplete: {tally.failed} blob(s) not leased ({shown})",
                hint="the leases taken are journaled: `hdh-migrate rollback` releases them; "
                "a blob leased by someone else must be released by its owner",
            )
        probe = self._probe_leases(ctx, smallest)
        self.shared.report.step(
            ctx.eff.name, "freeze", strategy="leases", leases=leased, probe=probe
        )
        return {"strategy": "leases", "leases": leased, "epoch": epoch, "probe": probe}

    def _lease_all(self, ctx: Context, backend: freezing.Leasing, epoch: int) -> _Tally:
        """Lease every selected blob, journaling ids in batches; the tally of outcomes."""
        name, plan, tally = ctx.eff.name, self.shared.plan.name, _Tally()

        def keys() -> Iterator[str]:
            for info in self.shared.listing(ctx):
                tally.see(info.size, info.key)
                yield info.key

        def take(key: str) -> freezing.LeaseResult:
            return freezing.acquire(backend, key, freezing.lease_id_for(plan, name, key, epoch))

        with ThreadPoolExecutor(self.shared.lease_workers, thread_name_prefix="lease") as pool:
            for _, future in imap_unordered(pool, take, keys(), 4 * self.shared.lease_workers):
                if len(tally.add(future.result())) >= LEASE_BATCH:
                    self.shared.journal.record_leases(name, tally.take_batch())
        self.shared.journal.record_leases(name, tally.take_batch())
        return tally

    def _probe_leases(self, ctx: Context, smallest: tuple[int, str] | None) -> dict[str, Any]:
        if smallest is None:
            return {"held": True, "detail": "no blob to lease (empty dataset)", "key": None}
        source = self.shared.job.clients.backend(ctx.source)
        probe = freezing.probe_leased(source, smallest[1])
        if not probe.held:
            raise CutoverError(
                f"freeze of {ctx.eff.name} does not hold: {probe.detail} ({probe.key})",
                hint="the source accepted a write without the lease id; `hdh-migrate rollback`",
            )
        return probe.to_dict()

    def _canary(self, ctx: Context, strategy: str) -> dict[str, Any]:
        source = self.shared.job.clients.backend(ctx.source)
        probe = freezing.probe_canary(source, ctx.eff.dataset.prefix)
        self.shared.report.step(ctx.eff.name, "freeze", strategy=strategy, probe=probe.to_dict())
        if not probe.held:
            raise CutoverError(
                f"freeze of {ctx.eff.name} does not hold: {probe.detail} ({probe.key}; deleted)",
                hint="check the freeze hook or the manual procedure, then re-run the cutover",
            )
        return {"strategy": strategy, "probe": probe.to_dict()}

    def sweep_idle(self, wave: Wave, cut: Cutover, names: list[str]) -> int:
        """Datasets not frozen as far as the journal knows may still hold leases taken
        just before a crash (not journaled yet): release those under this epoch's ids."""
        if cut.freeze.strategy != "leases":
            return 0
        swept = 0
        for name in names:
            if self.shared.state(name) in (S.VERIFIED, S.ROLLED_BACK):
                ctx = self.shared.job.context(name)
                backend = freezing.leasing(self.shared.job.clients.backend(ctx.source))
                swept += self._sweep(ctx, backend)
        return swept

    def has_leases(self, dataset: str) -> bool:
        return next(iter(self.shared.journal.leases(dataset, page_size=1)), None) is not None

    def unfreeze(self, wave: Wave, cut: Cutover, names: list[str]) -> None:
        strategy = cut.freeze.strategy
        if strategy == "hook" and cut.freeze.unfreeze is not None:
            self.shared.run_hooks(wave, [cut.freeze.unfreeze], "unfreeze")
        elif strategy == "manual" and not self.shared.confirm(
            _MANUAL_UNFREEZE.format(wave=wave.name)
        ):
            raise UsageError(
                "manual unfreeze not confirmed: restore write access to the source, then confirm",
                hint="re-run with --yes once writes are restored (or answer the prompt)",
            )
        for name in names:
            ctx = self.shared.job.context(name)
            if strategy == "leases":
                self._release(ctx)
            else:
                self._probe_writable(ctx, strategy, cut)

    def _release(self, ctx: Context) -> None:
        name, source = ctx.eff.name, self.shared.job.clients.backend(ctx.source)
        backend = freezing.leasing(source)
        released = foreign = 0

        def free(lease: Any) -> freezing.LeaseResult:
            return freezing.release(backend, lease.key, lease.lease_id)

        with ThreadPoolExecutor(self.shared.lease_workers, thread_name_prefix="release") as pool:
            for _, future in imap_unordered(
                pool, free, self.shared.journal.leases(name), 4 * self.shared.lease_workers
            ):
                result = future.result()
                if result.outcome == "error":
                    raise CutoverError(
                        f"rollback of {name}: lease on {result.key!r} not released: {result.error}",
                        hint="re-run `hdh-migrate rollback` (released leases are journaled)",
                    )
                foreign += result.outcome == "foreign"
                released += self.shared.journal.release_lease(name, result.key)
        swept = self._sweep(ctx, backend)
        self.shared.report.step(
            name, "unfreeze", strategy="leases", released=released, not_ours=foreign, swept=swept
        )

    def _sweep(self, ctx: Context, backend: freezing.Leasing) -> int:
        """Release leases taken under this epoch's ids but never journaled (a crash)."""
        name, epoch, swept = ctx.eff.name, self.shared.epoch(ctx.eff.name), 0
        for info in self.shared.listing(ctx):
            if info.extra.get("lease_state") != "leased":
                continue
            lease_id = freezing.lease_id_for(self.shared.plan.name, name, info.key, epoch)
            swept += freezing.release(backend, info.key, lease_id).outcome == "released"
        return swept

    def _probe_writable(self, ctx: Context, strategy: str, cut: Cutover) -> None:
        probe = freezing.probe_writable(
            self.shared.job.clients.backend(ctx.source), ctx.eff.dataset.prefix
        )
        self.shared.report.step(ctx.eff.name, "unfreeze", strategy=strategy, probe=probe.to_dict())
        if not probe.held:
            missing = strategy == "hook" and cut.freeze.unfreeze is None
            raise CutoverError(
                f"rollback of {ctx.eff.name}: the source is still read-only ({probe.detail})",
                hint="the plan has no freeze.unfreeze hook: restore write access by hand, "
                "then re-run"
                if missing
                else "restore write access to the source, then re-run `hdh-migrate rollback`",
            )


@dataclass
class _Tally:
    """Lease outcomes: counts, the batch of ids not yet journaled, the first problems, and
    the smallest blob seen (the one the probe rewrites). Bounded memory."""

    leased: int = 0
    failed: int = 0
    smallest: tuple[int, str] | None = None
    batch: list[tuple[str, str]] = field(default_factory=list)
    problems: list[freezing.LeaseResult] = field(default_factory=list)

    def see(self, size: int, key: str) -> None:
        if self.smallest is None or size < self.smallest[0]:
            self.smallest = (size, key)

    def add(self, result: freezing.LeaseResult) -> list[tuple[str, str]]:
        if result.outcome == "leased":
            self.leased += 1
            self.batch.append((result.key, result.lease_id))
        elif result.outcome != "gone":
            self.failed += 1
            if len(self.problems) < 3:
                self.problems.append(result)
        return self.batch

    def take_batch(self) -> list[tuple[str, str]]:
        batch, self.batch = self.batch, []
        return batch


_MANUAL_FREEZE = (
    "Wave {wave}: freeze strategy is manual. Have writes to the source been revoked "
    "(a probe write will check)?"
)
_MANUAL_UNFREEZE = "Wave {wave}: has write access to the source been restored by hand?"

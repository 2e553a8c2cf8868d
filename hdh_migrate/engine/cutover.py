"""Cutover, rollback and finalize of one wave: the dataset state machine, driven.

Per dataset, journaled (``journal.move_dataset``) and recorded in the manifest (a
``cutover`` record per transition, a ``rollback`` record per rollback)::

    verified ─freeze─▶ frozen ─delta─▶ delta_synced ─final pass─▶ final_verified
        ─gates + switch hooks─▶ switched ─finalize─▶ finalized (point of no return)
    frozen … switched ─rollback─▶ rolled_back (source writable, readers back) ─▶ frozen …

Every step is idempotent and resumes from the journal: re-running ``cutover`` after a
crash redoes the current step of each dataset (lease ids are deterministic, so leases
taken but not yet journaled are taken again under the same id; the delta is recomputed
from a fresh listing; switch hooks re-run unless every dataset is already switched).

- Freeze (wave-level): ``leases`` leases every selected blob of each dataset (bounded
  thread pool, ids journaled in batches), then rewrites the smallest leased blob without
  the id and expects a refusal; ``hook`` runs the plan's freeze hook, ``manual`` asks the
  operator; both then write a canary and expect a refusal.
- Delta: list again, diff against the journal (ETag, size, last-modified); created and
  changed objects go through the ordinary ``Migration.run_dataset`` (inventory upsert →
  copy → verify → object records); deleted ones are marked ``skipped`` with the reason
  ``deleted at source`` and get a manifest record. Their copies at the target are KEPT.
- Final pass: the same again; what it still finds is the residual delta (changes made
  while frozen), synced too, counted against ``gates.max_delta_objects``.
- Switch: gates (see gates.py), then the switch hooks in order, then every dataset →
  switched. A failed hook leaves the datasets final_verified: fix and re-run, or roll back.
- Rollback: rollback hooks (when a switch may have begun), then unfreeze (release every
  lease — journaled or still under this epoch's id — or run the unfreeze hook), a probe
  that writes are back, then every dataset → rolled_back.
- Finalize: switched → finalized. Leases stay held (the old source stays read-only; ids
  remain in the journal for decommissioning).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hdh_migrate import __version__
from hdh_migrate.engine.gates import GateInputs, GateResult, enforce, evaluate
from hdh_migrate.engine.hooks import HookResult, HookRunner
from hdh_migrate.engine.runner import Context, Migration
from hdh_migrate.engine.specs import target_endpoint
from hdh_migrate.errors import GateRefusedError, HdhError, ObjectsFailedError, UsageError
from hdh_migrate.execution import imap_unordered
from hdh_migrate.journal import DatasetState, Item, ItemState
from hdh_migrate.plan import Wave
from hdh_migrate.plan.cutover import Cutover, Hook
from hdh_migrate.stages import delta as deltas
from hdh_migrate.stages import freeze as freezing
from hdh_migrate.stages.inventory import inventory

S = DatasetState
LEASE_BATCH = 100
_ORDER = (
    S.NEW,
    S.COPYING,
    S.VERIFIED,
    S.ROLLED_BACK,
    S.FROZEN,
    S.DELTA_SYNCED,
    S.FINAL_VERIFIED,
    S.SWITCHED,
    S.FINALIZED,
)


class CutoverError(HdhError):
    """A cutover step could not be completed (freeze not holding, hook failed …)."""


def refuse(_: str) -> bool:
    """The default confirmation: no operator to ask."""
    return False


@dataclass
class Report:
    """What a cutover, rollback or finalize did: written as JSON and Markdown."""

    command: str
    plan: str
    wave: str
    operator: str
    started: str = field(default_factory=lambda: _now())
    ended: str | None = None
    outcome: str = "running"
    message: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    hooks: list[dict[str, Any]] = field(default_factory=list)
    gates: list[dict[str, Any]] = field(default_factory=list)
    datasets: dict[str, str] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)

    def step(self, dataset: str, name: str, **detail: Any) -> None:
        self.steps.append({"dataset": dataset, "step": name, "at": _now(), **detail})

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "paths"} | {
            "tool_version": __version__
        }

    def write(self, directory: Path) -> list[Path]:
        """``<dir>/reports/<command>-<wave>-<time>.json`` and ``.md``."""
        folder = directory / "reports"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = self.started.replace(":", "").replace("-", "").replace(".", "-").rstrip("Z")
        base = folder / f"{self.command}-{self.wave}-{stamp}"
        json_path, md_path = base.with_suffix(".json"), base.with_suffix(".md")
        json_path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        md_path.write_text(markdown(self))
        self.paths = [str(json_path), str(md_path)]
        return [json_path, md_path]


class WaveCutover:
    """Drives one wave through cutover, rollback or finalize, on a Migration's collaborators
    (journal, manifest, clients, executor, reporter)."""

    def __init__(
        self,
        job: Migration,
        *,
        operator: str,
        hooks: HookRunner | None = None,
        confirm: Callable[[str], bool] = refuse,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        lease_workers: int = 16,
    ) -> None:
        self.job, self.plan, self.journal = job, job.plan, job.journal
        self.operator, self.hooks = operator, hooks or HookRunner()
        self.confirm, self.clock, self.lease_workers = confirm, clock, lease_workers
        self.report = Report("none", self.plan.name, "", operator)

    # ================================================================== commands

    def cutover(self, wave_name: str, approvals: Sequence[str] = ()) -> Report:
        """Freeze → delta → final pass → gates → switch, resuming where the journal says."""
        return self._command("cutover", wave_name, lambda w: self._cutover(w, approvals))

    def rollback(self, wave_name: str) -> Report:
        """Readers back to the source, source writable, datasets rolled_back."""
        return self._command("rollback", wave_name, self._rollback)

    def finalize(self, wave_name: str, confirmed: bool) -> Report:
        """switched → finalized: the point of no return (``confirmed`` must be True)."""
        if not confirmed:
            raise UsageError(
                "finalize is the point of no return: after it, rollback is impossible",
                hint="re-run with --yes once you are sure (or answer the prompt on a terminal)",
            )
        return self._command("finalize", wave_name, self._finalize)

    def _command(self, command: str, wave_name: str, body: Callable[[Wave], str]) -> Report:
        wave = self._wave(wave_name)
        self.report = Report(command, self.plan.name, wave.name, self.operator)
        started = time.monotonic()
        try:
            self.report.message = body(wave)
            self.report.outcome = "ok"
        except BaseException as error:
            self.report.outcome = "refused" if isinstance(error, GateRefusedError) else "failed"
            self.report.message = _one_line(error)
            raise
        finally:
            self.report.durations["total_s"] = round(time.monotonic() - started, 3)
            self.report.datasets = {d.name: str(self._state(d.name)) for d in wave.datasets}
            self.report.ended = _now()
            self.report.write(self.plan.state_path)
        return self.report

    def _wave(self, name: str) -> Wave:
        try:
            wave = self.plan.wave(name)
        except KeyError:
            names = ", ".join(w.name for w in self.plan.waves)
            raise UsageError(
                f"no wave {name!r} in plan {self.plan.name!r}", hint=f"waves: {names}"
            ) from None
        if wave.cutover is None:
            raise UsageError(
                f"wave {name!r} has no cutover section",
                hint="add waves[].cutover (freeze, gates, switch, rollback) to the plan",
            )
        return wave

    # ================================================================== cutover

    def _cutover(self, wave: Wave, approvals: Sequence[str]) -> str:
        cut = _cut(wave)
        self._check_dependencies(wave)
        self._approve(wave, approvals)
        states = self._states(wave)
        if all(s in (S.SWITCHED, S.FINALIZED) for s in states.values()):
            return f"wave {wave.name} is already {_summary(states)}"
        self._check_ready(wave, states)
        enforce(self._gates(wave, switching=False))
        self._timed("freeze_s", lambda: self._freeze(wave, cut))
        self._timed("delta_s", lambda: self._each(wave, S.FROZEN, self._delta))
        self._timed("final_s", lambda: self._each(wave, S.DELTA_SYNCED, self._final_pass))
        results = self._gates(wave, switching=True)
        self.report.gates = [r.to_dict() for r in results]
        enforce(results)
        self._timed("switch_s", lambda: self._switch(wave, cut, results))
        return f"wave {wave.name} switched to the target"

    def _timed(self, name: str, step: Callable[[], None]) -> None:
        started = time.monotonic()
        step()
        self.report.durations[name] = round(time.monotonic() - started, 3)

    def _check_dependencies(self, wave: Wave) -> None:
        for name in wave.depends_on:
            pending = {d.name: self._state(d.name) for d in self.plan.wave(name).datasets}
            late = {d: s for d, s in pending.items() if s is not S.FINALIZED}
            if late:
                raise GateRefusedError(
                    f"gate depends_on refused: wave {name!r} is not finalized ({_summary(late)})",
                    hint=f"cut over and finalize wave {name!r} first",
                )

    def _check_ready(self, wave: Wave, states: dict[str, DatasetState]) -> None:
        early = {d: s for d, s in states.items() if _ORDER.index(s) < _ORDER.index(S.VERIFIED)}
        if early:
            raise GateRefusedError(
                f"gate verified refused: not every dataset is verified ({_summary(early)})",
                hint="run `hdh-migrate run PLAN` until `status` shows every dataset verified",
            )

    def _each(self, wave: Wave, state: DatasetState, step: Callable[[Context], None]) -> None:
        for ds in wave.datasets:
            if self._state(ds.name) is state:
                step(self.job.context(ds.name))

    # ------------------------------------------------------------------ freeze

    def _freeze(self, wave: Wave, cut: Cutover) -> None:
        todo = [d.name for d in wave.datasets if self._state(d.name) in (S.VERIFIED, S.ROLLED_BACK)]
        if not todo:
            return
        strategy = cut.freeze.strategy
        if strategy == "hook":
            self._run_hooks(wave, [cut.freeze.hook] if cut.freeze.hook else [], "freeze")
        elif strategy == "manual" and not self.confirm(_MANUAL_FREEZE.format(wave=wave.name)):
            raise UsageError(
                "manual freeze not confirmed: revoke write access to the source, then confirm",
                hint="re-run with --yes once writes are revoked (or answer the prompt)",
            )
        for name in todo:
            ctx = self.job.context(name)
            detail = self._lease(ctx) if strategy == "leases" else self._canary(ctx, strategy)
            self._move(ctx, S.FROZEN, detail)

    def _lease(self, ctx: Context) -> dict[str, Any]:
        source = self.job.clients.backend(ctx.source)
        backend = freezing.leasing(source)
        epoch = self._epoch(ctx.eff.name)
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
        self.report.step(ctx.eff.name, "freeze", strategy="leases", leases=leased, probe=probe)
        return {"strategy": "leases", "leases": leased, "epoch": epoch, "probe": probe}

    def _lease_all(self, ctx: Context, backend: freezing.Leasing, epoch: int) -> _Tally:
        """Lease every selected blob, journaling ids in batches; the tally of outcomes."""
        name, plan, tally = ctx.eff.name, self.plan.name, _Tally()

        def keys() -> Iterator[str]:
            for info in self._listing(ctx):
                tally.see(info.size, info.key)
                yield info.key

        def take(key: str) -> freezing.LeaseResult:
            return freezing.acquire(backend, key, freezing.lease_id_for(plan, name, key, epoch))

        with ThreadPoolExecutor(self.lease_workers, thread_name_prefix="lease") as pool:
            for _, future in imap_unordered(pool, take, keys(), 4 * self.lease_workers):
                if len(tally.add(future.result())) >= LEASE_BATCH:
                    self.journal.record_leases(name, tally.take_batch())
        self.journal.record_leases(name, tally.take_batch())
        return tally

    def _probe_leases(self, ctx: Context, smallest: tuple[int, str] | None) -> dict[str, Any]:
        if smallest is None:
            return {"held": True, "detail": "no blob to lease (empty dataset)", "key": None}
        source = self.job.clients.backend(ctx.source)
        probe = freezing.probe_leased(source, smallest[1])
        if not probe.held:
            raise CutoverError(
                f"freeze of {ctx.eff.name} does not hold: {probe.detail} ({probe.key})",
                hint="the source accepted a write without the lease id; `hdh-migrate rollback`",
            )
        return probe.to_dict()

    def _canary(self, ctx: Context, strategy: str) -> dict[str, Any]:
        source = self.job.clients.backend(ctx.source)
        probe = freezing.probe_canary(source, ctx.eff.dataset.prefix)
        self.report.step(ctx.eff.name, "freeze", strategy=strategy, probe=probe.to_dict())
        if not probe.held:
            raise CutoverError(
                f"freeze of {ctx.eff.name} does not hold: {probe.detail} ({probe.key}; deleted)",
                hint="check the freeze hook or the manual procedure, then re-run the cutover",
            )
        return {"strategy": strategy, "probe": probe.to_dict()}

    def _epoch(self, dataset: str) -> int:
        """How many rollbacks the dataset went through: each freeze epoch has its lease ids."""
        return sum(t.to_state is S.ROLLED_BACK for t in self.journal.transitions(dataset))

    # ------------------------------------------------------------------ delta

    def _delta(self, ctx: Context) -> None:
        counts = self._sync(ctx, "delta")
        self.report.step(ctx.eff.name, "delta", **counts)
        self._move(ctx, S.DELTA_SYNCED, {"delta": counts})

    def _final_pass(self, ctx: Context) -> None:
        residual = self._sync(ctx, "residual")
        pct, unverified = self._verified(ctx.eff.name)
        self.report.step(ctx.eff.name, "final", residual=residual, verified_pct=pct)
        self._move(
            ctx,
            S.FINAL_VERIFIED,
            {"residual": residual, "verified_pct": f"{pct:.3f}", "unverified": unverified},
        )

    def _sync(self, ctx: Context, label: str) -> dict[str, Any]:
        """Diff, record deletions, copy + verify created/changed objects; the counts."""
        counts = deltas.DeltaCounts()
        with deltas.SeenKeys(self.plan.state_path) as seen:
            for change in deltas.listing_changes(
                self._listing(ctx), self._lookup(ctx), seen, counts
            ):
                self._force_recopy(ctx, change)
            for change in deltas.deleted(self._known(ctx), seen):
                counts.count(change)
                self._record_deleted(ctx, change, label)
        outcome = self.job.run_dataset(ctx.eff.name)
        if outcome.failed:
            key, reason = outcome.failed[0]
            raise ObjectsFailedError(
                f"{label} of {ctx.eff.name}: "
                f"{len(outcome.failed)} object(s) failed ({key}: {reason})",
                hint="re-run the cutover to retry them (the source stays frozen)",
            )
        return counts.to_dict() | {"copied": outcome.copied, "bytes_copied": outcome.bytes_copied}

    def _listing(self, ctx: Context) -> Iterator[Any]:
        source = self.job.clients.backend(ctx.source)
        for entry in inventory(source, self.job.selection(ctx)):
            yield entry.info

    def _lookup(self, ctx: Context) -> Callable[[str], deltas.Known | None]:
        def lookup(key: str) -> deltas.Known | None:
            item = self.journal.get(ctx.eff.name, key)
            if item is None or _is_deleted(item):
                return None
            return deltas.Known(item.key, item.size, item.etag, item.last_modified)

        return lookup

    def _known(self, ctx: Context) -> Iterator[deltas.Known]:
        for item in self.journal.items(dataset=ctx.eff.name):
            if not _is_deleted(item):
                yield deltas.Known(item.key, item.size, item.etag, item.last_modified)

    def _force_recopy(self, ctx: Context, change: deltas.Change) -> None:
        """A change the inventory upsert would not see (same ETag and size, new
        last-modified time, or an object deleted then re-created): send it to be copied."""
        item = self.journal.get(ctx.eff.name, change.key)
        if item is None:
            return
        if change.why == "last_modified" and item.state in (ItemState.VERIFIED, ItemState.COPIED):
            self.journal.mark_failed(item.item_id, "changed at source (last-modified)")
        elif _is_deleted(item):
            self.journal.reset_to_pending(item.item_id, "re-created at source")

    def _record_deleted(self, ctx: Context, change: deltas.Change, label: str) -> None:
        """Manifest first (evidence is never lost; a crash may repeat it), then journal."""
        item = self.journal.get(ctx.eff.name, change.key)
        assert item is not None
        state = self._state(ctx.eff.name)
        self.job.manifest.append(
            {
                "type": "cutover",
                "dataset": ctx.eff.name,
                "wave": ctx.eff.wave.name,
                "from_state": str(state),
                "to_state": str(state),
                "event": "deleted_at_source",
                "step": label,
                "object_id": f"{ctx.eff.name}/{item.key[len(ctx.eff.dataset.prefix) :]}",
                "source_key": item.key,
                "target_key": item.target_key,
                "target_kept": True,
            }
        )
        _mark_deleted(self.journal, item)

    def _verified(self, dataset: str) -> tuple[float, dict[str, int]]:
        counts = {c.state: c.count for c in self.journal.counts(dataset)}
        counts.pop(ItemState.SKIPPED, None)
        total = sum(counts.values())
        verified = counts.get(ItemState.VERIFIED, 0)
        unverified = {str(s): n for s, n in counts.items() if s is not ItemState.VERIFIED}
        return (100.0 if total == 0 else 100.0 * verified / total), unverified

    # ------------------------------------------------------------------ gates, switch

    def _gates(self, wave: Wave, switching: bool) -> list[GateResult]:
        cut = _cut(wave)
        return evaluate(cut.gates, self._gate_inputs(wave, switching), switching)

    def _gate_inputs(self, wave: Wave, switching: bool) -> GateInputs:
        pct, residual, held, detail = 100.0, 0, True, ""
        unverified: dict[str, int] = {}
        if switching:
            for ds in wave.datasets:
                final = self._detail(ds.name, S.FINAL_VERIFIED)
                frozen = self._detail(ds.name, S.FROZEN)
                pct = min(pct, self._verified(ds.name)[0])
                for state, n in self._verified(ds.name)[1].items():
                    unverified[state] = unverified.get(state, 0) + n
                residual += int(final.get("residual", {}).get("total", 0))
                probe = frozen.get("probe", {})
                if not probe.get("held", False):
                    held, detail = False, f"{ds.name}: {probe.get('detail', 'no probe recorded')}"
        return GateInputs(
            pct,
            residual,
            held,
            self._approvers(wave),
            self.operator,
            self.clock(),
            detail,
            unverified,
        )

    def _approval_key(self, wave: Wave) -> str:
        """Approvals are kept per wave and freeze epoch (``w``, then ``w#1`` after the first
        rollback …): a rollback makes earlier approvals lapse; the same people may approve
        again."""
        epoch = max(self._epoch(d.name) for d in wave.datasets)
        return wave.name if epoch == 0 else f"{wave.name}#{epoch}"

    def _approve(self, wave: Wave, names: Sequence[str]) -> None:
        """Record new approvals in the journal and, for each dataset, in the manifest."""
        key = self._approval_key(wave)
        known = {a.name for a in self.journal.approvals(key)}
        for name in dict.fromkeys(names):
            if name in known:
                continue
            for ds, state in self._states(wave).items():
                self.job.manifest.append(
                    {
                        "type": "cutover",
                        "dataset": ds,
                        "wave": wave.name,
                        "from_state": str(state),
                        "to_state": str(state),
                        "event": "approval",
                        "approver": name,
                        "operator": self.operator,
                    }
                )
            self.journal.add_approval(key, name, f"given by {self.operator}")

    def _approvers(self, wave: Wave) -> list[str]:
        return [a.name for a in self.journal.approvals(self._approval_key(wave))]

    def _switch(self, wave: Wave, cut: Cutover, gates: list[GateResult]) -> None:
        states = self._states(wave)
        if not any(s is S.SWITCHED for s in states.values()):
            self._run_hooks(wave, cut.switch, "switch")
        approvals = [a.to_dict() for a in self.journal.approvals(self._approval_key(wave))]
        for ds in wave.datasets:
            if self._state(ds.name) is S.FINAL_VERIFIED:
                extra = {"approvals": approvals, "gates": [g.to_dict() for g in gates]}
                self._move(self.job.context(ds.name), S.SWITCHED, extra)

    def _run_hooks(self, wave: Wave, hooks: Sequence[Hook], purpose: str) -> None:
        env = self.hook_env(wave)
        for index, hook in enumerate(hooks, 1):
            label = f"{purpose}[{index}/{len(hooks)}]"
            result: HookResult = self.hooks.run(hook, env, label)
            self.report.hooks.append(result.to_dict())
            self.job.reporter.event("cutover.hook", **result.to_dict())
            if not result.ok:
                raise CutoverError(
                    f"{purpose} hook failed: {result.summary()}",
                    hint=_HOOK_HINTS[purpose],
                )

    def hook_env(self, wave: Wave) -> dict[str, str]:
        """What every hook of ``wave`` receives (the first dataset's target describes it)."""
        first = self.plan.effective(wave.datasets[0])
        return {
            "HDH_TARGET_ENDPOINT": target_endpoint(first.target),
            "HDH_TARGET_BUCKET": first.target.bucket,
            "HDH_TARGET_PREFIX": first.dataset.target_prefix,
            "HDH_WAVE": wave.name,
            "HDH_DATASETS": ",".join(d.name for d in wave.datasets),
            "HDH_PLAN": self.plan.name,
        }

    # ================================================================== rollback

    def _rollback(self, wave: Wave) -> str:
        cut = _cut(wave)
        states = self._states(wave)
        if any(s is S.FINALIZED for s in states.values()):
            raise UsageError(
                f"wave {wave.name} is finalized ({_summary(states)}): rollback is impossible",
                hint="finalize is the point of no return; migrate back with a new plan if needed",
            )
        active = {d: s for d, s in states.items() if s in _ROLLBACK or self._has_leases(d)}
        swept = self._sweep_idle(wave, cut, [d for d in states if d not in active])
        if not active:
            note = f"; {swept} unjournaled lease(s) released" if swept else ""
            return f"nothing to roll back in wave {wave.name} ({_summary(states)}){note}"
        if any(s in (S.FINAL_VERIFIED, S.SWITCHED) for s in active.values()):
            self._run_hooks(wave, cut.rollback, "rollback")
        self._timed("unfreeze_s", lambda: self._unfreeze(wave, cut, list(active)))
        for name, state in active.items():
            self._record_rollback(name, state)
        return f"wave {wave.name} rolled back: the source is writable, readers point to it"

    def _sweep_idle(self, wave: Wave, cut: Cutover, names: list[str]) -> int:
        """Datasets not frozen as far as the journal knows may still hold leases taken
        just before a crash (not journaled yet): release those under this epoch's ids."""
        if cut.freeze.strategy != "leases":
            return 0
        swept = 0
        for name in names:
            if self._state(name) in (S.VERIFIED, S.ROLLED_BACK):
                ctx = self.job.context(name)
                backend = freezing.leasing(self.job.clients.backend(ctx.source))
                swept += self._sweep(ctx, backend)
        return swept

    def _has_leases(self, dataset: str) -> bool:
        return next(iter(self.journal.leases(dataset, page_size=1)), None) is not None

    def _unfreeze(self, wave: Wave, cut: Cutover, names: list[str]) -> None:
        strategy = cut.freeze.strategy
        if strategy == "hook" and cut.freeze.unfreeze is not None:
            self._run_hooks(wave, [cut.freeze.unfreeze], "unfreeze")
        elif strategy == "manual" and not self.confirm(_MANUAL_UNFREEZE.format(wave=wave.name)):
            raise UsageError(
                "manual unfreeze not confirmed: restore write access to the source, then confirm",
                hint="re-run with --yes once writes are restored (or answer the prompt)",
            )
        for name in names:
            ctx = self.job.context(name)
            if strategy == "leases":
                self._release(ctx)
            else:
                self._probe_writable(ctx, strategy, cut)

    def _release(self, ctx: Context) -> None:
        name, source = ctx.eff.name, self.job.clients.backend(ctx.source)
        backend = freezing.leasing(source)
        released = foreign = 0

        def free(lease: Any) -> freezing.LeaseResult:
            return freezing.release(backend, lease.key, lease.lease_id)

        with ThreadPoolExecutor(self.lease_workers, thread_name_prefix="release") as pool:
            for _, future in imap_unordered(
                pool, free, self.journal.leases(name), 4 * self.lease_workers
            ):
                result = future.result()
                if result.outcome == "error":
                    raise CutoverError(
                        f"rollback of {name}: lease on {result.key!r} not released: {result.error}",
                        hint="re-run `hdh-migrate rollback` (released leases are journaled)",
                    )
                foreign += result.outcome == "foreign"
                released += self.journal.release_lease(name, result.key)
        swept = self._sweep(ctx, backend)
        self.report.step(
            name, "unfreeze", strategy="leases", released=released, not_ours=foreign, swept=swept
        )

    def _sweep(self, ctx: Context, backend: freezing.Leasing) -> int:
        """Release leases taken under this epoch's ids but never journaled (a crash)."""
        name, epoch, swept = ctx.eff.name, self._epoch(ctx.eff.name), 0
        for info in self._listing(ctx):
            if info.extra.get("lease_state") != "leased":
                continue
            lease_id = freezing.lease_id_for(self.plan.name, name, info.key, epoch)
            swept += freezing.release(backend, info.key, lease_id).outcome == "released"
        return swept

    def _probe_writable(self, ctx: Context, strategy: str, cut: Cutover) -> None:
        probe = freezing.probe_writable(
            self.job.clients.backend(ctx.source), ctx.eff.dataset.prefix
        )
        self.report.step(ctx.eff.name, "unfreeze", strategy=strategy, probe=probe.to_dict())
        if not probe.held:
            missing = strategy == "hook" and cut.freeze.unfreeze is None
            raise CutoverError(
                f"rollback of {ctx.eff.name}: the source is still read-only ({probe.detail})",
                hint="the plan has no freeze.unfreeze hook: restore write access by hand, "
                "then re-run"
                if missing
                else "restore write access to the source, then re-run `hdh-migrate rollback`",
            )

    def _record_rollback(self, name: str, state: DatasetState) -> None:
        ctx = self.job.context(name)
        record = {
            "type": "rollback",
            "dataset": name,
            "wave": ctx.eff.wave.name,
            "from_state": str(state),
            "reason": "operator rollback" if state in _ROLLBACK else "interrupted freeze undone",
            "operator": self.operator,
        }
        if state in _ROLLBACK:
            self.job.manifest.append(record)
            self.journal.move_dataset(name, S.ROLLED_BACK, json.dumps({"operator": self.operator}))
        else:
            self.job.manifest.append(record)
        self.report.step(name, "rolled_back", from_state=str(state))

    # ================================================================== finalize

    def _finalize(self, wave: Wave) -> str:
        states = self._states(wave)
        late = {d: s for d, s in states.items() if s not in (S.SWITCHED, S.FINALIZED)}
        if late:
            raise UsageError(
                f"wave {wave.name} cannot be finalized: "
                f"not every dataset is switched ({_summary(late)})",
                hint="run `hdh-migrate cutover` first",
            )
        for ds in wave.datasets:
            if self._state(ds.name) is S.SWITCHED:
                kept = sum(1 for _ in self.journal.leases(ds.name))
                self._move(
                    self.job.context(ds.name),
                    S.FINALIZED,
                    {"point_of_no_return": True, "leases_kept": kept},
                )
        return f"wave {wave.name} finalized: rollback is no longer possible"

    # ================================================================== bookkeeping

    def _state(self, dataset: str) -> DatasetState:
        return self.journal.dataset_state(dataset) or S.NEW

    def _states(self, wave: Wave) -> dict[str, DatasetState]:
        return {d.name: self._state(d.name) for d in wave.datasets}

    def _detail(self, dataset: str, state: DatasetState) -> dict[str, Any]:
        for transition in reversed(self.journal.transitions(dataset)):
            if transition.to_state is state:
                return dict(json.loads(transition.detail or "{}"))
        return {}

    def _move(self, ctx: Context, target: DatasetState, detail: dict[str, Any]) -> None:
        """Manifest record, then the journal transition (a crash in between repeats the
        record on resume, never loses it)."""
        name, current = ctx.eff.name, self._state(ctx.eff.name)
        if current is target:
            return
        self.job.manifest.append(
            {
                "type": "cutover",
                "dataset": name,
                "wave": ctx.eff.wave.name,
                "from_state": str(current),
                "to_state": str(target),
                "operator": self.operator,
                "detail": detail,
            }
        )
        self.journal.move_dataset(name, target, json.dumps(detail, sort_keys=True))
        self.job.reporter.event(
            "cutover.state", dataset=name, from_state=str(current), to_state=str(target)
        )
        self.report.step(name, str(target), from_state=str(current))


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


_ROLLBACK = (S.FROZEN, S.DELTA_SYNCED, S.FINAL_VERIFIED, S.SWITCHED)
_HOOK_HINTS = {
    "freeze": "the source may be partly frozen: fix the hook and re-run, or roll back",
    "switch": "readers may be partly switched: fix and re-run the cutover, or roll back",
    "rollback": "readers may be partly switched back: fix the hook, re-run the rollback",
    "unfreeze": "the source may still be read-only: fix the hook, re-run the rollback",
}
_MANUAL_FREEZE = (
    "Wave {wave}: freeze strategy is manual. Have writes to the source been revoked "
    "(a probe write will check)?"
)
_MANUAL_UNFREEZE = "Wave {wave}: has write access to the source been restored by hand?"


def _cut(wave: Wave) -> Cutover:
    assert wave.cutover is not None
    return wave.cutover


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


def _summary(states: Mapping[str, DatasetState]) -> str:
    return ", ".join(f"{d}: {s}" for d, s in states.items())


def _one_line(error: BaseException) -> str:
    return error.one_line() if isinstance(error, HdhError) else f"{type(error).__name__}: {error}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def markdown(report: Report) -> str:
    """The report as Markdown (headline, durations, gates, hooks with output, steps)."""
    lines = [
        f"# hdh-migrate {report.command}: {report.plan} / {report.wave}",
        "",
        f"- outcome: **{report.outcome}** — {report.message}",
        f"- operator: {report.operator}; started {report.started}; ended {report.ended}",
        f"- datasets: {', '.join(f'{d} → {s}' for d, s in report.datasets.items())}",
        f"- durations: {', '.join(f'{k} {v}' for k, v in report.durations.items())}",
    ]
    if report.gates:
        lines += ["", "## Gates", "", "| gate | passed | measured |", "|---|---|---|"]
        lines += [f"| {g['gate']} | {g['passed']} | {g['measured']} |" for g in report.gates]
    for hook in report.hooks:
        status = "timed out" if hook["timed_out"] else f"exit {hook['exit_status']}"
        lines += [
            "",
            f"## Hook {hook['label']} ({hook['where']}, {status}, {hook['duration_s']} s)",
        ]
        lines += [
            "",
            "```",
            hook["command"],
            "```",
            "",
            "Output:",
            "",
            "```",
            hook["output"].rstrip(),
            "```",
        ]
    lines += ["", "## Steps", ""]
    lines += [f"- {s['at']} {s['dataset']}: {s['step']} {_compact(s)}" for s in report.steps]
    return "\n".join(lines) + "\n"


def _compact(step: dict[str, Any]) -> str:
    rest = {k: v for k, v in step.items() if k not in ("at", "dataset", "step")}
    return json.dumps(rest, sort_keys=True) if rest else ""

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

Modules: this one drives the commands (cutover, gates and switch, rollback, finalize);
``cutover.freeze`` freezes and unfreezes (``Freeze``), ``cutover.delta`` syncs the delta
and the final pass (``Delta``), ``cutover.base`` holds the shared context and bookkeeping
(``CutoverContext``) that ``WaveCutover`` owns and hands to both, ``reports.cutover_report``
the report.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hdh_migrate.engine import approvals as signed_approvals
from hdh_migrate.engine.approvals import Statement
from hdh_migrate.engine.cutover.base import CutoverContext, CutoverError, S, refuse
from hdh_migrate.engine.cutover.delta import Delta
from hdh_migrate.engine.cutover.freeze import LEASE_BATCH, Freeze
from hdh_migrate.engine.evidence_report import write_html
from hdh_migrate.engine.gates import GateInputs, GateResult, enforce, evaluate
from hdh_migrate.engine.hooks import HookRunner
from hdh_migrate.engine.run.runner import Migration
from hdh_migrate.errors import GateRefusedError, HdhError, UsageError
from hdh_migrate.journal import DatasetState, JournalStore
from hdh_migrate.plan import Plan, Wave
from hdh_migrate.plan.cutover import Cutover
from hdh_migrate.plan.types import resolve_text
from hdh_migrate.reports.cutover_report import Report, markdown, one_line, utc_now

__all__ = [
    "LEASE_BATCH",
    "CutoverError",
    "Report",
    "S",
    "WaveCutover",
    "markdown",
    "refuse",
]

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


class WaveCutover:
    """Drives one wave through cutover, rollback or finalize, on a Migration's collaborators
    (journal, manifest, clients, executor, reporter).

    By composition: ``shared`` (a ``CutoverContext``: collaborators, bookkeeping, the
    report) is handed to ``freeze`` (a ``Freeze``) and ``delta`` (a ``Delta``); this class
    holds the commands, the gates, the approvals and the switch."""

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
        self.shared = CutoverContext(
            job,
            operator=operator,
            hooks=hooks,
            confirm=confirm,
            clock=clock,
            lease_workers=lease_workers,
        )
        self.freeze = Freeze(self.shared)
        self.delta = Delta(self.shared)

    # ------------------------------------------------------------------ the shared context

    @property
    def job(self) -> Migration:
        return self.shared.job

    @property
    def plan(self) -> Plan:
        return self.shared.plan

    @property
    def journal(self) -> JournalStore:
        return self.shared.journal

    @property
    def operator(self) -> str:
        return self.shared.operator

    @property
    def hooks(self) -> HookRunner:
        return self.shared.hooks

    @property
    def confirm(self) -> Callable[[str], bool]:
        return self.shared.confirm

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.shared.clock

    @property
    def lease_workers(self) -> int:
        return self.shared.lease_workers

    @property
    def report(self) -> Report:
        """The report of the command running (the last one, once it returned)."""
        return self.shared.report

    @report.setter
    def report(self, report: Report) -> None:
        self.shared.report = report

    @property
    def plan_file(self) -> str | None:
        """The plan file, for the policy findings of the HTML report."""
        return self.shared.plan_file

    @plan_file.setter
    def plan_file(self, path: str | None) -> None:
        self.shared.plan_file = path

    # ================================================================== commands

    def cutover(
        self, wave_name: str, approvals: Sequence[str] = (), signed: Sequence[Path] = ()
    ) -> Report:
        """Freeze → delta → final pass → gates → switch, resuming where the journal says.
        ``approvals`` are names (profile rehearsal, no allowed_signers); ``signed`` are
        SSHSIG files (FILE.sig with the statement FILE beside it)."""
        return self._command("cutover", wave_name, lambda w: self._cutover(w, approvals, signed))

    def statement(self, wave_name: str) -> Statement:
        """The statement an approver of ``wave_name`` signs now (seals the manifest first,
        so the statement names a signed checkpoint)."""
        wave = self._wave(wave_name)
        self.job.manifest.checkpoint()
        heads = self.job.manifest.signed_heads()
        if not heads:
            raise UsageError(
                f"nothing to approve yet: the manifest of plan {self.plan.name!r} is empty",
                hint="run `hdh-migrate run PLAN` first; approvers approve the evidence it signs",
            )
        size, root = heads[-1]
        return Statement(
            self.plan.name,
            self.job.plan_digest,
            wave.name,
            self._wave_epoch(wave),
            size,
            root,
            self.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

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
            self.report.message = one_line(error)
            raise
        finally:
            self.report.durations["total_s"] = round(time.monotonic() - started, 3)
            self.report.datasets = {d.name: str(self.shared.state(d.name)) for d in wave.datasets}
            self.report.ended = utc_now()
            self.report.write(self.plan.state_path)
            self._write_html(command)
        return self.report

    def _write_html(self, command: str) -> None:
        """The HTML report beside the JSON and Markdown; a plan or overlay that can no
        longer be read leaves those two (the error being reported is the command's own)."""
        html = Path(self.report.paths[0]).with_suffix(".html")
        kind = command.removesuffix("-dry-run")
        with contextlib.suppress(HdhError):
            self.job.manifest.checkpoint()  # the report shows the signed root
            write_html(self.plan, html, kind, self.report.to_dict(), self.plan_file)
            self.report.paths.append(str(html))

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

    def _cutover(self, wave: Wave, approvals: Sequence[str], signed: Sequence[Path]) -> str:
        cut = _cut(wave)
        self._check_dependencies(wave)
        self._approve(wave, approvals)
        self._approve_signed(wave, signed)
        states = self.shared.states(wave)
        if all(s in (S.SWITCHED, S.FINALIZED) for s in states.values()):
            return f"wave {wave.name} is already {_summary(states)}"
        self._check_ready(wave, states)
        enforce(self._gates(wave, switching=False))
        shared = self.shared
        shared.timed("freeze_s", lambda: self.freeze.freeze(wave, cut))
        shared.timed("delta_s", lambda: shared.each(wave, S.FROZEN, self.delta.sync_delta))
        shared.timed("final_s", lambda: shared.each(wave, S.DELTA_SYNCED, self.delta.final_pass))
        results = self._gates(wave, switching=True)
        self.report.gates = [r.to_dict() for r in results]
        enforce(results)
        shared.timed("switch_s", lambda: self._switch(wave, cut, results))
        return f"wave {wave.name} switched to the target"

    def _check_dependencies(self, wave: Wave) -> None:
        for name in wave.depends_on:
            pending = {d.name: self.shared.state(d.name) for d in self.plan.wave(name).datasets}
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

    # ------------------------------------------------------------------ gates, switch

    def _gates(self, wave: Wave, switching: bool) -> list[GateResult]:
        cut = _cut(wave)
        return evaluate(cut.gates, self._gate_inputs(wave, switching), switching)

    def _gate_inputs(self, wave: Wave, switching: bool) -> GateInputs:
        pct, full, residual, held, detail = 100.0, 100.0, 0, True, ""
        unverified: dict[str, int] = {}
        if switching:
            for ds in wave.datasets:
                final = self.shared.detail(ds.name, S.FINAL_VERIFIED)
                frozen = self.shared.detail(ds.name, S.FROZEN)
                pct = min(pct, self.delta.verified(ds.name)[0])
                full = min(full, self.delta.full_readback(ds.name))
                for state, n in self.delta.verified(ds.name)[1].items():
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
            full,
            [principals for _, principals in self._counted(wave)],
        )

    def _approval_key(self, wave: Wave) -> str:
        """Approvals are kept per wave and freeze epoch (``w``, then ``w#1`` after the first
        rollback …): a rollback makes earlier approvals lapse; the same people may approve
        again."""
        epoch = self._wave_epoch(wave)
        return wave.name if epoch == 0 else f"{wave.name}#{epoch}"

    def _wave_epoch(self, wave: Wave) -> int:
        return max(self.shared.epoch(d.name) for d in wave.datasets)

    def _approve(self, wave: Wave, names: Sequence[str]) -> None:
        """Record new named approvals in the journal and, per dataset, in the manifest.
        Refused when the wave takes signed approvals, and under profile ``hdh``."""
        if not names:
            return
        if _cut(wave).gates.allowed_signers is not None:
            raise UsageError(
                f"wave {wave.name} takes signed approvals only (gates.allowed_signers)",
                hint="pass --approval FILE.sig (`hdh-migrate approve PLAN --wave W --key KEY`)",
            )
        if self.plan.policy.profile == "hdh":
            raise UsageError(
                "--approve NAME is a typed name, refused under profile hdh",
                hint="set gates.allowed_signers and pass --approval FILE.sig",
            )
        key = self._approval_key(wave)
        known = {a.name for a in self.journal.approvals(key)}
        for name in dict.fromkeys(names):
            if name not in known:
                self._record_approval(wave, {"approver": name})
                self.journal.add_approval(key, name, f"given by {self.operator}")

    def _approve_signed(self, wave: Wave, files: Sequence[Path]) -> None:
        """Verify each SSH-signed approval (exit 6 when one is refused), then record it."""
        if not files:
            return
        gates = _cut(wave).gates
        if gates.allowed_signers is None:
            raise UsageError(
                f"wave {wave.name} names no allowed_signers: signed approvals cannot be checked",
                hint="add waves[].cutover.gates.allowed_signers (OpenSSH format)",
            )
        signers = signed_approvals.load_signers(resolve_text(gates.allowed_signers))
        expected = signed_approvals.Expected(
            self.plan.name,
            self.job.plan_digest,
            wave.name,
            self._wave_epoch(wave),
            set(self.job.manifest.signed_heads()),
            self.clock(),
            gates.approval_max_age,
        )
        checked = [signed_approvals.check(Path(f), signers, expected) for f in dict.fromkeys(files)]
        key = self._approval_key(wave)
        known = {a.name for a in self.journal.approvals(key)}
        for approval in checked:
            if approval.principal not in known:
                known.add(approval.principal)
                extra: dict[str, object] = {"approver": approval.principal}
                extra["signature"] = approval.record()
                self._record_approval(wave, extra)
                self.journal.add_approval(key, approval.principal, approval.journal_detail())

    def _record_approval(self, wave: Wave, extra: dict[str, object]) -> None:
        for ds, state in self.shared.states(wave).items():
            record = {"type": "cutover", "dataset": ds, "wave": wave.name}
            record |= {"from_state": str(state), "to_state": str(state), "event": "approval"}
            self.job.manifest.append(record | extra | {"operator": self.operator})

    def _counted(self, wave: Wave) -> list[tuple[str, list[str]]]:
        """(approver, principals) of the approvals that count: with allowed_signers only
        the verified signed ones."""
        signed_only = _cut(wave).gates.allowed_signers is not None
        counted = []
        for a in self.journal.approvals(self._approval_key(wave)):
            detail = _signed_detail(a.detail)
            if detail is not None or not signed_only:
                counted.append((a.name, detail.get("principals", [a.name]) if detail else [a.name]))
        return counted

    def _approvers(self, wave: Wave) -> list[str]:
        return [name for name, _ in self._counted(wave)]

    def _switch(self, wave: Wave, cut: Cutover, gates: list[GateResult]) -> None:
        states = self.shared.states(wave)
        if not any(s is S.SWITCHED for s in states.values()):
            self.shared.run_hooks(wave, cut.switch, "switch")
        approvals = [a.to_dict() for a in self.journal.approvals(self._approval_key(wave))]
        for ds in wave.datasets:
            if self.shared.state(ds.name) is S.FINAL_VERIFIED:
                extra = {"approvals": approvals, "gates": [g.to_dict() for g in gates]}
                self.shared.move(self.job.context(ds.name), S.SWITCHED, extra)

    # ================================================================== rollback

    def _rollback(self, wave: Wave) -> str:
        cut = _cut(wave)
        states = self.shared.states(wave)
        if any(s is S.FINALIZED for s in states.values()):
            raise UsageError(
                f"wave {wave.name} is finalized ({_summary(states)}): rollback is impossible",
                hint="finalize is the point of no return; migrate back with a new plan if needed",
            )
        active = {d: s for d, s in states.items() if s in _ROLLBACK or self.freeze.has_leases(d)}
        swept = self.freeze.sweep_idle(wave, cut, [d for d in states if d not in active])
        if not active:
            note = f"; {swept} unjournaled lease(s) released" if swept else ""
            return f"nothing to roll back in wave {wave.name} ({_summary(states)}){note}"
        if any(s in (S.FINAL_VERIFIED, S.SWITCHED) for s in active.values()):
            self.shared.run_hooks(wave, cut.rollback, "rollback")
        self.shared.timed("unfreeze_s", lambda: self.freeze.unfreeze(wave, cut, list(active)))
        for name, state in active.items():
            self._record_rollback(name, state)
        return f"wave {wave.name} rolled back: the source is writable, readers point to it"

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
        states = self.shared.states(wave)
        late = {d: s for d, s in states.items() if s not in (S.SWITCHED, S.FINALIZED)}
        if late:
            raise UsageError(
                f"wave {wave.name} cannot be finalized: "
                f"not every dataset is switched ({_summary(late)})",
                hint="run `hdh-migrate cutover` first",
            )
        for ds in wave.datasets:
            if self.shared.state(ds.name) is S.SWITCHED:
                kept = sum(1 for _ in self.journal.leases(ds.name))
                self.shared.move(
                    self.job.context(ds.name),
                    S.FINALIZED,
                    {"point_of_no_return": True, "leases_kept": kept},
                )
        return f"wave {wave.name} finalized: rollback is no longer possible"


_ROLLBACK = (S.FROZEN, S.DELTA_SYNCED, S.FINAL_VERIFIED, S.SWITCHED)


def _cut(wave: Wave) -> Cutover:
    assert wave.cutover is not None
    return wave.cutover


def _signed_detail(detail: str | None) -> dict[str, Any] | None:
    try:
        value = json.loads(detail or "")
    except ValueError:
        return None
    return value if isinstance(value, dict) and value.get("kind") == "sshsig" else None


def _summary(states: Mapping[str, DatasetState]) -> str:
    return ", ".join(f"{d}: {s}" for d, s in states.items())

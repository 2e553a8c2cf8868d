"""The coordinator: waves → datasets → inventory → reconcile → copy → verify → evidence.

It is the only writer of the journal and the manifest. Work units (``copy_object``,
``verify_object``) run on any ``concurrent.futures`` executor through a bounded window fed
from a journal cursor, so memory stays flat whatever the object count. Every step is
idempotent: re-running after a crash re-reads the journal and redoes the current step;
a finished plan re-run lists the source, finds nothing to do and writes nothing.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from itertools import chain
from typing import Any, TypeVar, cast

from hdh_migrate import __version__
from hdh_migrate.backends.base import Backend, OpenUploads
from hdh_migrate.backends.probe import ProbeResult, load_probe
from hdh_migrate.circuit import CIRCUITS
from hdh_migrate.engine.credential_window import check_window
from hdh_migrate.engine.names import refuse_name
from hdh_migrate.engine.resume import kept_upload_keys, resume_header
from hdh_migrate.engine.run.circuit_guard import observe, stop_if_open, until_open
from hdh_migrate.engine.run.dispatch import map_units
from hdh_migrate.engine.run.group_commit import GROUP_SIZE, GroupCommit
from hdh_migrate.engine.run.object_ids import fill_object_ids, landing, object_id
from hdh_migrate.engine.specs import key_spec, selection_for, source_spec, target_spec
from hdh_migrate.errors import UsageError
from hdh_migrate.events import NullReporter, Reporter
from hdh_migrate.integrity import ManifestWriter
from hdh_migrate.journal import CopyResult as JournalCopy
from hdh_migrate.journal import DatasetState, InventoryEntry, Item, ItemState, JournalStore
from hdh_migrate.plan import EffectiveDataset, Plan, VerifyMode
from hdh_migrate.reports.run_report import DatasetOutcome, verified_how
from hdh_migrate.stages.clients import Clients
from hdh_migrate.stages.copy import copy_object
from hdh_migrate.stages.envelopes import has_sidecars
from hdh_migrate.stages.inventory import Entry, Selection, inventory
from hdh_migrate.stages.items import (
    CheckMode,
    CopyItem,
    CopyResult,
    Spec,
    VerifyItem,
    VerifyResult,
)
from hdh_migrate.stages.metadata import as_pairs
from hdh_migrate.stages.meter import PROCESS_METER
from hdh_migrate.stages.names import NAME_PROBLEM
from hdh_migrate.stages.retry import DEFAULT_RETRY, RetryPolicy
from hdh_migrate.stages.verify import sample_drawn, verify_object

T = TypeVar("T")


def _totals(outcomes: list[DatasetOutcome]) -> dict[str, Any]:
    verified_by: dict[str, int] = {}
    for o in outcomes:
        for how, n in o.verified_by.items():
            verified_by[how] = verified_by.get(how, 0) + n
    return {
        "datasets": len(outcomes),
        "listed": sum(o.listed for o in outcomes),
        "copied": sum(o.copied for o in outcomes),
        "bytes_copied": sum(o.bytes_copied for o in outcomes),
        "verified": sum(o.verified for o in outcomes),
        "verified_by": verified_by,
        "failed": sum(len(o.failed) for o in outcomes),
    }


@dataclass(frozen=True)
class Context:
    """A dataset's resolved collaborators."""

    eff: EffectiveDataset
    source: Spec
    target: Spec
    kek: Spec
    verify: VerifyMode
    segment_size: int = 1 << 20
    retry: RetryPolicy = DEFAULT_RETRY
    trust_write: bool = False  # the probe saw the target validate Content-MD5


class Migration:
    """Runs a plan's datasets. Collaborators are injected; the CLI builds the real ones."""

    def __init__(
        self,
        plan: Plan,
        plan_digest: str,
        *,
        journal: JournalStore,
        manifest: ManifestWriter,
        executor: Executor,
        clients: Clients,
        reporter: Reporter | None = None,
        window: int = 16,
        run_id: str | None = None,
        concurrency: int | None = None,
    ) -> None:
        self.plan, self.plan_digest = plan, plan_digest
        self.journal, self.manifest, self.executor = journal, manifest, executor
        self.clients, self.window = clients, window
        self.concurrency = concurrency  # --concurrency: overrides each dataset's
        self.reporter = reporter or NullReporter()
        self.run_id = run_id or uuid.uuid4().hex
        self._started = False
        self._run_notes: dict[str, Any] = {}
        self._contexts: dict[str, Context] = {}
        self._opened_size = manifest.size  # leaves past this were lost with a crash
        self._stop = threading.Event()
        self._sidecars: dict[str, bool] = {}
        fill_object_ids(journal, plan)
        #: Objects handed to the executor whose result has not come back (a metric gauge).
        self.objects_in_flight = 0

    # ------------------------------------------------------------------ the run

    def run(self, wave: str | None = None, dataset: str | None = None) -> list[DatasetOutcome]:
        """Run the selected waves and datasets in plan order; return per-dataset outcomes.
        After ``interrupt()`` it takes no new object, lets in-flight ones finish and
        returns what was done (``interrupted`` tells)."""
        CIRCUITS.reset()  # each run starts with every endpoint's circuit closed
        CIRCUITS.configure(float(self.plan.defaults.circuit_open_after))
        names = self.selected(wave, dataset)
        self.reporter.event("run.started", **self._run_facts(names))
        outcomes = []
        for name in names:
            if self.interrupted:
                break
            outcomes.append(self.run_dataset(name))
        self.reporter.event("run.finished", interrupted=self.interrupted, **_totals(outcomes))
        return outcomes

    def interrupt(self) -> None:
        """Stop taking new work (thread- and signal-safe); in-flight objects finish and are
        journaled, the rest stays pending for the next run."""
        self._stop.set()

    @property
    def interrupted(self) -> bool:
        return self._stop.is_set()

    def _run_facts(self, names: list[str]) -> dict[str, Any]:
        """What ``run.started`` tells: plan, digest, executor and each endpoint by ident."""
        contexts = [self.context(name) for name in names]
        return {
            "plan": self.plan.name,
            "plan_digest": self.plan_digest,
            "executor": self.plan.executor.kind,
            "datasets": names,
            "waves": _waves(names, contexts),
            "sources": sorted({ctx.source.ident for ctx in contexts}),
            "targets": sorted({ctx.target.ident for ctx in contexts}),
        }

    def _until_stopped(self, items: Iterator[Item]) -> Iterator[Item]:
        for item in items:
            if self.interrupted:
                return
            yield item

    def selected(self, wave: str | None, dataset: str | None) -> list[str]:
        return [
            d.name
            for w, d in self.plan.iter_datasets()
            if (wave is None or w.name == wave) and (dataset is None or d.name == dataset)
        ]

    def run_dataset(self, name: str) -> DatasetOutcome:
        ctx = self.context(name)
        outcome = DatasetOutcome(name, ctx.eff.wave.name)
        self._begin_run()
        self.journal.ensure_dataset(name, ctx.eff.wave.name)
        self.reporter.event("dataset.start", dataset=name, wave=ctx.eff.wave.name)
        self._inventory(ctx, outcome)
        self._reconcile(ctx)
        self._check_credential_window(ctx)
        self._copy(ctx, outcome)
        if not self.interrupted:
            self._verify(ctx, outcome, ctx.verify)
        self._settle(ctx, outcome)
        self.reporter.event("dataset.done", **outcome.to_dict())
        return outcome

    def note(self, **fields: Any) -> None:
        """Add fields to this run's manifest ``run`` record (e.g. a policy override); only
        before the run starts, since the record is written once, first."""
        if self._started:
            raise RuntimeError("the run record is already written")
        self._run_notes.update(fields)

    def _begin_run(self) -> None:
        if self._started:
            return
        self._started = True
        self.journal.begin_run(self.run_id, self.plan_digest, __version__)
        self.manifest.append(
            {
                "type": "run",
                "run_id": self.run_id,
                "tool_version": __version__,
                "plan_digest": self.plan_digest,
                "plan": self.plan.name,
                "kek_refs": sorted(self._kek_refs()),
                **self._run_notes,
            }
        )
        self._heal_manifest()

    def finish(self, status: str) -> None:
        """Record how this run ended (``done``, ``failed``, ``interrupted``) in the journal;
        a run that never started records nothing."""
        if self._started:
            self.journal.end_run(self.run_id, status)

    def _kek_refs(self) -> set[str]:
        refs = set()
        for _, ds in self.plan.iter_datasets():
            eff = self.plan.effective(ds)
            if eff.key is not None and eff.key_name is not None:
                refs.add(self.clients.key(key_spec(eff.key_name, eff.key)).ref)
        return refs

    def context(self, name: str) -> Context:
        """The dataset's resolved specs and verification mode (built once per Migration)."""
        if name not in self._contexts:
            self._contexts[name] = self._build_context(name)
        return self._contexts[name]

    def _build_context(self, name: str) -> Context:
        eff = self.plan.effective(name)
        if eff.key is None or eff.key_name is None:
            raise UsageError(
                f"dataset {name!r} has no key: client-side encryption needs one",
                hint="set defaults.key or the dataset's key",
            )
        probed = load_probe(self.plan.state_path, eff.dataset.target)
        verify = self._trusted_verify(eff, eff.verify, probed)
        validated = probed.validated_checksums if probed is not None else ()
        target = target_spec(self.plan, eff.dataset.target, eff, validated)
        return Context(
            eff,
            source_spec(eff),
            target,
            key_spec(eff.key_name, eff.key),
            verify,
            retry=RetryPolicy.from_plan(eff.retries),
            trust_write=probed is not None and probed.trustworthy and "md5" in validated,
        )

    def _trusted_verify(
        self, eff: EffectiveDataset, mode: VerifyMode, probed: ProbeResult | None
    ) -> VerifyMode:
        """``metadata`` trusts what the server says; a target the probe found storing wrong
        checksums or ignoring SSE-C is verified by reading back instead."""
        if mode.kind != "metadata":
            return mode
        if probed is not None and probed.trustworthy:
            return mode
        why = "not probed yet" if probed is None else "probe found it does not validate"
        self.reporter.event(
            "verify.upgraded", dataset=eff.name, target=eff.dataset.target, mode="full", reason=why
        )
        return VerifyMode("full")

    # ------------------------------------------------------------------ inventory

    def _inventory(self, ctx: Context, outcome: DatasetOutcome) -> None:
        source = self.clients.backend(ctx.source)
        counts = self.journal.upsert_inventory(self._entries(ctx, source, outcome))
        outcome.new, outcome.changed = counts.new, counts.changed
        self.reporter.event(
            "inventory.done",
            dataset=outcome.dataset,
            listed=outcome.listed,
            new=counts.new,
            changed=counts.changed,
            flagged=outcome.flagged,
        )

    def _entries(
        self, ctx: Context, source: Backend, outcome: DatasetOutcome
    ) -> Iterator[InventoryEntry]:
        for entry in inventory(source, self.selection(ctx)):
            outcome.listed += 1
            PROCESS_METER.add(outcome.dataset, "listed", 1)  # the inventory bar's counts
            PROCESS_METER.add(outcome.dataset, "listed_bytes", entry.info.size)
            outcome.flagged += entry.flag is not None
            if entry.flag is not None and entry.flag.startswith(NAME_PROBLEM):
                refuse_name(entry, outcome.failed, self.reporter, ctx.eff.name)
            yield _journal_entry(ctx.eff.name, entry)

    def selection(self, ctx: Context) -> Selection:
        probed = load_probe(self.plan.state_path, ctx.eff.dataset.target)  # its key rules
        return selection_for(ctx.eff, ctx.segment_size, probed)

    # ------------------------------------------------------------------ reconcile

    def _reconcile(self, ctx: Context) -> None:
        """Items caught mid-copy go back to pending; failed items get another chance;
        multipart uploads left open by a crash under the dataset's prefix are aborted."""
        name = ctx.eff.name
        stale = [item.item_id for item in self.journal.in_copying(name)]
        stale += [item.item_id for item in self.journal.items(ItemState.FAILED, name)]
        for item_id in stale:
            self.journal.reset_to_pending(item_id, "retried")
        target = self.clients.backend(ctx.target)
        if stale and target.capabilities().open_uploads:  # declared, not guessed
            uploads = cast(OpenUploads, target)
            kept = kept_upload_keys(self.journal, ctx.eff)  # resumed by their copy
            for upload in list(uploads.list_multipart_uploads(ctx.eff.dataset.target_prefix)):
                if upload.key not in kept:
                    uploads.abort_multipart(upload.key, upload.upload_id, quiet=True)
        self.reporter.event("reconcile.done", dataset=name, redone=len(stale))

    def _check_credential_window(self, ctx: Context) -> None:
        """Refuse to start copying when the source's SAS would expire before the end."""
        counts = self.journal.counts(ctx.eff.name)
        pending = sum(c.bytes for c in counts if c.state is ItemState.PENDING)
        bandwidth = self.plan.estimates.bandwidth or ctx.eff.bandwidth
        check_window(self.clients.backend(ctx.source), pending, bandwidth, ctx.eff.name)

    # ------------------------------------------------------------------ copy

    def _copy(self, ctx: Context, outcome: DatasetOutcome) -> None:
        self._announce(ctx, "copy.start", ItemState.PENDING)
        items = self._counted(until_open(self._copy_items(ctx)))
        window = self.in_flight(ctx)
        copied = GroupCommit[CopyResult](
            lambda group: self._record_copied(group, outcome), size=self._group_size
        )
        try:
            for _, future in map_units(self.executor, self.clients, copy_object, items, window):
                result = future.result()
                self.objects_in_flight -= 1
                observe(result)
                if result.state == "copied":
                    self._report_retries(result)
                    copied.add(result)
                else:
                    self._record_copy(result, outcome)
        finally:
            self.objects_in_flight = 0  # what was not started is cancelled
            copied.flush()
        stop_if_open()  # a dead endpoint: what was in flight is recorded, exit 8

    def _counted(self, items: Iterator[T]) -> Iterator[T]:
        """``items``, counting each one handed out into ``objects_in_flight``."""
        for item in items:
            self.objects_in_flight += 1
            yield item

    def in_flight(self, ctx: Context) -> int:
        """Tasks of one dataset in flight at once: its ``concurrency`` (or the command
        line's), never more than the window the executor was sized for."""
        return max(1, min(self.window, self.concurrency or ctx.eff.concurrency))

    @property
    def _group_size(self) -> int:
        """Marks committed together: at most one window's worth (what is in flight), so a
        crash or an interrupt leaves at most one window unjournaled, whatever the load."""
        return max(1, min(GROUP_SIZE, self.window))

    def _copy_items(self, ctx: Context) -> Iterator[CopyItem]:
        for item in self._until_stopped(self.journal.pending(ctx.eff.name)):
            self.journal.mark_copying(item.item_id)
            yield self._copy_item(ctx, item)

    def _has_sidecars(self, ctx: Context) -> bool:
        """Whether the target holds rotation sidecars under the dataset's prefix: listed
        once per dataset and run, when its first object is about to be copied (a dataset
        with nothing to copy never asks the target)."""
        name = ctx.eff.name
        if name not in self._sidecars:
            target = self.clients.backend(ctx.target)
            self._sidecars[name] = has_sidecars(target, ctx.eff.dataset.target_prefix)
        return self._sidecars[name]

    def _copy_item(self, ctx: Context, item: Item) -> CopyItem:
        ds = ctx.eff.dataset
        header = resume_header(
            self.journal,
            self.clients.backend(ctx.target),
            partial(self.clients.key, ctx.kek),
            item,
            object_id(item),
            ctx.segment_size,
        )
        return CopyItem(
            dataset=ds.name,
            key=item.key,
            size=item.size,
            etag=item.etag or None,
            object_id=object_id(item),
            target_key=landing(item),
            source=ctx.source,
            target=ctx.target,
            kek=ctx.kek,
            content_md5=item.content_md5,
            carry_metadata=ds.metadata.carry_user_metadata,
            rename_metadata=as_pairs(ds.metadata.rename),
            drop_metadata=tuple(ds.metadata.drop),
            segment_size=ctx.segment_size,
            min_part_size=max(ctx.eff.part_size, 5 << 20),
            buffer_memory=ctx.eff.buffer_memory,
            retry=ctx.retry,
            drop_sidecar=self._has_sidecars(ctx),
            trust_write=ctx.trust_write,
            resume_header=header,
        )

    def _record_copy(self, result: CopyResult, outcome: DatasetOutcome) -> None:
        item_id = _item_id(result.dataset, result.key)
        self._report_retries(result)
        if result.state != "copied":
            reason = result.error or "copy failed"
            self.journal.mark_failed(item_id, reason, result.error_kind)
            outcome.failed.append((result.key, reason))
            self.reporter.event(
                "object.failed", dataset=result.dataset, key=result.key, reason=reason
            )
            return
        self._record_copied([result], outcome)

    def _report_retries(self, result: CopyResult | VerifyResult, phase: str = "copy") -> None:
        """One ``object.resumed`` per copy that reused the parts of an interrupted upload;
        one ``object.retry`` per object that was retried: how many retries, their causes
        (a fixed vocabulary: stages.retry.CAUSES) and how many were throttled."""
        if isinstance(result, CopyResult) and result.parts_reused:
            self.reporter.event(
                "object.resumed",
                dataset=result.dataset,
                key=result.key,
                parts_reused=result.parts_reused,
                parts_uploaded=result.parts_uploaded,
            )
        causes = Counter(result.retries)
        attempts = getattr(result, "attempts", 1) - 1
        if not causes and attempts > 0:
            causes["other"] = attempts  # a unit that could not note its causes
        if not causes:
            return
        self.reporter.event(
            "object.retry",
            dataset=result.dataset,
            key=result.key,
            attempts=causes.total(),
            cause=result.retries[-1] if result.retries else "other",
            causes=dict(causes),
            throttled=causes["throttled"],
            phase=phase,
        )

    def _record_copied(self, results: list[CopyResult], outcome: DatasetOutcome) -> None:
        """Journal a group of confirmed copies in one transaction, then count them."""
        marks = [(_item_id(r.dataset, r.key), _journal_copy(r)) for r in results]
        self.journal.mark_copied_many(marks)
        for result in results:
            self._count_copied(result, outcome)

    def _count_copied(self, result: CopyResult, outcome: DatasetOutcome) -> None:
        if result.not_carried:
            outcome.not_carried += 1
            self.reporter.event(
                "object.not_carried",
                dataset=result.dataset,
                key=result.key,
                items=list(result.not_carried),
            )
        outcome.copied += 1
        outcome.bytes_copied += result.size
        self.reporter.event(
            "object.copied", dataset=result.dataset, key=result.key, bytes=result.size
        )

    # ------------------------------------------------------------------ verify

    def reverify(
        self, mode: VerifyMode | None = None, wave: str | None = None, dataset: str | None = None
    ) -> list[DatasetOutcome]:
        """Check again, at the target, every object already verified, and verify the copied
        ones a run left unverified. A mismatch marks the object failed (the next ``run``
        copies it again); an unverifiable object keeps its state. Objects in any other state
        (failed, pending) are reported: a verify never ends silent on an unverified item."""
        outcomes = []
        for name in self.selected(wave, dataset):
            ctx = self.context(name)
            outcome = DatasetOutcome(name, ctx.eff.wave.name)
            self._unverified(ctx, outcome)  # before the checks, which may fail some
            self._verify(ctx, outcome, mode or ctx.verify, ItemState.VERIFIED)
            self._verify(ctx, outcome, mode or ctx.verify, ItemState.COPIED)
            outcomes.append(outcome)
        return outcomes

    def _unverified(self, ctx: Context, outcome: DatasetOutcome) -> None:
        """Items neither verified nor done: a failed verification counts as a mismatch,
        anything else (copy failed, pending, caught mid-copy) as not verified."""
        for state in (ItemState.FAILED, ItemState.PENDING, ItemState.COPYING):
            for item in self.journal.items(state, ctx.eff.name):
                reason = item.reason or item.last_error or str(state)
                if state == ItemState.FAILED and item.verify_result == "mismatch":
                    outcome.failed.append((item.key, reason))
                else:
                    outcome.not_verified.append((item.key, f"{state}: {reason}"))

    def _verify(
        self,
        ctx: Context,
        outcome: DatasetOutcome,
        mode: VerifyMode,
        state: ItemState = ItemState.COPIED,
    ) -> None:
        self._announce(ctx, "verify.start", state)
        items = self._counted(
            until_open(
                self._verify_item(ctx, item, mode)
                for item in self._until_stopped(self.journal.items(state, ctx.eff.name))
            )
        )
        commit = self._record_passed if state == ItemState.COPIED else self._record_rechecked
        window = self.in_flight(ctx)
        passed = GroupCommit[VerifyResult](
            lambda group: commit(ctx, group, outcome), size=self._group_size
        )
        try:
            for _, future in map_units(self.executor, self.clients, verify_object, items, window):
                result = future.result()
                self.objects_in_flight -= 1
                self._report_retries(result, "verify")
                if result.ok:
                    passed.add(result)
                else:
                    self._record_verify(ctx, result, outcome)
        finally:
            self.objects_in_flight = 0
            passed.flush()
        stop_if_open()

    def _record_rechecked(
        self, ctx: Context, results: list[VerifyResult], outcome: DatasetOutcome
    ) -> None:
        """Verified objects that passed again: the journal keeps the strongest check each
        passed (a full read-back after a sampled run counts as full for the gate)."""
        self.journal.upgrade_verify_modes((_item_id(r.dataset, r.key), r.mode) for r in results)
        for result in results:
            outcome.count_verified(result.mode)
            self.reporter.event(
                "object.verified",
                dataset=result.dataset,
                key=result.key,
                mode=result.mode,
                how=verified_how(result.mode),
                bytes=result.size,
            )

    def _record_unverifiable(self, result: VerifyResult, outcome: DatasetOutcome) -> None:
        """The check could not be made: the object keeps its state (a copied one is
        verified by the next run or verify), and the reason is reported."""
        reason = f"verification ({result.mode}) could not be made: {result.reason}"
        outcome.unverifiable.append((result.key, reason))
        self.reporter.event(
            "object.unverifiable", dataset=result.dataset, key=result.key, reason=reason
        )

    def _verify_item(self, ctx: Context, item: Item, mode: VerifyMode) -> VerifyItem:
        oid = object_id(item)
        return VerifyItem(
            dataset=ctx.eff.name,
            key=item.key,
            object_id=oid,
            target_key=item.target_key or "",
            target=ctx.target,
            kek=ctx.kek,
            mode=_concrete_mode(mode, oid, self.plan_digest),
            plaintext_sha256=item.plaintext_sha256,
            plaintext_size=item.size,
            ciphertext_size=item.target_size or 0,
            target_etag=item.target_etag,
            header_sha256=item.header_sha256,
            retry=ctx.retry,
        )

    def _record_verify(self, ctx: Context, result: VerifyResult, outcome: DatasetOutcome) -> None:
        item_id = _item_id(result.dataset, result.key)
        if result.outcome == "unverifiable":
            self._record_unverifiable(result, outcome)
            return
        if result.outcome == "mismatch":
            reason = f"verification ({result.mode}) failed: {result.reason}"
            self.journal.mark_failed(item_id, reason, None, verify_mode=result.mode)
            outcome.failed.append((result.key, reason))
            outcome.tampered += result.tampered
            self.reporter.event(
                "object.failed",
                dataset=result.dataset,
                key=result.key,
                reason=reason,
                phase="verify",
            )
            return
        self._record_passed(ctx, [result], outcome)

    def _record_passed(
        self, ctx: Context, results: list[VerifyResult], outcome: DatasetOutcome
    ) -> None:
        """Journal a group of passed verifications in one transaction, then record each
        object's evidence in the manifest and count it."""
        self.journal.mark_verified_many((_item_id(r.dataset, r.key), r.mode) for r in results)
        for result in results:
            item = self.journal.get_by_id(_item_id(result.dataset, result.key))
            if item is not None:
                self._record_object(ctx, item)
            outcome.count_verified(result.mode)
            self.reporter.event(
                "object.verified",
                dataset=result.dataset,
                key=result.key,
                mode=result.mode,
                how=verified_how(result.mode),
                bytes=result.size,
            )

    def _record_object(self, ctx: Context, item: Item) -> None:
        """Append the object's evidence and note its leaf, so a crash in between is healed
        by ``_heal_manifest`` on the next run."""
        leaf = self.manifest.append(self._object_record(ctx, item, item.verify_mode or ""))
        self.journal.mark_recorded(item.item_id, leaf)

    def _heal_manifest(self) -> None:
        """Verified items whose record a crash lost (a leaf at or past the manifest's size
        when it was opened) or never wrote get it now, right after this run's own record."""
        for _, ds in self.plan.iter_datasets():
            items = self.journal.unrecorded(self._opened_size, ds.name)
            first = next(items, None)
            if first is None:
                continue
            ctx = self.context(ds.name)
            for item in chain((first,), items):
                self._record_object(ctx, item)

    def _object_record(self, ctx: Context, item: Item, mode: str) -> dict[str, Any]:
        return {
            "type": "object",
            "run_id": self.run_id,
            "dataset": ctx.eff.name,
            "object_id": object_id(item),
            "source": {
                "uri": f"{ctx.source.ident}/{item.key}",
                "etag": item.etag,
                "size": item.size,
            },
            "target": {
                "bucket": ctx.eff.target.location,
                "key": item.target_key or "",
                "version": item.target_version,
                "size": item.target_size or 0,
                "checksum": item.target_etag,
            },
            "crypto": {"header_sha256": item.header_sha256 or "", "kek_ref": ctx.kek.ident},
            "plaintext_sha256": item.plaintext_sha256 or "",
            "ciphertext_sha256": item.ciphertext_sha256 or "",
            "verify": {"mode": mode, "result": "ok"},
        }

    # ------------------------------------------------------------------ bookkeeping

    def _announce(self, ctx: Context, event: str, state: ItemState) -> None:
        counts = [c for c in self.journal.counts(ctx.eff.name) if c.state == state]
        self.reporter.event(
            event,
            dataset=ctx.eff.name,
            objects=sum(c.count for c in counts),
            bytes=sum(c.bytes for c in counts),
        )

    def _settle(self, ctx: Context, outcome: DatasetOutcome) -> None:
        counts = {c.state: c.count for c in self.journal.counts(ctx.eff.name)}
        unfinished = sum(n for s, n in counts.items() if s not in _DONE)
        current = self.journal.dataset_state(ctx.eff.name)
        if unfinished == 0 and current in (DatasetState.NEW, DatasetState.COPYING):
            if current == DatasetState.NEW:
                self.journal.move_dataset(ctx.eff.name, DatasetState.COPYING)
            self.journal.move_dataset(ctx.eff.name, DatasetState.VERIFIED)
        elif unfinished and current == DatasetState.NEW:
            self.journal.move_dataset(ctx.eff.name, DatasetState.COPYING)


_DONE = {ItemState.VERIFIED, ItemState.SKIPPED, ItemState.FLAGGED}


def _waves(names: list[str], contexts: list[Context]) -> dict[str, list[str]]:
    """Each selected wave → its selected datasets, in plan order."""
    waves: dict[str, list[str]] = {}
    for name, ctx in zip(names, contexts, strict=True):
        waves.setdefault(ctx.eff.wave.name, []).append(name)
    return waves


def _journal_entry(dataset: str, entry: Entry) -> InventoryEntry:
    info = entry.info
    return InventoryEntry(
        dataset=dataset,
        key=info.key,
        size=info.size,
        etag=info.etag or "",
        last_modified=info.last_modified.isoformat() if info.last_modified else None,
        content_md5=info.content_md5.hex() if info.content_md5 else None,
        flag=ItemState.FLAGGED if entry.flag else None,
        reason=entry.flag,
        object_id=entry.object_id,
        target_key=entry.target_key,
    )


def _journal_copy(result: CopyResult) -> JournalCopy:
    return JournalCopy(
        plaintext_sha256=result.plaintext_sha256 or "",
        ciphertext_sha256=result.ciphertext_sha256 or "",
        target_key=result.target_key or "",
        target_size=result.target_size,
        header_sha256=result.header_sha256 or "",
        target_etag=result.target_etag,
        target_version=result.target_version,
        source_etag=result.etag,  # the version read, which may not be the one listed
        source_size=result.size,
        source_content_md5=result.content_md5,
    )


def _item_id(dataset: str, key: str) -> str:
    from hdh_migrate.journal import item_id_for

    return item_id_for(dataset, key)


def _concrete_mode(mode: VerifyMode, object_id: str, seed: str) -> CheckMode:
    """``sample:P%`` → ``full`` for the drawn objects, ``header`` for the others."""
    if mode.kind != "sample":
        return mode.kind
    return "full" if sample_drawn(object_id, mode.percent or 0.0, seed) else "header"


def plan_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()

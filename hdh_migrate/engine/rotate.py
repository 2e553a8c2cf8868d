"""``keys rotate``: rewrap every data key of a plan's objects from KEK K1 to KEK K2 into
sidecar envelopes (``hdh_migrate.stages.envelopes``), without touching object bodies.

Which objects: the journal's verified items of the datasets whose plan key is K1 — or K2,
so that a re-run after the operator updated the plan still finds objects copied under K1
meanwhile. Per object the work unit reads the header (one ranged GET), opens the current
envelope (sidecar, else header) and writes a sidecar under K2; an object whose envelope
already opens with K2 is skipped.

Resumable and recorded exactly once: the coordinator appends one manifest ``rewrap``
record per sidecar it writes. The latest rewrap record of each (object, header) is read
from the manifest at start; an object skipped through a sidecar whose latest record does
not name K2 (a kill -9 between the sidecar PUT and the append) gets its record then.
Objects whose own header is under K2 (copied after the plan named K2) are skipped without
a record: nothing was rewrapped. A re-run therefore rotates nothing, records nothing
twice, and heals what a crash left unrecorded.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hdh_migrate import __version__
from hdh_migrate.engine.evidence import manifest_signing, state_paths
from hdh_migrate.engine.executor_choice import open_executor
from hdh_migrate.engine.run.dispatch import map_units
from hdh_migrate.engine.run.object_ids import object_id
from hdh_migrate.engine.specs import key_spec, target_spec
from hdh_migrate.engine.state_lock import state_lock
from hdh_migrate.errors import UsageError
from hdh_migrate.events import NullReporter, Reporter
from hdh_migrate.integrity import ManifestWriter
from hdh_migrate.journal import ItemState, JournalStore
from hdh_migrate.plan import Plan
from hdh_migrate.stages.clients import Clients
from hdh_migrate.stages.envelopes import RewrapItem, RewrapResult, rewrap_object


@dataclass
class RotateOutcome:
    """What one rotation did. ``recorded`` counts manifest records written (rotated objects
    plus skipped ones a crash had left unrecorded); ``failed`` names objects and reasons."""

    old: str
    new: str
    datasets: list[str] = field(default_factory=list)
    rotated: int = 0
    skipped: int = 0
    recorded: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Objects handled (rotated + skipped) per second."""
        return (self.rotated + self.skipped) / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "failed"}
        data["failed"] = [{"key": k, "reason": r} for k, r in self.failed]
        data["objects_per_second"] = round(self.rate, 1)
        return data


def rotation_datasets(plan: Plan, old: str, new: str, dataset: str | None) -> list[str]:
    """The datasets to rotate; UsageError (one line) for unknown keys or a dataset whose key
    is neither ``old`` nor ``new``."""
    for name in (old, new):
        if name not in plan.keys:
            known = ", ".join(sorted(plan.keys)) or "none"
            raise UsageError(f"the plan has no key {name!r}", hint=f"keys in the plan: {known}")
    if old == new:
        raise UsageError(f"--from and --to are both {old!r}: nothing to rotate")
    names = [d.name for _, d in plan.iter_datasets() if dataset in (None, d.name)]
    if dataset is not None and not names:
        known = ", ".join(d.name for _, d in plan.iter_datasets())
        raise UsageError(f"no dataset {dataset!r} in the plan", hint=f"use one of: {known}")
    chosen = [n for n in names if plan.effective(n).key_name in (old, new)]
    if not chosen:
        where = (
            f"dataset {dataset!r} uses key {plan.effective(dataset).key_name!r}"
            if dataset
            else "no dataset uses it"
        )
        raise UsageError(f"nothing to rotate from key {old!r}: {where}")
    return chosen


class Rotation:
    """Rotates the selected datasets' objects; collaborators are injected."""

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
    ) -> None:
        self.plan, self.plan_digest = plan, plan_digest
        self.journal, self.manifest, self.executor = journal, manifest, executor
        self.clients, self.window = clients, window
        self.reporter = reporter or NullReporter()
        self.run_id = uuid.uuid4().hex
        self._started = False

    def run(self, old: str, new: str, dataset: str | None = None) -> RotateOutcome:
        """Rotate every selected dataset from key ``old`` to key ``new``."""
        names = rotation_datasets(self.plan, old, new, dataset)
        outcome = RotateOutcome(old, new, names)
        recorded = recorded_rewraps(self.manifest.path)
        began = time.monotonic()
        for name in names:
            self._dataset(name, old, new, recorded, outcome)
        outcome.seconds = time.monotonic() - began
        self.reporter.event("rotate.done", **outcome.to_dict())
        return outcome

    def _dataset(
        self, name: str, old: str, new: str, recorded: dict[bytes, str], outcome: RotateOutcome
    ) -> None:
        items = self._items(name, old, new)
        self.reporter.event("rotate.start", dataset=name, old=old, new=new)
        units = map_units(self.executor, self.clients, rewrap_object, items, self.window)
        for _, future in units:
            self._record(future.result(), recorded, outcome)

    def _items(self, name: str, old: str, new: str) -> Iterator[RewrapItem]:
        eff = self.plan.effective(name)
        target = target_spec(self.plan, eff.dataset.target)
        old_spec, new_spec = key_spec(old, self.plan.keys[old]), key_spec(new, self.plan.keys[new])
        for item in self.journal.items(ItemState.VERIFIED, name):
            if item.target_key:
                yield RewrapItem(
                    name,
                    item.key,
                    object_id(item),
                    item.target_key,
                    target,
                    old_spec,
                    new_spec,
                )

    def _record(
        self, result: RewrapResult, recorded: dict[bytes, str], outcome: RotateOutcome
    ) -> None:
        if result.state == "failed":
            reason = result.reason or "rewrap failed"
            outcome.failed.append((f"{result.dataset}/{result.key}", reason))
            self.reporter.event(
                "object.failed", dataset=result.dataset, key=result.key, reason=reason
            )
            return
        if result.state == "rotated":
            outcome.rotated += 1
        else:
            outcome.skipped += 1
        mark = record_mark(result.object_id, result.header_sha256)
        healed = result.from_sidecar and recorded.get(mark) != result.to_ref
        if result.state == "rotated" or healed:
            self._append(result)
            recorded[mark] = result.to_ref
            outcome.recorded += 1
        self.reporter.event(
            f"object.{result.state}", dataset=result.dataset, key=result.key, kek=result.to_ref
        )

    def _append(self, result: RewrapResult) -> None:
        if not self._started:
            self._started = True
            self.manifest.append(
                {
                    "type": "run",
                    "run_id": self.run_id,
                    "tool_version": __version__,
                    "plan_digest": self.plan_digest,
                    "plan": self.plan.name,
                    "operation": "keys rotate",
                }
            )
        self.manifest.append(
            {
                "type": "rewrap",
                "run_id": self.run_id,
                "dataset": result.dataset,
                "object_id": result.object_id,
                "from_kek_ref": result.from_ref,
                "to_kek_ref": result.to_ref,
                "header_sha256": result.header_sha256,
            }
        )


def record_mark(object_id: str, header_sha256: str) -> bytes:
    """The identity of one rewrap record (per KEK reference): 32 bytes per object in memory."""
    return hashlib.sha256(f"{object_id}\0{header_sha256}".encode()).digest()


def recorded_rewraps(manifest: Path) -> dict[bytes, str]:
    """Per (object id, header) mark, the KEK reference of its latest ``rewrap`` record
    (streamed; 32 bytes per object plus one shared string per KEK reference)."""
    latest: dict[bytes, str] = {}
    refs: dict[str, str] = {}
    if not manifest.exists():
        return latest
    with manifest.open("rb") as handle:
        for line in handle:
            if b'"rewrap"' not in line:
                continue
            record = json.loads(line)
            if record.get("type") == "rewrap":
                ref = refs.setdefault(record["to_kek_ref"], record["to_kek_ref"])
                latest[record_mark(record["object_id"], record["header_sha256"])] = ref
    return latest


def rotate_keys(
    path: str | Path,
    old: str,
    new: str,
    dataset: str | None = None,
    reporter: Reporter | None = None,
    workers: int | None = None,
    executor_kind: str | None = None,
) -> RotateOutcome:
    """Run a rotation from a plan file with its journal and manifest (state directory)."""
    from hdh_migrate.engine.run.session import RunSettings, journal_for, load, run_concurrency

    plan, digest = load(path)
    rotation_datasets(plan, old, new, dataset)  # usage errors before anything is opened
    paths = state_paths(plan).ensure()
    settings = RunSettings(concurrency=workers, executor=executor_kind)
    executor, window = open_executor(plan, executor_kind, run_concurrency(plan, settings))
    clients = Clients()
    try:
        with (
            state_lock(paths.root, "keys rotate"),
            journal_for(plan) as journal,
            manifest_signing(plan, paths) as signer,
            ManifestWriter(paths.manifest, signer, f"hdh-migrate/{plan.name}") as manifest,
            executor,
        ):
            rotation = Rotation(
                plan,
                digest,
                journal=journal,
                manifest=manifest,
                executor=executor,
                clients=clients,
                reporter=reporter,
                window=window,
            )
            return rotation.run(old, new, dataset)
    finally:
        clients.close()

"""Decommissioning the source of a finalized wave, with a signed record of it.

For each dataset of a finalized wave:

1. survey: list the dataset's selection at the source; every object must have a verified
   copy at the target (journal item ``verified`` with the same ETag and size). One that
   does not refuses the whole dataset (gate ``decommission``, exit 6) before anything is
   deleted: the only copy of a health record is never deleted;
2. delete: every leased blob with its journaled lease id (the source stays frozen until
   the blob is gone), then whatever is still listed (each re-checked against the journal);
   or, with an attestation, nothing (sources the operator cannot delete: the attestation
   records what was done instead, e.g. the storage account's keys destroyed);
3. prove: list again and count what is left (must be 0 after a deletion);
4. record: the settings that could keep copies (Azure blob soft delete, container
   immutability policy and legal hold, soft-deleted blobs and older versions still listed)
   and a ``decommission`` record in the manifest, sealed by a signed checkpoint at once;
   the journal notes the event (policy SOV-15 reads it).

``dry_run`` does the survey only and reports what would go.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from hdh_migrate.backends.base import Backend, ReportsRetention
from hdh_migrate.engine.audit.journal import DECOMMISSIONED as EVENT
from hdh_migrate.engine.audit.journal import decommissioned
from hdh_migrate.engine.cutover import Report, WaveCutover
from hdh_migrate.engine.cutover.base import CutoverError, S
from hdh_migrate.engine.run.runner import Context
from hdh_migrate.errors import GateRefusedError, UsageError
from hdh_migrate.execution import imap_unordered
from hdh_migrate.journal import ItemState
from hdh_migrate.plan import Wave

_SHOWN = 5


class _LeasedDelete(Protocol):
    def delete(self, key: str, *, lease_id: str | None = None) -> None: ...


@dataclass
class Survey:
    """What the selection holds at the source, and what may not be deleted."""

    objects: int = 0
    bytes: int = 0
    refused: int = 0
    examples: list[str] = field(default_factory=list)

    def refuse(self, key: str, why: str) -> None:
        self.refused += 1
        if len(self.examples) < _SHOWN:
            self.examples.append(f"{key}: {why}")


class WaveDecommission(WaveCutover):
    """Deletes (or attests) the source of a finalized wave and signs the proof."""

    def decommission(
        self, wave_name: str, *, dry_run: bool = False, attestation: str | None = None
    ) -> Report:
        command = "decommission-dry-run" if dry_run else "decommission"
        return self._command(
            command, wave_name, lambda w: self._decommission(w, dry_run, attestation)
        )

    def _decommission(self, wave: Wave, dry_run: bool, attestation: str | None) -> str:
        states = self.shared.states(wave)
        late = {d: str(s) for d, s in states.items() if s is not S.FINALIZED}
        if late:
            raise UsageError(
                f"wave {wave.name} is not finalized ({_summary(late)}): its source cannot be "
                "decommissioned",
                hint="cut over and `hdh-migrate finalize` the wave first",
            )
        done = 0
        for ds in wave.datasets:
            if self._already(ds.name):
                self.report.step(ds.name, "decommission", outcome="already decommissioned")
                continue
            ctx = self.job.context(ds.name)
            survey = self._survey(ctx)
            if dry_run:
                self.report.step(
                    ds.name, "decommission", would_delete=survey.objects, bytes=survey.bytes
                )
                continue
            self._one(ctx, survey, attestation)
            done += 1
        if dry_run:
            total = sum(int(s.get("would_delete", 0)) for s in self.report.steps)
            return f"dry run: {total} object(s) of wave {wave.name} would be deleted at the source"
        verb = "attested" if attestation else "deleted and proven empty"
        return f"wave {wave.name}: {done} dataset source(s) {verb}; signed into the manifest"

    def _already(self, dataset: str) -> bool:
        return any(decommissioned(t.detail) for t in self.journal.transitions(dataset))

    # ------------------------------------------------------------------ survey

    def _survey(self, ctx: Context) -> Survey:
        survey = Survey()
        for info in self.shared.listing(ctx):
            survey.objects += 1
            survey.bytes += info.size
            why = self._unsafe(ctx.eff.name, info.key, info.etag, info.size)
            if why:
                survey.refuse(info.key, why)
        if survey.refused:
            raise GateRefusedError(
                f"gate decommission refused: {ctx.eff.name}: {survey.refused} object(s) at the "
                f"source have no verified copy at the target ({'; '.join(survey.examples)})",
                hint="nothing was deleted; verify or re-copy them (`hdh-migrate verify`), or "
                "record an attestation instead (--attest)",
            )
        return survey

    def _unsafe(self, dataset: str, key: str, etag: str, size: int) -> str:
        """Why ``key`` may not be deleted ('' when its verified copy matches)."""
        item = self.journal.get(dataset, key)
        if item is None:
            return "not in the journal"
        if item.state is not ItemState.VERIFIED:
            return f"target copy {item.state}"
        if (item.etag, item.size) != (etag, size):
            return "changed at the source since it was verified"
        return ""

    # ------------------------------------------------------------------ delete, prove, record

    def _one(self, ctx: Context, survey: Survey, attestation: str | None) -> None:
        source = self.job.clients.backend(ctx.source)
        deleted = 0 if attestation else self._delete_all(ctx, source)
        left = sum(1 for _ in self.shared.listing(ctx))
        under_prefix = sum(1 for _ in source.list(ctx.eff.dataset.prefix or ""))
        if not attestation and left:
            raise CutoverError(
                f"decommission of {ctx.eff.name}: {left} object(s) still listed after deletion",
                hint="something writes to the source again, or a delete was refused; re-run",
            )
        record: dict[str, Any] = {
            "type": "decommission",
            "dataset": ctx.eff.name,
            "wave": ctx.eff.wave.name,
            "method": "attested" if attestation else "deleted",
            "source": {"kind": ctx.source.kind, "location": ctx.eff.location or ""},
            "prefix": ctx.eff.dataset.prefix or "",
            "objects": survey.objects,
            "bytes": survey.bytes,
            "deleted": deleted,
            "listed_after": left,
            "listed_under_prefix_after": under_prefix,
            "retention": self._retention(source, ctx.eff.dataset.prefix or ""),
            "operator": self.operator,
        }
        if attestation:
            record["attestation"] = attestation
        self.job.manifest.append(record)
        self.job.manifest.checkpoint()
        note = {"event": EVENT, "method": record["method"], "deleted": deleted, "left": left}
        self.journal.note_dataset(ctx.eff.name, json.dumps(note, sort_keys=True))
        self.report.step(ctx.eff.name, EVENT, **{k: record[k] for k in _REPORTED})

    def _delete_all(self, ctx: Context, source: Backend) -> int:
        name = ctx.eff.name
        leased = cast(_LeasedDelete, source)

        def delete_leased(lease: Any) -> str:
            leased.delete(lease.key, lease_id=lease.lease_id)
            return str(lease.key)

        def delete_plain(key: str) -> str:
            source.delete(key)
            return key

        deleted = 0
        with ThreadPoolExecutor(self.lease_workers, thread_name_prefix="decommission") as pool:
            leases = self.journal.leases(name)  # paged by key: releasing does not disturb it
            for _, future in imap_unordered(pool, delete_leased, leases, 64):
                self.journal.release_lease(name, future.result())
                deleted += 1
            for _, future in imap_unordered(pool, delete_plain, self._unleased(ctx), 64):
                future.result()
                deleted += 1
        return deleted

    def _unleased(self, ctx: Context) -> Iterator[str]:
        """What is still listed once the leased blobs are gone, each checked again."""
        for info in self.shared.listing(ctx):
            why = self._unsafe(ctx.eff.name, info.key, info.etag, info.size)
            if why:
                raise GateRefusedError(
                    f"gate decommission refused: {ctx.eff.name}: {info.key}: {why}",
                    hint="the objects already deleted had verified copies; verify this one "
                    "and re-run",
                )
            yield info.key

    @staticmethod
    def _retention(source: Backend, prefix: str) -> dict[str, Any]:
        if not source.capabilities().retention_settings:
            return {"note": f"{source.name}: no retention settings readable for this source"}
        return dict(cast(ReportsRetention, source).retention_settings(prefix))


def _summary(states: dict[str, str]) -> str:
    return ", ".join(f"{d}: {s}" for d, s in states.items())


_REPORTED = ("method", "objects", "bytes", "deleted", "listed_after", "retention")

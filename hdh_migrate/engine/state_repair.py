"""Damaged or lost state: refuse to run on it, check it, rebuild it without re-uploading.

``guard`` runs before a run or a verify opens the state directory. A journal that is
missing (or empty) while the manifest records verified objects would make the run upload
everything again; a manifest that is missing while the journal says objects were recorded
in it would be silently started anew. Both stop with one line naming the file and the
recovery command (``StateError``, exit 9). The journal's own damage (garbage, truncation,
missing tables, a failed ``integrity_check`` after an unclean stop) is refused by
``Journal`` itself (``hdh_migrate.journal.integrity``).

``check`` reports what is wrong. ``repair``:

- journal damaged or missing: the damaged files are moved aside (kept as evidence), a new
  journal is built from the manifest's ``object`` records (the latest record of each
  object wins), each one confirmed at the target first — the object exists, has the
  recorded size, and its HDH1 header hashes to the recorded ``header_sha256`` (one ranged
  GET of ≤ 4 KiB per object, no upload, no full read). An object that fails this is left
  out: the next run copies it again. Objects copied but not yet verified when the journal
  was lost have no record: the next run copies them again (their cost is the only loss);
- manifest missing: the journal forgets which leaves recorded its objects, so the next
  run writes their records again into a new manifest, whose ``run`` record says so.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hdh_migrate.engine.evidence import StatePaths
from hdh_migrate.engine.specs import target_spec
from hdh_migrate.errors import HdhError, StateError
from hdh_migrate.journal import CopyResult, InventoryEntry, ItemState, Journal, item_id_for
from hdh_migrate.plan import Plan
from hdh_migrate.stages.clients import Clients

REPAIR_HINT = "run `hdh-migrate state check PLAN`, then `hdh-migrate state repair PLAN`"
HEADER_MAX = 4096


# ---------------------------------------------------------------------------- guard


def guard(paths: StatePaths) -> None:
    """Refuse a state directory whose journal or manifest was lost (see module doc)."""
    journal_empty = not paths.journal.exists() or paths.journal.stat().st_size == 0
    if journal_empty and _first_object_record(paths.manifest) is not None:
        raise StateError(
            f"the journal {paths.journal} is missing but the manifest {paths.manifest} records "
            "verified objects: a run now would upload them all again",
            hint="rebuild the journal from the manifest: `hdh-migrate state repair PLAN`",
        )
    if not paths.manifest.exists() and not journal_empty:
        recorded = _recorded_in_journal(paths.journal)
        if recorded:
            raise StateError(
                f"the manifest {paths.manifest} is missing but the journal {paths.journal} "
                f"says {recorded} object record(s) were written to it",
                hint="put it back from a backup, or `hdh-migrate state repair PLAN` to write "
                "their records again in a new manifest",
            )


def _first_object_record(manifest: Path) -> dict[str, Any] | None:
    return next(_object_records(manifest), (0, None))[1] if manifest.exists() else None


def _recorded_in_journal(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT COUNT(*) FROM items WHERE manifest_leaf IS NOT NULL")
            return int(row.fetchone()[0])
    except sqlite3.Error:
        return 0  # a damaged journal is the Journal's own error, with its own message


def _object_records(manifest: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(leaf index, record)`` of each ``object`` record, streamed; a torn last line (a
    crash mid-append) is ignored, as the manifest writer drops it on resume."""
    leaf = 0
    with manifest.open("rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                return
            record = json.loads(raw)
            if record.get("type") == "checkpoint":
                continue
            if record.get("type") == "object":
                yield leaf, record
            leaf += 1


# ---------------------------------------------------------------------------- check


@dataclass
class StateReport:
    """What ``state check`` found; ``problems`` empty means sound."""

    journal: str
    manifest: str
    journal_items: int = 0
    journal_verified: int = 0
    manifest_objects: int = 0
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def check(paths: StatePaths) -> StateReport:
    """Journal integrity, manifest presence, and whether they agree."""
    report = StateReport(str(paths.journal), str(paths.manifest))
    try:
        guard(paths)
    except StateError as exc:
        report.problems.append(exc.message)
    if paths.manifest.exists():
        report.manifest_objects = sum(1 for _ in _object_records(paths.manifest))
    if not paths.journal.exists():
        return report
    try:
        with Journal(paths.journal) as journal:
            verdict = journal.integrity_check()
            if verdict != "ok":
                report.problems.append(f"integrity_check: {verdict}")
            counts = journal.counts()
            report.journal_items = sum(c.count for c in counts)
            report.journal_verified = sum(c.count for c in counts if c.state == ItemState.VERIFIED)
    except HdhError as exc:
        report.problems.append(exc.message)
    return report


# ---------------------------------------------------------------------------- repair


@dataclass
class RepairOutcome:
    journal_rebuilt: bool = False
    moved_aside: list[str] = field(default_factory=list)
    restored: int = 0
    left_out: list[tuple[str, str]] = field(default_factory=list)
    manifest_reissued: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["left_out"] = [{"object_id": o, "reason": r} for o, r in self.left_out]
        return data


def repair(plan: Plan, paths: StatePaths, clients: Clients) -> RepairOutcome:
    """Rebuild what is lost or damaged (see the module doc); a sound state is left as is."""
    outcome = RepairOutcome()
    if _journal_needs_rebuild(paths):
        if not paths.manifest.exists():
            raise StateError(
                f"neither a usable journal {paths.journal} nor a manifest {paths.manifest}: "
                "nothing to rebuild from",
                hint="put the manifest back from a backup (the run would otherwise copy "
                "everything again)",
            )
        outcome.moved_aside = _move_aside(paths.journal)
        with Journal(paths.journal) as journal:
            _rebuild(plan, paths.manifest, journal, clients, outcome)
        outcome.journal_rebuilt = True
    elif not paths.manifest.exists():
        with Journal(paths.journal) as journal:
            outcome.manifest_reissued = journal.forget_manifest_leaves()
    return outcome


def _journal_needs_rebuild(paths: StatePaths) -> bool:
    if not paths.journal.exists() or paths.journal.stat().st_size == 0:
        return True
    try:
        with Journal(paths.journal) as journal:
            return journal.integrity_check() != "ok"
    except HdhError:
        return True


def _move_aside(journal: Path) -> list[str]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    moved = []
    for suffix in ("", "-wal", "-shm"):
        path = journal.with_name(journal.name + suffix)
        if path.exists():
            aside = path.with_name(f"{path.name}.damaged-{stamp}")
            path.rename(aside)
            moved.append(str(aside))
    return moved


def _rebuild(
    plan: Plan, manifest: Path, journal: Journal, clients: Clients, outcome: RepairOutcome
) -> None:
    datasets = {ds.name: (wave.name, ds) for wave, ds in plan.iter_datasets()}
    for leaf, record in _object_records(manifest):
        known = datasets.get(str(record.get("dataset")))
        if known is None:
            outcome.left_out.append((str(record.get("object_id")), "dataset not in the plan"))
            continue
        wave, ds = known
        why = _confirm_at_target(plan, record, clients)
        if why is not None:
            outcome.left_out.append((str(record["object_id"]), why))
            continue
        journal.ensure_dataset(ds.name, wave)
        _restore_item(journal, ds.prefix, record, leaf)
        outcome.restored += 1


def _confirm_at_target(plan: Plan, record: dict[str, Any], clients: Clients) -> str | None:
    """None when the target holds the recorded object (size, HDH1 header hash), else why."""
    eff = plan.effective(str(record["dataset"]))
    target = clients.backend(target_spec(plan, eff.dataset.target, eff))
    key, size = record["target"]["key"], int(record["target"]["size"])
    try:
        info = target.stat(key)
        if info.size != size:
            return f"target holds {info.size} bytes, the record says {size}"
        with target.open_read(key, range=(0, min(size, HEADER_MAX) - 1)) as stream:
            head = stream.read()
    except HdhError as exc:
        return exc.one_line()
    header = head[: int.from_bytes(head[8:12], "big")] if len(head) >= 12 else b""
    if hashlib.sha256(header).hexdigest() != record["crypto"]["header_sha256"]:
        return "the HDH1 header at the target is not the recorded one"
    return None


def _restore_item(journal: Journal, prefix: str, record: dict[str, Any], leaf: int) -> None:
    dataset, object_id = str(record["dataset"]), str(record["object_id"])
    key = prefix + object_id[len(dataset) + 1 :]  # the source key the record's id names
    item_id = item_id_for(dataset, key)
    source = record["source"]
    entry = InventoryEntry(
        dataset,
        key,
        int(source["size"]),
        str(source.get("etag") or ""),
        object_id=object_id,  # as recorded: never rebuilt
        target_key=str(record["target"]["key"]) or None,
    )
    journal.upsert_inventory([entry])
    current = journal.get_by_id(item_id)
    if current is not None and current.state == ItemState.VERIFIED:  # a later record wins
        journal.mark_failed(item_id, "superseded by a later manifest record")
        journal.reset_to_pending(item_id, "state repair")
    journal.mark_copying(item_id)
    target = record["target"]
    journal.mark_copied(
        item_id,
        CopyResult(
            plaintext_sha256=str(record["plaintext_sha256"]),
            ciphertext_sha256=str(record["ciphertext_sha256"]),
            target_key=str(target["key"]),
            target_size=int(target["size"]),
            header_sha256=str(record["crypto"]["header_sha256"]),
            target_etag=target.get("checksum"),
            target_version=target.get("version"),
        ),
    )
    journal.mark_verified(item_id, str(record.get("verify", {}).get("mode") or "full"))
    journal.mark_recorded(item_id, leaf)

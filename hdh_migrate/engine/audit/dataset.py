"""One dataset of an audit: the source selection listed read-only, merged with the target
listing (both in key order) into the inventory, the diff and the request tally.

Backends are opened with ``open_spec(read_only=True)`` (a local source also with
``create=False``); the journal only through ``JournalView`` (read-only). See docs/audit.md
for the definitions of new / changed / identical / extra.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from hdh_migrate.backends.base import Backend, ObjectInfo
from hdh_migrate.backends.probe import PROBE_PREFIX, ProbeResult, load_probe
from hdh_migrate.backends.registry import open_spec
from hdh_migrate.backends.specs import LocalSpec
from hdh_migrate.crypto.format import (
    MAX_HEADER_LEN,
    PREFIX_LEN,
    header_length_from_prefix,
    parse_header,
)
from hdh_migrate.engine.audit.journal import DONE_STATES, JournalItem, JournalView
from hdh_migrate.engine.specs import selection_for, source_spec, target_spec
from hdh_migrate.errors import HdhError, NotFoundError
from hdh_migrate.plan import EffectiveDataset, Plan
from hdh_migrate.reports.model import DatasetReport, Diff
from hdh_migrate.reports.tally import InventoryTally, RequestTally, Transfer, add_to
from hdh_migrate.stages.envelopes import is_sidecar
from hdh_migrate.stages.inventory import Entry, inventory
from hdh_migrate.stages.metadata import not_carried, target_metadata

AZURE_PAGE = 5000
METADATA_FORMAT_KEY = "hdh-format"


def skipped_dataset(eff: EffectiveDataset) -> DatasetReport:
    return _base(eff, "skipped", "inventory not requested")


def _base(eff: EffectiveDataset, status: str, note: str = "") -> DatasetReport:
    ds = eff.dataset
    where = f"{ds.source}:{eff.location or ''}/{ds.prefix}"
    return DatasetReport(
        ds.name,
        eff.wave.name,
        where,
        f"{ds.target}:{eff.target.location}/{ds.target_prefix}",
        ds.target_prefix,
        status,
        note,
    )


def audit_dataset(
    plan: Plan, eff: EffectiveDataset, journal: JournalView | None
) -> tuple[DatasetReport, RequestTally]:
    report = _base(eff, "listed")
    tally = RequestTally()
    try:
        source = _open_source(eff)
    except HdhError as exc:
        return _failed(report, "unreachable", exc), tally
    try:
        target = open_spec(target_spec(plan, eff.dataset.target, eff).backend_spec, read_only=True)
    except HdhError as exc:
        source.close()
        return _failed(report, "unreachable", exc), tally
    try:
        _walk(eff, source, target, journal, report, tally, _probed(plan, eff))
    except HdhError as exc:
        return _failed(report, "unreachable", exc), RequestTally()
    finally:
        source.close()
        target.close()
    return report, tally


def _probed(plan: Plan, eff: EffectiveDataset) -> ProbeResult | None:
    """The target's cached probe (its key rules), if any: the audit reads, never probes."""
    try:
        return load_probe(plan.state_path, eff.dataset.target)
    except HdhError:
        return None


def _failed(report: DatasetReport, status: str, exc: HdhError) -> DatasetReport:
    report.status, report.note = status, exc.one_line()
    report.inventory = report.diff = None
    return report


def _open_source(eff: EffectiveDataset) -> Backend:
    spec = source_spec(eff).backend_spec
    if isinstance(spec, LocalSpec):
        spec = replace(spec, create=False)  # never make the directory an audit looks at
    return open_spec(spec, read_only=True)


def _transfer(eff: EffectiveDataset) -> Transfer:
    verify = eff.verify
    share = {"full": 1.0, "sample": (verify.percent or 0) / 100}.get(verify.kind, 0.0)
    return Transfer(
        part_size=max(eff.part_size, 5 << 20),
        multipart_threshold=eff.multipart_threshold,
        verify_share=share,
    )


def _walk(
    eff: EffectiveDataset,
    source: Backend,
    target: Backend,
    journal: JournalView | None,
    report: DatasetReport,
    tally: RequestTally,
    probed: ProbeResult | None = None,
) -> None:
    """One pass: the source selection merged with the target listing (both in key order)."""
    inv, diff, transfer = InventoryTally(), Diff(), _transfer(eff)
    targets = _target_listing(target, eff.dataset.target_prefix, diff)
    pending = next(targets, None)
    last = ""
    for entry in inventory(source, selection_for(eff, probed=probed)):
        _account(eff, entry, inv)
        if entry.target_key < last:
            _note(diff, "source listing is not in key order: extra-on-target counts are unsure")
        last = entry.target_key
        while pending is not None and pending.key < entry.target_key:
            add_to(diff.extra_on_target, pending.key, pending.size)
            pending = next(targets, None)
        match = pending if pending is not None and pending.key == entry.target_key else None
        if match is not None:
            pending = next(targets, None)
        _classify(eff, entry, match, journal, target, diff, tally, transfer)
    while pending is not None:
        add_to(diff.extra_on_target, pending.key, pending.size)
        pending = next(targets, None)
    tally.lists += 1 + inv.inventory.objects // AZURE_PAGE
    report.inventory, report.diff = inv.finish(), diff


def _note(diff: Diff, text: str) -> None:
    if text not in diff.notes:
        diff.notes.append(text)


def _target_listing(target: Backend, prefix: str, diff: Diff) -> Iterator[ObjectInfo]:
    """The target's objects under ``prefix`` (probe canaries and sidecar envelopes left
    out). A missing bucket is an empty listing; an unreachable target too, noted, so the
    source inventory survives."""
    try:
        for info in target.list(prefix):
            if not info.key.startswith(PROBE_PREFIX) and not is_sidecar(info.key):
                yield info
    except NotFoundError:
        diff.target_listed = False
        _note(diff, "target bucket does not exist yet: everything is new")
    except HdhError as exc:
        diff.target_listed = False
        _note(diff, f"target not listed ({exc.one_line()}): counts assume an empty target")


def _account(eff: EffectiveDataset, entry: Entry, inv: InventoryTally) -> None:
    meta = eff.dataset.metadata
    renames = tuple(meta.rename.items())
    mapped, left = target_metadata(
        entry.info, carry=meta.carry_user_metadata, rename=renames, drop=meta.drop
    )
    inv.add(entry.info.key, entry.info.size, entry.flag, not_carried(mapped, left))


def _classify(
    eff: EffectiveDataset,
    entry: Entry,
    match: ObjectInfo | None,
    journal: JournalView | None,
    target: Backend,
    diff: Diff,
    tally: RequestTally,
    transfer: Transfer,
) -> None:
    info = entry.info
    if entry.flag is not None:
        return  # flagged objects never move; the inventory lists them
    item = journal.item(eff.name, info.key) if journal is not None else None
    verdict = _verdict(entry, item, match, target)
    if verdict == "new" and item is not None and item.state in DONE_STATES:
        diff.journal_disagrees += 1
    if verdict.startswith("identical"):
        add_to(diff.identical, info.key, info.size)
        diff.identical_by_journal += verdict == "identical-journal"
        diff.identical_by_target += verdict == "identical-target"
        return
    add_to(diff.new if verdict == "new" else diff.changed, info.key, info.size)
    tally.add(info.size, transfer)


def _verdict(
    entry: Entry, item: JournalItem | None, match: ObjectInfo | None, target: Backend
) -> str:
    """new | changed | identical-journal | identical-target."""
    info = entry.info
    if match is None:
        return "new"
    if item is not None and (item.etag != (info.etag or "") or item.size != info.size):
        return "changed"
    if item is not None and item.state in DONE_STATES and item.target_size in (None, match.size):
        return "identical-journal"
    return "identical-target" if _sealed_copy(entry, match, target) else "changed"


def _sealed_copy(entry: Entry, match: ObjectInfo, target: Backend) -> bool:
    """True when the target object carries ``hdh-format`` metadata and its HDH1 header (one
    ranged GET of at most MAX_HEADER_LEN bytes) names this object with the source's length
    and accounts for the target's size exactly. A same-size rewrite of the source is not
    detected this way (the journal's ETag is what detects it)."""
    metadata = match.metadata or target.stat(match.key).metadata
    if METADATA_FORMAT_KEY not in {k.lower() for k in metadata} or match.size < PREFIX_LEN:
        return False
    try:
        with target.open_read(match.key, range=(0, min(match.size, MAX_HEADER_LEN) - 1)) as raw:
            head = raw.read()
        header = parse_header(head[: header_length_from_prefix(head[:PREFIX_LEN])])
    except (HdhError, ValueError):
        return False
    return (
        header.object_id == entry.object_id
        and header.plaintext_length == entry.info.size
        and header.ciphertext_length == match.size
    )

"""``hdh-migrate audit``: may this plan run, what would move, how long and how much.

Read-only by construction: every backend is opened through ``ReadOnlyBackend``
(``open_backend(read_only=True)``; a local source also with ``create=False``), the journal
through SQLite ``mode=ro`` (``immutable=1`` when no WAL file exists, so not even a
``-shm`` file appears), the probe cache is read, and the state directory is never
created. ``--no-inventory`` (``AuditOptions(inventory=False)``) lists nothing: a
policy-only audit that works offline. A dataset whose source cannot be listed is reported
``unreachable`` with the reason; the verdict stays the policy's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from hdh_migrate import __version__
from hdh_migrate.backends.base import Backend, ObjectInfo
from hdh_migrate.backends.probe import PROBE_PREFIX, ProbeResult, load_probe
from hdh_migrate.backends.registry import open_backend
from hdh_migrate.crypto.format import (
    MAX_HEADER_LEN,
    PREFIX_LEN,
    header_length_from_prefix,
    parse_header,
)
from hdh_migrate.engine.audit_journal import DONE_STATES, JournalItem, JournalView
from hdh_migrate.engine.runner import Migration
from hdh_migrate.engine.specs import source_spec, target_spec
from hdh_migrate.errors import HdhError, NotFoundError
from hdh_migrate.events import NullReporter, Reporter
from hdh_migrate.plan import EffectiveDataset, Plan
from hdh_migrate.policy import (
    Finding,
    Override,
    PlanSource,
    PolicyInput,
    all_rules,
    enforce,
    evaluate,
    read_plan,
    severity_of,
    worst,
)
from hdh_migrate.providers import get_preset
from hdh_migrate.reports.estimates import Pricing, estimate
from hdh_migrate.reports.model import (
    AuditReport,
    DatasetReport,
    Diff,
    Estimate,
    FindingRow,
    PlanInfo,
    RuleRow,
)
from hdh_migrate.reports.tally import InventoryTally, RequestTally, Transfer, add_to
from hdh_migrate.stages.inventory import Entry, Selection, inventory
from hdh_migrate.stages.metadata import not_carried, target_metadata

AZURE_PAGE = 5000
METADATA_FORMAT_KEY = "hdh-format"


@dataclass(frozen=True)
class AuditOptions:
    """``as_of`` dates the evidence check (default today, UTC); ``inventory`` False = policy
    only; ``environ`` is what SOV-05 reads for proxies (default ``os.environ``)."""

    as_of: date | None = None
    inventory: bool = True
    environ: Mapping[str, str] | None = None


@dataclass(frozen=True)
class PolicyView:
    """A plan read for the policy, with its findings."""

    source: PlanSource
    findings: list[Finding]
    input: PolicyInput


def judge(path: str, options: AuditOptions | None = None) -> PolicyView:
    """Evaluate the policy on the plan file, its probe cache and journal (read-only)."""
    options = options or AuditOptions()
    source = read_plan(path)
    plan = source.plan
    states: dict[str, str] = {}
    with JournalView.open(plan.state_path / "journal.sqlite") as journal:
        if journal is not None:
            states = journal.dataset_states()
    inp = PolicyInput(
        plan,
        source.file,
        source.locations,
        options.as_of or datetime.now(UTC).date(),
        _probes(plan),
        states,
        dict(os.environ if options.environ is None else options.environ),
    )
    return PolicyView(source, evaluate(inp), inp)


def policy_gate(path: str, override: str | None) -> Override | None:
    """What ``run`` calls before anything moves: PolicyError (exit 3) on a blocking finding
    unless ``override`` gives a reason; the returned Override must be recorded."""
    return enforce(judge(path).findings, override)


def audit(
    path: str, options: AuditOptions | None = None, reporter: Reporter | None = None
) -> AuditReport:
    """The full audit report (the caller decides the exit code from ``report.exit_code``)."""
    options = options or AuditOptions()
    reporter = reporter or NullReporter()
    view = judge(path, options)
    plan = view.source.plan
    datasets: list[DatasetReport] = []
    tallies: dict[str, RequestTally] = {}
    notes: list[str] = []
    with JournalView.open(plan.state_path / "journal.sqlite") as journal:
        if options.inventory:
            for wave, ds in plan.iter_datasets():
                reporter.event("audit.dataset", dataset=ds.name)
                report, tally = _dataset(plan, plan.effective(ds), journal)
                datasets.append(report)
                tallies.setdefault(wave.name, RequestTally()).merge(tally)
        else:
            datasets = [_skipped(plan.effective(ds)) for _, ds in plan.iter_datasets()]
            notes.append("inventory skipped (--no-inventory): policy only, nothing listed")
        rate, rate_source = _bandwidth(plan, journal)
    notes += [
        f"{d.name}: {d.status}: {d.note}"
        for d in datasets
        if d.status != "listed" and options.inventory
    ]
    waves, total = _estimates(plan, tallies, rate, rate_source, options.inventory)
    return _report(view, datasets, waves, total, notes, options.inventory)


# -- per dataset -------------------------------------------------------------------------------


def _skipped(eff: EffectiveDataset) -> DatasetReport:
    return _base(eff, "skipped", "inventory not requested")


def _base(eff: EffectiveDataset, status: str, note: str = "") -> DatasetReport:
    ds = eff.dataset
    where = f"{ds.source}:{eff.location or ''}/{ds.prefix}"
    return DatasetReport(
        ds.name,
        eff.wave.name,
        where,
        f"{ds.target}:{eff.target.bucket}/{ds.target_prefix}",
        ds.target_prefix,
        status,
        note,
    )


def _dataset(
    plan: Plan, eff: EffectiveDataset, journal: JournalView | None
) -> tuple[DatasetReport, RequestTally]:
    report = _base(eff, "listed")
    tally = RequestTally()
    try:
        source = _open_source(eff)
    except HdhError as exc:
        return _failed(report, "unreachable", exc), tally
    try:
        target = open_backend(
            "s3", target_spec(plan, eff.dataset.target, eff).config, read_only=True
        )
    except HdhError as exc:
        source.close()
        return _failed(report, "unreachable", exc), tally
    try:
        _walk(eff, source, target, journal, report, tally)
    except HdhError as exc:
        return _failed(report, "unreachable", exc), RequestTally()
    finally:
        source.close()
        target.close()
    return report, tally


def _failed(report: DatasetReport, status: str, exc: HdhError) -> DatasetReport:
    report.status, report.note = status, exc.one_line()
    report.inventory = report.diff = None
    return report


def _open_source(eff: EffectiveDataset) -> Backend:
    spec = source_spec(eff)
    config: dict[str, Any] = dict(spec.config)
    if spec.kind == "local":
        config["create"] = False  # never make the directory an audit looks at
    return open_backend(spec.kind, config, read_only=True)


def _selection(eff: EffectiveDataset) -> Selection:
    ds = eff.dataset
    return Selection(
        dataset=ds.name,
        prefix=ds.prefix,
        include=tuple(ds.include),
        exclude=tuple(ds.exclude),
        target_prefix=ds.target_prefix,
        max_object_size=get_preset(eff.target.provider).limits.max_object_size,
    )


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
) -> None:
    """One pass: the source selection merged with the target listing (both in key order)."""
    inv, diff, transfer = InventoryTally(), Diff(), _transfer(eff)
    targets = _target_listing(target, eff.dataset.target_prefix, diff)
    pending = next(targets, None)
    last = ""
    for entry in inventory(source, _selection(eff)):
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
    """The target's objects under ``prefix`` (probe canaries left out); a missing bucket is
    an empty listing, noted."""
    try:
        for info in target.list(prefix):
            if not info.key.startswith(PROBE_PREFIX):
                yield info
    except NotFoundError:
        diff.target_listed = False
        _note(diff, "target bucket does not exist yet: everything is new")


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


# -- plan-wide ---------------------------------------------------------------------------------


def _probes(plan: Plan) -> dict[str, ProbeResult | None]:
    found: dict[str, ProbeResult | None] = {}
    for name in plan.targets:
        try:
            found[name] = load_probe(plan.state_path, name)
        except HdhError:
            found[name] = None
    return found


def _bandwidth(plan: Plan, journal: JournalView | None) -> tuple[int | None, str]:
    if plan.estimates.bandwidth:
        return plan.estimates.bandwidth, "estimates.bandwidth"
    if plan.defaults.bandwidth:
        return plan.defaults.bandwidth, "defaults.bandwidth"
    measured = journal.measured_rate() if journal is not None else None
    return (measured, "measured (journal)") if measured else (None, "unknown")


def _estimates(
    plan: Plan, tallies: dict[str, RequestTally], rate: int | None, source: str, listed: bool
) -> tuple[list[Estimate], Estimate | None]:
    if not listed:
        return [], None
    prices = plan.estimates.prices
    pricing = (
        Pricing(prices.egress_per_gib, prices.put_per_1000, prices.get_per_1000, prices.currency)
        if prices
        else None
    )
    total = RequestTally()
    waves = []
    for wave in plan.waves:
        tally = tallies.get(wave.name, RequestTally())
        total.merge(tally)
        waves.append(estimate(wave.name, tally, rate, source, pricing))
    return waves, estimate("total", total, rate, source, pricing)


def _report(
    view: PolicyView,
    datasets: list[DatasetReport],
    waves: list[Estimate],
    total: Estimate | None,
    notes: list[str],
    listed: bool,
) -> AuditReport:
    source, inp = view.source, view.input
    plan = source.plan
    level = worst(view.findings)
    verdict = {"block": "block", "warn": "warn"}.get(level or "", "pass")
    counts: dict[str, int] = {}
    for finding in view.findings:
        counts[finding.rule] = counts.get(finding.rule, 0) + 1
    rules = [
        RuleRow(r.id, r.title, severity_of(inp, r), r.summary, counts.get(r.id, 0))
        for r in all_rules()
    ]
    info = PlanInfo(
        plan.name,
        source.file,
        source.sha256,
        plan.policy.profile,
        inp.rehearsal,
        str(plan.state_path),
    )
    return AuditReport(
        tool_version=__version__,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        as_of=inp.today.isoformat(),
        plan=info,
        verdict=verdict,
        exit_code=3 if verdict == "block" else 0,
        findings=[_row(f) for f in view.findings],
        rules=rules,
        inventory_mode="full" if listed else "skipped",
        datasets=datasets,
        waves=waves,
        total=total,
        notes=notes,
    )


def _row(finding: Finding) -> FindingRow:
    loc = finding.location
    return FindingRow(
        finding.rule,
        finding.severity,
        finding.title,
        finding.subject,
        loc.file,
        loc.line,
        loc.column,
        loc.path,
        finding.why,
        finding.fix,
    )


# -- the run gate's record -----------------------------------------------------------------------


def record_policy_override(job: Migration, override: Override) -> None:
    """Write the override into the manifest before anything moves: a ``run`` record (same
    ``run_id`` as the run) whose ``policy_override`` field holds the reason and the rules
    it overrode. The manifest is signed, so the decision cannot be quietly removed."""
    job.manifest.append(
        {
            "type": "run",
            "run_id": job.run_id,
            "tool_version": __version__,
            "plan_digest": job.plan_digest,
            "plan": job.plan.name,
            "policy_override": override.to_dict(),
        }
    )

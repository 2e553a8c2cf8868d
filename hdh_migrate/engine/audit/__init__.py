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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from hdh_migrate import __version__
from hdh_migrate.backends.probe import ProbeResult, load_probe
from hdh_migrate.engine.audit.dataset import audit_dataset, skipped_dataset
from hdh_migrate.engine.audit.journal import JournalView
from hdh_migrate.engine.credential_kinds import credential_notes
from hdh_migrate.engine.run.runner import Migration
from hdh_migrate.errors import HdhError
from hdh_migrate.events import NullReporter, Reporter
from hdh_migrate.plan import Plan
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
from hdh_migrate.providers import load_registry
from hdh_migrate.providers.overlay import load_overlay, overlay_files
from hdh_migrate.reports.estimates import Pricing, estimate
from hdh_migrate.reports.model import (
    AuditReport,
    DatasetReport,
    Estimate,
    FindingRow,
    PlanInfo,
    RuleRow,
)
from hdh_migrate.reports.tally import RequestTally

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
    gone: dict[str, str] = {}
    with JournalView.open(plan.state_path / "journal.sqlite") as journal:
        if journal is not None:
            states, gone = journal.dataset_states(), journal.decommissioned()
    inp = PolicyInput(
        plan,
        source.file,
        source.locations,
        options.as_of or datetime.now(UTC).date(),
        _probes(plan),
        states,
        dict(os.environ if options.environ is None else options.environ),
        gone,
        load_overlay(overlay_files(path), load_registry().presets),
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
                report, tally = audit_dataset(plan, plan.effective(ds), journal)
                datasets.append(report)
                tallies.setdefault(wave.name, RequestTally()).merge(tally)
        else:
            datasets = [skipped_dataset(plan.effective(ds)) for _, ds in plan.iter_datasets()]
            notes.append("inventory skipped (--no-inventory): policy only, nothing listed")
        rate, rate_source = _bandwidth(plan, journal)
    notes += credential_notes(plan)
    notes += [
        f"{d.name}: {d.status}: {d.note}"
        for d in datasets
        if d.status != "listed" and options.inventory
    ]
    waves, total = _estimates(plan, tallies, rate, rate_source, options.inventory)
    return _report(view, datasets, waves, total, notes, options.inventory)


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
    """Put the override into the run's own signed manifest ``run`` record (written before
    any copy): ``policy_override`` holds the reason and the rules it overrode, so the
    decision cannot be quietly removed."""
    job.note(policy_override=override.to_dict())

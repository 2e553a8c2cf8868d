"""The audit report as Markdown (for tickets, merge requests and runbooks)."""

from __future__ import annotations

from hdh_migrate.escaping import md_code, md_text
from hdh_migrate.reports.model import AuditReport, DatasetReport, Estimate
from hdh_migrate.units import human_size

REHEARSAL_BANNER = (
    "> **⚠ REHEARSAL — nothing in this plan is sovereign. Local targets are accepted; "
    "do not put real health data through it.**"
)


def render_markdown(report: AuditReport) -> str:
    """A complete Markdown document."""
    parts = [f"# Audit of plan {md_code(report.plan.name)}", ""]
    if report.rehearsal:
        parts += [REHEARSAL_BANNER, ""]
    parts += _summary(report) + _findings(report) + _datasets(report) + _estimates(report)
    if report.notes:
        parts += ["## Notes", "", *[f"- {_cell(n)}" for n in report.notes], ""]
    return "\n".join(parts) + "\n"


def _summary(report: AuditReport) -> list[str]:
    counts = report.counts()
    return [
        f"- Verdict: **{report.verdict.upper()}** (exit {report.exit_code})",
        f"- Plan file: {md_code(report.plan.file)} (sha256 `{report.plan.sha256[:16]}…`)",
        f"- Profile: `{report.plan.profile}`; evidence dated as of {report.as_of}",
        f"- Findings: {counts['block']} block, {counts['warn']} warn, {counts['info']} info",
        f"- Generated {report.generated_at} by hdh-migrate {report.tool_version} "
        f"(schema `{report.schema}`)",
        "",
    ]


def _cell(text: str) -> str:
    return md_text(text.replace("\n", " "))


def _findings(report: AuditReport) -> list[str]:
    lines = ["## Findings", ""]
    if not report.findings:
        return [*lines, "No findings.", ""]
    lines += ["| severity | rule | where | why | fix |", "|---|---|---|---|---|"]
    for f in report.findings:
        where = f"{md_code(f'{f.file}:{f.line}:{f.column}', in_table=True)} ({_cell(f.path)})"
        lines.append(
            f"| {f.severity.upper()} | {f.rule} {_cell(f.title)} | {where} | "
            f"{_cell(f.why)} | {_cell(f.fix)} |"
        )
    return [*lines, ""]


def _datasets(report: AuditReport) -> list[str]:
    lines = ["## Datasets", ""]
    for ds in report.datasets:
        lines += _dataset(ds)
    return lines


def _dataset(ds: DatasetReport) -> list[str]:
    head = [
        f"### {_cell(ds.name)} (wave {_cell(ds.wave)}) — {_cell(ds.status)}",
        "",
        f"{md_code(ds.source)} → {md_code(ds.target)}",
        "",
    ]
    if ds.inventory is None or ds.diff is None:
        return [*head, f"_{_cell(ds.note)}_", ""] if ds.note else head
    inv, diff = ds.inventory, ds.diff
    rows = [
        ("objects", f"{inv.objects} ({human_size(inv.bytes)})"),
        ("new", f"{diff.new.count} ({human_size(diff.new.bytes)})"),
        ("changed", f"{diff.changed.count} ({human_size(diff.changed.bytes)})"),
        (
            "identical",
            f"{diff.identical.count} (journal {diff.identical_by_journal}, "
            f"target {diff.identical_by_target})",
        ),
        ("extra on target", f"{diff.extra_on_target.count}"),
        ("over the target's limit", f"{inv.over_limit.count}"),
        ("archive tier", f"{inv.archive_tier.count}"),
        ("names invalid or too long", f"{inv.bad_names.count}"),
        ("objects losing metadata", f"{inv.objects_losing_metadata}"),
    ]
    table = ["| | |", "|---|---|", *[f"| {k} | {v} |" for k, v in rows]]
    hist = ["", "| size bucket | objects | bytes |", "|---|---|---|"] + [
        f"| {human_size(b.lower)} – {human_size(b.upper)} | {b.count} | {human_size(b.bytes)} |"
        for b in inv.histogram
    ]
    lost = [
        f"- not carried: {md_code(name)} on {count} object(s)"
        for name, count in sorted(inv.metadata_not_carried.items())
    ]
    return [*head, *table, *hist, "", *lost, *[f"- {_cell(n)}" for n in diff.notes], ""]


def _estimates(report: AuditReport) -> list[str]:
    if report.total is None:
        return ["## Estimates", "", "_Not computed (inventory skipped)._", ""]
    lines = [
        "## Estimates",
        "",
        "| scope | objects | bytes | duration | PUT | GET | HEAD | cost |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in [*report.waves, report.total]:
        lines.append(
            f"| {_cell(e.scope)} | {e.objects} | {human_size(e.bytes)} | {duration(e)} | "
            f"{e.puts} | {e.gets} | {e.heads} | {cost(e)} |"
        )
    return [*lines, "", f"Bandwidth: {rate(report.total)}.", ""]


def duration(e: Estimate) -> str:
    """``1h 02m 03s`` or ``unknown``."""
    if e.seconds is None:
        return "unknown"
    total = round(e.seconds)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {seconds:02d}s" if hours else f"{minutes}m {seconds:02d}s"


def cost(e: Estimate) -> str:
    if e.egress_cost is None or e.request_cost is None:
        return "no prices"
    return f"{e.egress_cost + e.request_cost:.2f} {e.currency}"


def rate(e: Estimate) -> str:
    if e.bandwidth is None:
        return "unknown (set estimates.bandwidth)"
    return f"{human_size(e.bandwidth)}/s ({e.bandwidth_source})"

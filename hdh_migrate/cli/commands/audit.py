"""``hdh-migrate audit``: a thin adapter over ``hdh_migrate.engine.audit``."""

from __future__ import annotations

import contextlib
import io
import os
from datetime import date
from pathlib import Path

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from hdh_migrate.cli.endpoints import show_endpoints
from hdh_migrate.cli.render import stderr, stdout, styled, term
from hdh_migrate.engine.audit import AuditOptions, audit
from hdh_migrate.errors import PolicyError, UsageError
from hdh_migrate.reports import RENDERERS, AuditReport, render_sarif
from hdh_migrate.reports.markdown import cost, duration, rate
from hdh_migrate.units import human_size

AUDIT_HELP = """Before a byte moves: may this plan run (sovereignty rules SOV-01 … SOV-16),
what would move (inventory and diff against the target), how long and how much.

Read-only: every bucket, container and the journal are opened read-only; nothing is
created. --no-inventory lists nothing (policy only; works offline).

Exit 3 when a finding blocks (the run would refuse), else 0.

Examples:

  hdh-migrate audit plans/rehearsal.yaml

  hdh-migrate audit plan.yaml --format html --out audit.html --sarif audit.sarif

  hdh-migrate audit plan.yaml --no-inventory --format json --as-of 2027-01-01
"""

OUT_OPT = typer.Option(None, "--out", help="Write the report here, not stdout.")
SARIF_OPT = typer.Option(None, "--sarif", help="Also write SARIF 2.1.0 here.")
SEVERITY_STYLE = {"block": "bold red", "warn": "yellow", "info": "dim"}


def register(app: typer.Typer) -> None:
    app.command("audit", help=AUDIT_HELP)(audit_command)


def audit_command(
    plan: str = typer.Argument(..., metavar="PLAN", help="Path of the plan file (YAML)."),
    fmt: str = typer.Option("table", "--format", help="table, json, md or html."),
    out: Path | None = OUT_OPT,
    sarif: Path | None = SARIF_OPT,
    as_of: str | None = typer.Option(None, "--as-of", help="Date evidence is judged on."),
    no_inventory: bool = typer.Option(False, "--no-inventory", help="Policy only, offline."),
) -> None:
    """Audit the plan (see Examples)."""
    if fmt not in ("table", *RENDERERS):
        raise UsageError(f"unknown format {fmt!r}", hint="use table, json, md or html")
    options = AuditOptions(as_of=_date(as_of), inventory=not no_inventory)
    show_endpoints(plan)
    report = audit(plan, options)
    _emit(report, fmt, out)
    if sarif is not None:
        _write(sarif, render_sarif(report))
    if report.exit_code == 3:
        first = next(f for f in report.findings if f.severity == "block")
        raise PolicyError(
            f"{report.counts()['block']} blocking finding(s); first: {first.file}:{first.line}:"
            f"{first.column} {first.rule} {first.why}",
            hint="fix the plan (each finding says how); `run` refuses this plan",
        )


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--as-of {text!r} is not a date", hint="write YYYY-MM-DD") from None


def _emit(report: AuditReport, fmt: str, out: Path | None) -> None:
    if fmt != "table":
        text = RENDERERS[fmt](report)
        if out is None:
            typer.echo(text, nl=False)
        else:
            _write(out, text)
            stderr.print(f"audit report written to {term(str(out))}", highlight=False)
        return
    if out is None:
        print_table(report, stdout)
        return
    buffer = io.StringIO()
    print_table(report, Console(file=buffer, width=160, no_color=True))
    _write(out, buffer.getvalue())


def _write(path: Path, text: str) -> None:
    """Write atomically (temp file + rename) so a reader never sees half a report; the
    report's directory is created when missing."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise UsageError(
            f"cannot write {path}: {exc.strerror}", hint="choose another --out"
        ) from None


def print_table(report: AuditReport, console: Console) -> None:
    """The rich terminal summary: banner, verdict, findings, datasets, estimates."""
    if report.rehearsal:
        console.print(
            Panel(
                "[bold black on yellow] REHEARSAL — NOT SOVEREIGN — NO REAL HEALTH DATA [/]",
                style="bold yellow",
            )
        )
    counts = report.counts()
    console.print(
        f"{styled('audit ' + report.plan.name, 'bold')}: {report.verdict.upper()} — "
        f"{counts['block']} block, {counts['warn']} warn, {counts['info']} info "
        f"(profile {term(report.plan.profile)}, as of {report.as_of})"
    )
    console.print(_findings_table(report))
    console.print(_datasets_table(report))
    if report.total is not None:
        console.print(_estimates_table(report))
    for note in report.notes:
        console.print(f"[dim]note:[/] {term(note)}")


def _findings_table(report: AuditReport) -> Table:
    title = f"findings in {term(report.plan.file)} (line:column)"
    table = Table("severity", "rule", "at", "why", "fix", title=title, show_lines=True)
    for f in report.findings:
        table.add_row(
            f"[{SEVERITY_STYLE[f.severity]}]{f.severity.upper()}[/]",
            term(f.rule),
            f"{f.line}:{f.column}",
            term(f.why),
            term(f.fix),
        )
    return table


def _datasets_table(report: AuditReport) -> Table:
    table = Table(
        "dataset",
        "status",
        "objects",
        "bytes",
        "new",
        "changed",
        "identical",
        "extra",
        "flagged",
        "metadata lost",
        title="datasets",
    )
    for ds in report.datasets:
        inv, diff = ds.inventory, ds.diff
        if inv is None or diff is None:
            table.add_row(term(ds.name), term(f"{ds.status}: {ds.note}"), *["—"] * 8)
            continue
        flagged = inv.over_limit.count + inv.archive_tier.count + inv.bad_names.count
        table.add_row(
            term(ds.name),
            term(ds.status),
            str(inv.objects),
            human_size(inv.bytes),
            str(diff.new.count),
            str(diff.changed.count),
            str(diff.identical.count),
            str(diff.extra_on_target.count),
            str(flagged),
            str(inv.objects_losing_metadata),
        )
    return table


def _estimates_table(report: AuditReport) -> Table:
    assert report.total is not None
    table = Table(
        "scope",
        "objects",
        "bytes",
        "duration",
        "PUT",
        "GET",
        "HEAD",
        "cost",
        title=f"estimates at {rate(report.total)}",
    )
    for e in [*report.waves, report.total]:
        table.add_row(
            term(e.scope),
            str(e.objects),
            human_size(e.bytes),
            duration(e),
            str(e.puts),
            str(e.gets),
            str(e.heads),
            cost(e),
        )
    return table

"""``hdh-migrate providers`` — list the provider presets and show one in detail.

Thin adapter: the data and every judgement come from ``hdh_migrate.providers``; this module
only renders (rich tables, or ``--json``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import typer
from rich.table import Table

from hdh_migrate.cli.render import emit_json, stdout, styled, term
from hdh_migrate.errors import UsageError
from hdh_migrate.providers import get_preset, load_registry
from hdh_migrate.providers.summary import preset_detail, registry_summary
from hdh_migrate.units import human_size

LIST_HELP = """List the provider presets: family, regions (EU / non-EU), qualification, evidence.

Qualification is per offering and region, with dated evidence (ANSSI: valid 3 years).

Examples:

  hdh-migrate providers

  hdh-migrate providers --json

  hdh-migrate providers show s3ns
"""

SHOW_HELP = """Show one preset in detail.

Endpoint template, regions with qualification evidence and its age (stale after 3 years),
addressing, signature, checksum mode, SSE, limits and quirks.

Examples:

  hdh-migrate providers show ovh

  hdh-migrate providers show cloud-temple --json

  hdh-migrate providers show s3ns --as-of 2029-01-01
"""

_STATUS_STYLE = {
    "qualified": "green",
    "claimed": "yellow",
    "not_qualified": "red",
    "unknown": "magenta",
    "rehearsal_only": "cyan",
    "no_data": "dim",
}

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of tables.")
AS_OF_OPTION = typer.Option(
    None, "--as-of", metavar="YYYY-MM-DD", help="Judge evidence age on this date (default: today)."
)

providers_app = typer.Typer(help=LIST_HELP, invoke_without_command=True, no_args_is_help=False)


def register(app: typer.Typer) -> None:
    """Add the ``providers`` group to the root application."""
    app.add_typer(providers_app, name="providers")


@providers_app.callback(invoke_without_command=True)
def list_presets(
    ctx: typer.Context, as_json: bool = JSON_OPTION, as_of: str | None = AS_OF_OPTION
) -> None:
    """List the provider presets (see Examples)."""
    if ctx.invoked_subcommand is not None:
        return
    data = registry_summary(load_registry(), _today(as_of))
    if as_json:
        emit_json(data)
    else:
        _print_list(data)


@providers_app.command("show", help=SHOW_HELP)
def show_preset(
    name: str = typer.Argument(..., help="Preset name, e.g. ovh-snc."),
    as_json: bool = JSON_OPTION,
    as_of: str | None = AS_OF_OPTION,
) -> None:
    """Show one preset in detail (see Examples)."""
    today = _today(as_of)
    data = preset_detail(get_preset(name), today)
    data["registry_updated"] = load_registry().updated.isoformat()
    if as_json:
        emit_json(data)
    else:
        _print_detail(data)


def _today(as_of: str | None) -> date:
    if as_of is None:
        return date.today()
    try:
        return date.fromisoformat(as_of)
    except ValueError:
        raise UsageError(f"--as-of expects a date YYYY-MM-DD, got {as_of!r}") from None


# ---- list -------------------------------------------------------------------------------


def _print_list(data: dict[str, Any]) -> None:
    table = Table(title="Provider presets", title_justify="left")
    for column in ("preset", "family", "regions", "qualification", "evidence date"):
        table.add_column(column, no_wrap=column != "qualification")
    for row in data["presets"]:
        table.add_row(
            f"[bold]{row['name']}[/]",
            row["family"],
            _region_counts(row["regions"]),
            _qualification_cell(row["qualification"]),
            row["evidence_date"] or "[dim]unknown[/]",
        )
    stdout.print(table)
    _print_footer(data["updated"], data["as_of"])
    stdout.print(styled(data["source_note"], "dim"))


def _region_counts(counts: dict[str, Any]) -> str:
    if counts["any"]:
        return "any"
    non_eu = f", [red]{counts['non_eu']} non-EU[/]" if counts["non_eu"] else ""
    return f"{counts['eu']} EU{non_eu}"


def _qualification_cell(groups: list[dict[str, Any]]) -> str:
    if len(groups) == 1:
        return _status(groups[0]["status"])
    return "\n".join(f"{_status(g['status'])}: {', '.join(g['regions'])}" for g in groups)


def _status(status: str) -> str:
    return f"[{_STATUS_STYLE.get(status, 'default')}]{status.replace('_', ' ')}[/]"


def _print_footer(updated: str, as_of: str) -> None:
    stdout.print(f"Registry updated {updated}; evidence judged as of {as_of}.")


# ---- show -------------------------------------------------------------------------------


def _print_detail(data: dict[str, Any]) -> None:
    _print_header(data)
    if data["regions"]:
        stdout.print(_regions_table(data["regions"]))
    else:
        stdout.print("Regions: any (no region data; give the target an explicit endpoint)")
    _print_offerings(data["offerings"])
    stdout.print(_protocol_table(data))
    _print_quirks(data["quirks"])
    _print_warnings(data)
    _print_footer(data["registry_updated"], data["as_of"])


def _print_header(data: dict[str, Any]) -> None:
    endpoint = data["endpoint_template"] or "explicit endpoint required"
    stdout.print(f"[bold]{data['name']}[/] — {term(data['title'])}  [dim]({data['family']})[/]")
    stdout.print(f"Endpoint: {term(endpoint)}", highlight=False)
    if data["rehearsal_only"]:
        stdout.print("[cyan]Rehearsal only: never counts as a qualified target.[/]")


def _regions_table(regions: list[dict[str, Any]]) -> Table:
    table = Table(title="Regions", title_justify="left")
    for column in ("region", "location", "EU", "offering", "status", "evidence date / age"):
        table.add_column(column, overflow="fold", no_wrap=column in ("region", "EU", "status"))
    for r in regions:
        table.add_row(
            r["name"],
            f"{term(r['location'])} ({r['country']})",
            "yes" if r["eu"] else "[red]no[/]",
            r["offering"] or "-",
            _status(r["status"]),
            _age_cell(r),
        )
    return table


def _age_cell(row: dict[str, Any]) -> str:
    if row["evidence_date"] is None:
        return "[dim]unknown[/]"
    age = f"{row['evidence_date']} ({row['evidence_age_days']} days)"
    return age + (" [bold yellow]stale: > 3 years[/]" if row["stale"] else "")


def _print_offerings(offerings: list[dict[str, Any]]) -> None:
    for o in offerings:
        qual = o["qualification"]
        stdout.print(f"Offering [bold]{o['name']}[/] — {term(o['title'])}", highlight=False)
        lines = [
            ("hosts", o["host_pattern"]),
            ("regions", ", ".join(o["regions"])),
            ("status", f"{_status(o['status'])} ({term(qual['scheme'])})"),
            ("evidence", f"{term(o['evidence'])} — dated {_age_cell(o)}"),
            ("extra-EU-law immune", _tristate(qual["extra_eu_law_immune"])),
            ("HDS certified", _tristate(qual["hds_certified"])),
            *([("notes", term(qual["notes"]))] if qual["notes"] else []),
        ]
        for label, value in lines:
            stdout.print(f"  {label}: {value}", highlight=False)


def _tristate(value: bool | None) -> str:
    return "[dim]unknown[/]" if value is None else ("yes" if value else "[red]no[/]")


def _protocol_table(data: dict[str, Any]) -> Table:
    table = Table(title="Protocol and limits", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    for label, value in _protocol_rows(data):
        table.add_row(label, term(value))
    return table


def _protocol_rows(data: dict[str, Any]) -> list[tuple[str, str]]:
    sse, limits = data["sse"], data["limits"]
    checksums = ", ".join(data["checksums"]) or "none known"
    confirmed = "confirmed" if data["checksums_confirmed"] else "unconfirmed: probe"
    return [
        ("addressing", data["addressing_style"]),
        ("signature", data["signature"]),
        ("checksum mode", data["checksum_mode"]),
        ("checksums", f"{checksums} ({confirmed})"),
        ("SSE", f"SSE-C {sse['sse_c']}, SSE-S3 {sse['sse_s3']}, SSE-KMS {sse['sse_kms']}"),
        *([("SSE notes", sse["notes"])] if sse["notes"] else []),
        ("part size", f"{_size(limits['min_part_size'])} – {_size(limits['max_part_size'])}"),
        ("max parts", _count(limits["max_part_count"])),
        ("max object", _size(limits["max_object_size"])),
        ("max key length", _count(limits["max_key_length"])),
        *([("limit notes", limits["notes"])] if limits["notes"] else []),
    ]


def _size(value: int | None) -> str:
    return "unknown" if value is None else human_size(value)


def _count(value: int | None) -> str:
    return "unknown" if value is None else f"{value:,}"


def _print_quirks(quirks: list[str]) -> None:
    if quirks:
        stdout.print("Quirks:")
        for quirk in quirks:
            stdout.print(f"  • {term(quirk)}", highlight=False)


def _print_warnings(data: dict[str, Any]) -> None:
    for o in data["offerings"]:
        if o["status"] in ("qualified", "claimed") and o["stale"]:
            why = "is undated" if o["evidence_date"] is None else "is older than 3 years"
            stdout.print(
                f"[bold yellow]warning:[/] evidence for {o['name']} ({o['status']}) {why}; "
                "check ANSSI's list and update the presets data file",
                highlight=False,
            )

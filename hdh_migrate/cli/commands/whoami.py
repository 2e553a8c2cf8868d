"""``hdh-migrate whoami PLAN`` — which identity each source and target is reached with,
and whether it may list, read and write what the plan needs.

Thin adapter: ``hdh_migrate.engine.whoami`` does the work. Exit 7 when any permission is
refused (the refusals are named), 0 when every check passed.
"""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from hdh_migrate.cli.render import emit_json, stdout
from hdh_migrate.engine.whoami import Access, whoami
from hdh_migrate.errors import AuthError
from hdh_migrate.plan import load_plan

HELP = """For each source a dataset reads and each target: the credential kind and identity
(Entra ID identity, SAS and its expiry, AWS profile, key id prefix), and whether it may
do what the plan needs — sources: list and read; targets: list and write (an empty object
under the dataset's target prefix, deleted at once). A dry run of permissions before a wave.

Examples:

  hdh-migrate whoami plans/rehearsal.yaml

  hdh-migrate whoami plan.yaml --json
"""


def register(app: typer.Typer) -> None:
    """Add ``whoami`` to the root application."""
    app.command("whoami", help=HELP)(whoami_command)


def whoami_command(
    plan: str = typer.Argument(..., metavar="PLAN", help="Path of the plan file (YAML)."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Check identities and permissions (see Examples)."""
    results = whoami(load_plan(plan))
    if as_json:
        emit_json({"endpoints": [r.to_dict() for r in results]})
    else:
        _print(results)
    refused = [f"{r.role} {r.name}: {c.action}" for r in results for c in r.refused]
    if refused:
        raise AuthError(
            f"{len(refused)} permission(s) missing: {', '.join(refused)}",
            hint="grant them to the identity shown, or use one that has them",
        )


def _print(results: list[Access]) -> None:
    table = Table(title="identities and permissions")
    for column in ("endpoint", "identity", "check", "result"):
        table.add_column(column)
    for access in results:
        for check in access.checks:
            color = "green" if check.outcome == "ok" else "red"
            result = f"[{color}]{check.outcome}[/] {escape(check.detail)}".rstrip()
            endpoint = escape(f"{access.role} {access.name}")
            table.add_row(endpoint, escape(access.identity), check.action, result)
    stdout.print(table)

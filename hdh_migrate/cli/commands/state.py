"""``state check`` and ``state repair``: thin adapters over ``hdh_migrate.engine.state_repair``."""

from __future__ import annotations

import typer
from rich.markup import escape

from hdh_migrate.cli.render import emit_json, ok, stdout
from hdh_migrate.engine.run.session import load_state
from hdh_migrate.engine.state_repair import check, repair
from hdh_migrate.errors import StateError
from hdh_migrate.stages.clients import Clients

STATE_HELP = """The plan's local state (journal and manifest): check it, or rebuild it without
uploading anything again.

Examples:

  hdh-migrate state check plans/rehearsal.yaml

  hdh-migrate state repair plans/rehearsal.yaml
"""

PLAN_ARG = typer.Argument(..., metavar="PLAN", help="Path of the plan file (YAML).")
JSON_OPT = typer.Option(False, "--json", help="JSON on stdout.")

state_app = typer.Typer(help=STATE_HELP, no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(state_app, name="state")


@state_app.command("check")
def state_check(plan: str = PLAN_ARG, as_json: bool = JSON_OPT) -> None:
    """Journal integrity, lost journal or manifest, and whether they agree. Exit 9 on a
    problem (each named), 0 when sound."""
    _, paths = load_state(plan)
    report = check(paths)
    if as_json:
        emit_json(report.to_dict())
    else:
        stdout.print(
            f"journal {escape(report.journal)}: {report.journal_items} item(s), "
            f"{report.journal_verified} verified; manifest {escape(report.manifest)}: "
            f"{report.manifest_objects} object record(s)",
            highlight=False,
        )
    if report.problems:
        more = f" (and {len(report.problems) - 1} more)" if len(report.problems) > 1 else ""
        raise StateError(
            report.problems[0] + more, hint="`hdh-migrate state repair PLAN` rebuilds it"
        )
    if not as_json:
        ok("state is sound")


@state_app.command("repair")
def state_repair(plan: str = PLAN_ARG, as_json: bool = JSON_OPT) -> None:
    """Rebuild a damaged or lost journal from the manifest (each object confirmed at the
    target by its size and HDH1 header, nothing uploaded); after a lost manifest, have the
    next run write the records again. Damaged files are kept, renamed *.damaged-TIME."""
    parsed, paths = load_state(plan)
    clients = Clients()
    try:
        outcome = repair(parsed, paths, clients)
    finally:
        clients.close()
    if as_json:
        emit_json(outcome.to_dict())
        return
    if outcome.journal_rebuilt:
        ok(
            f"journal rebuilt: {outcome.restored} verified object(s) restored from the "
            f"manifest, {len(outcome.left_out)} left out (the next run copies them again)"
        )
        for path in outcome.moved_aside:
            stdout.print(f"kept the damaged file as {escape(path)}", highlight=False)
    elif outcome.manifest_reissued:
        ok(f"the next run writes {outcome.manifest_reissued} record(s) again in a new manifest")
    else:
        ok("nothing to repair")

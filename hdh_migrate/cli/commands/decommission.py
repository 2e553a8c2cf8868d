"""``hdh-migrate decommission``: delete (or attest) the source of a finalized wave."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from hdh_migrate.cli.commands.cutover import JSON_OPT, PLAN_ARG, WAVE_OPT, operator, render_report
from hdh_migrate.engine.decommission import WaveDecommission
from hdh_migrate.engine.run.session import migration

HELP = """Decommission the source of a finalized wave: for each dataset, check that every
object listed at the source has a verified copy at the target (else exit 6 and nothing is
deleted), delete them (leased blobs with their journaled lease ids), list again to prove
the selection empty, record the settings that could keep copies (Azure blob soft delete,
container immutability/legal hold, soft-deleted blobs and versions left) and sign it all
into the manifest. Policy SOV-15 then passes for those datasets.

--dry-run only lists what would go. --attest TEXT deletes nothing and records your
attestation instead (for a source you cannot delete: say what was done, e.g. keys destroyed).

Examples:

  hdh-migrate decommission plans/rehearsal.yaml --wave wave-1-rehearsal --dry-run

  hdh-migrate decommission plan.yaml --wave wave-2

  hdh-migrate decommission plan.yaml --wave wave-3 --attest "account keys destroyed, SEC-1234"
"""


def register(app: typer.Typer) -> None:
    app.command("decommission", help=HELP)(decommission)


def decommission(
    plan: str = PLAN_ARG,
    wave: str = WAVE_OPT,
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be deleted."),
    attest: str | None = typer.Option(
        None, "--attest", metavar="TEXT", help="Record this attestation instead of deleting."
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Decommission a finalized wave's source (see Examples)."""
    with _engine(plan) as engine:
        render_report(
            engine, lambda: engine.decommission(wave, dry_run=dry_run, attestation=attest), as_json
        )


@contextmanager
def _engine(plan: str) -> Iterator[WaveDecommission]:
    with migration(plan) as job:
        engine = WaveDecommission(job, operator=operator())
        engine.plan_file = plan
        yield engine

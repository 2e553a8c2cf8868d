"""The typer application: root options, and one module per command group."""

from __future__ import annotations

import importlib

import typer

from hdh_migrate import __version__
from hdh_migrate.cli.state import STATE

app = typer.Typer(
    name="hdh-migrate",
    help=(
        "Move health datasets out of Azure Blob Storage into SecNumCloud-qualified S3 clouds: "
        "client-side encryption under customer-held keys, object-by-object verification, "
        "signed evidence.\n\nStart with: hdh-migrate validate PLAN"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hdh-migrate {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    debug: bool = typer.Option(False, "--debug", help="Print tracebacks on errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Root options shared by every command."""
    if debug:
        STATE.debug = True


# Each module in hdh_migrate/cli/commands defines ``register(app)``.
COMMAND_MODULES: tuple[str, ...] = (
    "providers",
    "validate",
    "schema",
    "crypto",
    "manifest",
    "probe",
    "run",
    "audit",
    "cutover",
)

for _name in COMMAND_MODULES:
    importlib.import_module(f"hdh_migrate.cli.commands.{_name}").register(app)

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


# Each module in hdh_migrate/cli/commands defines ``register(app)``; the order here is the
# order of `hdh-migrate --help`: the life of a migration, then the tools.
COMMAND_MODULES: tuple[str, ...] = (
    "validate",
    "schema",
    "audit",
    "probe",
    "run",
    "cutover",
    "approve",
    "decommission",
    "crypto",
    "providers",
    "manifest",
    "evidence",
)

for _name in COMMAND_MODULES:
    importlib.import_module(f"hdh_migrate.cli.commands.{_name}").register(app)


#: One line per command in `hdh-migrate --help`, in the order an operator meets them.
SHORT_HELP = {
    "validate": "Check a plan: YAML, types, references, secrets written as references.",
    "schema": "Print or write the plan JSON Schema (for editors and CI).",
    "audit": "Dry run: sovereignty rules, inventory, diff, estimates, reports. Writes nothing.",
    "probe": "Measure what each S3 target really validates and enforces; cache it.",
    "run": "Migrate: inventory → copy (hash, encrypt, upload) → verify → signed manifest.",
    "status": "What the journal knows: states, counts, bytes, failures per dataset.",
    "verify": "Verify again at the target (full, sample:P%, metadata); exit 4 on mismatch.",
    "cutover": "Freeze the source, sync the delta, check the gates, switch readers.",
    "rollback": "Undo a cutover that is not finalized: readers back, source writable.",
    "finalize": "Finalize a switched wave: the point of no return.",
    "approve": "Sign a wave's approval statement with your SSH key (SSHSIG).",
    "decommission": "After finalize: delete the verified source objects, prove it, sign it.",
    "encrypt": "Encrypt a local file into an HDH1 object.",
    "decrypt": "Decrypt an HDH1 object (a local file or s3://… of a plan target).",
    "restore": "Download, decrypt and check a dataset's objects against the evidence.",
}

for _command in app.registered_commands:
    if _command.name in SHORT_HELP:
        _command.short_help = SHORT_HELP[_command.name]

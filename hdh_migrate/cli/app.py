"""The typer application: root options, and one module per command group."""

from __future__ import annotations

import importlib
from pathlib import Path

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


def _seconds(text: str) -> float:
    """``60``, ``30s``, ``2m``, ``1h`` → seconds; ``0`` disables."""
    units = {"s": 1, "m": 60, "h": 3600}
    text = text.strip().lower()
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r}: use seconds, or 30s, 2m, 1h (0 disables)") from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hdh-migrate {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    debug: bool = typer.Option(
        False, "--debug", envvar="HDH_MIGRATE_DEBUG", help="Print tracebacks on errors."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    verbose: bool = typer.Option(
        False,
        "--verbose",
        "-v",
        envvar="HDH_MIGRATE_VERBOSE",
        help="Every per-object event (e.g. object.not_carried), not per-dataset summaries.",
    ),
    log_file: Path | None = typer.Option(  # noqa: B008
        None,
        "--log-file",
        envvar="HDH_MIGRATE_LOG_FILE",
        help="Append a record per object state change, retry, phase change (0600 file).",
    ),
    log_level: str = typer.Option(
        "info", "--log-level", envvar="HDH_MIGRATE_LOG_LEVEL", help="debug, info, warning, error."
    ),
    log_format: str = typer.Option(
        "json", "--log-format", envvar="HDH_MIGRATE_LOG_FORMAT", help="json (lines) or text."
    ),
    stats: str = typer.Option(
        "60s",
        "--stats",
        envvar="HDH_MIGRATE_STATS",
        help="Interval of the stats line (stderr, off a terminal) and of the progress "
        "heartbeat events; 0 disables.",
    ),
    metrics_port: int | None = typer.Option(
        None,
        "--metrics-port",
        envvar="HDH_MIGRATE_METRICS_PORT",
        help="Serve Prometheus metrics on 127.0.0.1:PORT/metrics during run and verify.",
    ),
    metrics_file: Path | None = typer.Option(  # noqa: B008
        None,
        "--metrics-file",
        envvar="HDH_MIGRATE_METRICS_FILE",
        help="Write Prometheus metrics to this textfile (node_exporter) at each interval.",
    ),
) -> None:
    """Root options shared by every command (each also read from its HDH_MIGRATE_* variable)."""
    if debug:
        STATE.debug = True
    if log_level not in ("debug", "info", "warning", "error"):
        raise typer.BadParameter(f"--log-level {log_level!r}: use debug, info, warning or error")
    if log_format not in ("json", "text"):
        raise typer.BadParameter(f"--log-format {log_format!r}: use json or text")
    STATE.verbose, STATE.log_file = verbose, log_file
    STATE.log_level, STATE.log_format = log_level, log_format
    STATE.stats_seconds = _seconds(stats)
    STATE.metrics_port, STATE.metrics_file = metrics_port, metrics_file


# Each module in hdh_migrate/cli/commands defines ``register(app)``; the order here is the
# order of `hdh-migrate --help`: the life of a migration, then the tools.
COMMAND_MODULES: tuple[str, ...] = (
    "validate",
    "schema",
    "audit",
    "probe",
    "whoami",
    "run",
    "cutover",
    "rehearse",
    "approve",
    "decommission",
    "crypto",
    "providers",
    "manifest",
    "state",
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
    "whoami": "Which identity each endpoint is reached with; may it list, read, write?",
    "run": "Migrate: inventory → copy (hash, encrypt, upload) → verify → signed manifest.",
    "status": "What the journal knows: states, counts, bytes, failures per dataset.",
    "verify": "Verify again at the target (full, sample:P%, metadata); exit 4 on mismatch.",
    "cutover": "Freeze the source, sync the delta, check the gates, switch readers.",
    "rollback": "Undo a cutover that is not finalized: readers back, source writable.",
    "finalize": "Finalize a switched wave: the point of no return.",
    "rehearse": "Rehearse any plan end to end on stand-in servers; JUnit + summary.",
    "approve": "Sign a wave's approval statement with your SSH key (SSHSIG).",
    "decommission": "After finalize: delete the verified source objects, prove it, sign it.",
    "encrypt": "Encrypt a local file into an HDH1 object.",
    "decrypt": "Decrypt an HDH1 object (a local file or s3://… of a plan target).",
    "restore": "Download, decrypt and check a dataset's objects against the evidence.",
}

for _command in app.registered_commands:
    if _command.name in SHORT_HELP:
        _command.short_help = SHORT_HELP[_command.name]

"""``run``, ``status`` and ``verify``: thin adapters over ``hdh_migrate.engine.run.session``."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from hdh_migrate.cli.endpoints import show_endpoints
from hdh_migrate.cli.interrupt import interruptible
from hdh_migrate.cli.observing import Observed, observed
from hdh_migrate.cli.render import emit_json, ok, stderr, stdout, term
from hdh_migrate.engine.audit import policy_gate, record_policy_override
from hdh_migrate.engine.evidence_report import write_run_reports
from hdh_migrate.engine.run.runner import Migration
from hdh_migrate.engine.run.session import (
    RunSettings,
    describe_position,
    journal_position,
    migration,
    restore,
    status,
    verify_mode,
)
from hdh_migrate.engine.run.verdict import verdict
from hdh_migrate.errors import ObjectsFailedError, RunInterrupted, VerificationError
from hdh_migrate.reports.run_report import DatasetOutcome, utc_now
from hdh_migrate.units import human_size, parse_rate

RUN_HELP = """Run the plan: each dataset of each wave, in order, through inventory → copy
(stream, hash, encrypt, upload) → verify, with a crash-safe journal and a signed manifest
in the plan's state directory. Re-running continues where a crash stopped; a finished plan
re-run transfers nothing.

Exit 5 when some objects failed after retries (they are named); run again to retry them.

Examples:

  hdh-migrate run plans/rehearsal.yaml

  hdh-migrate run plans/rehearsal.yaml --wave wave-1-rehearsal --concurrency 4 --json
"""

VERIFY_HELP = """Verify again, at the target, every object already verified (and the copied
ones a run could not verify): full (read back, decrypt, compare SHA-256), sample:P% or
metadata. A mismatch exits 4, names the objects and marks them failed so the next run
copies them again; an object that fails authentication exits 7. An object that could not
be checked (server error, lost connection) keeps its state and exits 5, as does any object
left failed or not copied. A wrong key stops at the first object: exit 7, nothing marked.

Examples:

  hdh-migrate verify plans/rehearsal.yaml --mode full
"""

RESTORE_HELP = """Download the verified objects of a dataset from the target, decrypt them
with the plan's key and check each against the plaintext SHA-256 and size recorded at copy
time. A file appears under DIR only once it authenticated and matched. Exit 4 names the
objects that did not.

Examples:

  hdh-migrate restore plans/rehearsal.yaml --dataset rehearsal-dcir --to /tmp/restored

  hdh-migrate restore plans/rehearsal.yaml --dataset rehearsal-dcir --prefix 2019/ --to out
"""

PLAN_ARG = typer.Argument(..., metavar="PLAN", help="Path of the plan file (YAML).")
JSON_OPT = typer.Option(False, "--json", help="JSON on stdout (events as JSON lines for run).")
WAVE_OPT = typer.Option(None, "--wave", help="Only this wave.")
DATASET_OPT = typer.Option(None, "--dataset", help="Only this dataset.")
EXECUTOR_OPT = typer.Option(
    None,
    "--executor",
    help="serial, threads, dask (a local cluster of processes) or a Dask scheduler "
    "address tcp://HOST:PORT (loopback) | tls://HOST:PORT (certificates from the plan).",
)
OVERRIDE_OPT = typer.Option(
    None,
    "--override-policy",
    metavar="REASON",
    help="Run despite blocking audit findings; the reason is printed and recorded in the "
    "signed manifest (see hdh-migrate audit).",
)


def register(app: typer.Typer) -> None:
    app.command("run", help=RUN_HELP)(run)
    app.command(
        "status",
        help="Per wave and dataset: state, objects and bytes per state, "
        "failures with reasons.\n\nExample: hdh-migrate status plans/rehearsal.yaml",
    )(show_status)
    app.command("verify", help=VERIFY_HELP)(verify)
    app.command("restore", help=RESTORE_HELP)(restore_command)


def run(
    plan: str = PLAN_ARG,
    wave: str | None = WAVE_OPT,
    dataset: str | None = DATASET_OPT,
    concurrency: int | None = typer.Option(None, "--concurrency", min=1, help="Parallel tasks."),
    bandwidth: str | None = typer.Option(None, "--bandwidth", help="Global limit, e.g. 100MiB/s."),
    executor: str | None = EXECUTOR_OPT,
    as_json: bool = JSON_OPT,
    override_policy: str | None = OVERRIDE_OPT,
) -> None:
    """Run the plan (see Examples)."""
    # --- policy gate (owned by the audit: hdh_migrate/engine/audit/, docs/audit.md) ---
    override = policy_gate(plan, override_policy)  # PolicyError, exit 3, on a blocking finding
    if override is not None:
        stderr.print(f"[bold white on red] {term(override.line())} [/]", highlight=False)
    # --- end of policy gate ---
    settings = RunSettings(concurrency, parse_rate(bandwidth) if bandwidth else None, executor)
    with observed(as_json) as watch, migration(plan, settings, watch.reporter) as job:
        show_endpoints(plan)  # once the plan's state is ours, before anything connects
        watch.bind(job)
        _announce_journal(job, watch.reporter, as_json)  # before the run record is added
        if override is not None:
            record_policy_override(job, override)  # signed manifest record, before any copy
        started = utc_now()
        with interruptible(job) as signals:
            outcomes = job.run(wave, dataset)
        _report_files(job, "run", started, outcomes, as_json, plan)
        if signals:
            _interrupted(job, watch, outcomes, signals[0])
    _conclude(outcomes, as_json, "run", watch)


def _announce_journal(job: Migration, reporter: Any, as_json: bool) -> None:
    position = journal_position(job)
    if as_json:
        reporter.event("journal.opened", **position)
    else:
        stdout.print(describe_position(position), highlight=False, markup=False)


def verify(
    plan: str = PLAN_ARG,
    mode: str | None = typer.Option(
        None, "--mode", help="full, sample:P%, header, metadata or none (default: the plan's)."
    ),
    wave: str | None = WAVE_OPT,
    dataset: str | None = DATASET_OPT,
    executor: str | None = EXECUTOR_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Verify again (see Examples)."""
    checks = verify_mode(mode)
    settings = RunSettings(executor=executor)
    with (
        observed(as_json) as watch,
        migration(plan, settings, watch.reporter, command="verify") as job,
    ):
        watch.bind(job)
        started = utc_now()
        with interruptible(job) as signals:
            outcomes = job.reverify(checks, wave, dataset)
        _report_files(job, "verify", started, outcomes, as_json, plan)
        if signals:
            _interrupted(job, watch, outcomes, signals[0])
    _conclude(outcomes, as_json, "verify", watch)


def restore_command(
    plan: str = PLAN_ARG,
    dataset: str = typer.Option(..., "--dataset", help="The dataset to restore."),
    to: Path = typer.Option(..., "--to", help="Directory written under."),  # noqa: B008
    prefix: str = typer.Option("", "--prefix", help="Only keys under this (dataset-relative)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Restore a dataset (see Examples)."""
    outcome = restore(plan, dataset, to, prefix)
    if as_json:
        emit_json(
            {
                "dataset": dataset,
                "restored": outcome.restored,
                "already_present": outcome.present,
                "bytes": outcome.bytes,
                "failed": [{"key": k, "reason": r} for k, r in outcome.failed],
            }
        )
    else:
        for key, reason in outcome.failed:
            stderr.print(f"[red]not restored[/] {term(key)}: {term(reason)}", highlight=False)
        kept = f" ({outcome.present} already there)" if outcome.present else ""
        ok(f"restored {outcome.restored} object(s){kept}, {human_size(outcome.bytes)}, under {to}")
    if outcome.failed:
        key, reason = outcome.failed[0]
        error = VerificationError if outcome.mismatched else ObjectsFailedError
        raise error(
            f"{len(outcome.failed)} object(s) not restored, first {key!r}: {reason}",
            hint="the others were written; fix the causes named above and restore again",
        )


def show_status(
    plan: str = PLAN_ARG,
    as_json: bool = JSON_OPT,
    watch: float = typer.Option(
        0,
        "--watch",
        min=0,
        metavar="SECONDS",
        help="Refresh every SECONDS from the journal (while another process runs); Ctrl-C ends.",
    ),
) -> None:
    """Show the journal's view of the plan."""
    if watch <= 0:
        _print_status(status(plan), as_json)
        return
    from rich.live import Live

    # Ctrl-C ends the watch even where SIGINT came ignored (a job started in the background
    # by a non-interactive shell inherits SIG_IGN, and Python then leaves it ignored)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        sys.stderr.write(f"watching the journal every {watch:g} s — Ctrl-C to stop\n")
        sys.stderr.flush()
        with Live(_status_table(status(plan)), console=stdout, auto_refresh=False) as live:
            while True:
                time.sleep(watch)
                live.update(_status_table(status(plan)), refresh=True)
    except KeyboardInterrupt:
        return


def _print_status(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(data)
        return
    stdout.print(_status_table(data))


def _status_table(data: dict[str, Any]) -> Table:
    table = Table(
        "wave",
        "dataset",
        "state",
        "objects by state",
        "verified by",
        "failures",
        title=term(data["plan"]),
    )
    for wave, datasets in data["waves"].items():
        for name, entry in datasets.items():
            items = ", ".join(
                f"{s} {v['objects']} ({human_size(v['bytes'])})"
                for s, v in sorted(entry["items"].items())
            )
            how = ", ".join(f"{k} {n}" for k, n in sorted(entry.get("verified_by", {}).items()))
            table.add_row(
                term(wave),
                term(name),
                term(entry["state"]),
                term(items) or "—",
                term(how) or "—",
                str(len(entry["failures"])),
            )
    return table


def _report_files(
    job: Migration,
    command: str,
    started: Any,
    outcomes: list[DatasetOutcome],
    quiet: bool,
    plan_file: str | None = None,
) -> None:
    as_json, as_md = write_run_reports(job, command, started, outcomes, plan_file)
    if not quiet:
        stdout.print(term(f"report: {as_md} (and {as_json.name})"), highlight=False)


def _interrupted(
    job: Migration, watch: Observed, outcomes: list[DatasetOutcome], signum: int
) -> None:
    """After a signal: the run report is written (partial); say what is left, exit 128+N."""
    copied = sum(o.copied for o in outcomes)
    pending = sum(
        c.count
        for name in job.selected(None, None)
        for c in job.journal.counts(name)
        if str(c.state) in ("pending", "copying", "copied")
    )
    watch.reporter.event(
        "run.interrupted", signal=signum, copied=copied, abandoned=0, pending=pending
    )
    raise RunInterrupted(
        f"interrupted: {copied} copied, 0 in flight abandoned, {pending} pending",
        signum=signum,
        hint="run again to continue",
    )


def _conclude(outcomes: list[DatasetOutcome], as_json: bool, verb: str, watch: Observed) -> None:
    if as_json:  # the end of the JSON-lines event stream: run.done, verify.done
        watch.reporter.event(f"{verb}.done", datasets=[o.to_dict() for o in outcomes])
    else:
        _print_outcomes(outcomes, verb)
    error = verdict(outcomes, verb)
    if error is not None:
        raise error


def _print_outcomes(outcomes: list[DatasetOutcome], verb: str) -> None:
    table = Table(
        "dataset",
        "listed",
        "new",
        "changed",
        "flagged",
        "copied",
        "bytes",
        "verified",
        "failed",
        "not verified",
        title=f"hdh-migrate {verb}",
    )
    for o in outcomes:
        row: list[Any] = [
            o.dataset,
            o.listed,
            o.new,
            o.changed,
            o.flagged,
            o.copied,
            human_size(o.bytes_copied),
            o.verified,
            len(o.failed),
            len(o.unverifiable) + len(o.not_verified),
        ]
        table.add_row(*(term(v) for v in row))
    stdout.print(table)
    if not any(o.failed or o.unverifiable or o.not_verified for o in outcomes):
        ok(f"{verb}: {sum(o.verified for o in outcomes)} object(s) verified{_how(outcomes)}")


def _how(outcomes: list[DatasetOutcome]) -> str:
    """`` (30 full read-back, 2 sampled)``: how the verified objects were checked."""
    merged: dict[str, int] = {}
    for o in outcomes:
        for how, n in o.verified_by.items():
            merged[how] = merged.get(how, 0) + n
    words = {"full": "full read-back", "sampled": "sampled (header + last segment)"}
    parts = [f"{n} {words.get(how, how)}" for how, n in sorted(merged.items()) if n]
    return f" ({', '.join(parts)})" if parts else ""

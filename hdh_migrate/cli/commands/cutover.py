"""``cutover``, ``rollback`` and ``finalize``: thin adapters over ``engine.cutover``."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.table import Table

from hdh_migrate.cli.commands.run import EXECUTOR_OPT
from hdh_migrate.cli.render import emit_json, ok, stderr, stdout, term
from hdh_migrate.engine.cutover import Report, WaveCutover
from hdh_migrate.engine.run.session import RunSettings, migration
from hdh_migrate.errors import UsageError

CUTOVER_HELP = """Cut a verified wave over to the target: freeze the source (blob leases, a
hook or by hand; a probe write proves it), copy and verify the delta (objects created,
changed or deleted since the run), a final pass, the gates (verified, residual delta,
approvals, two-person rule, time window, waves depended on), then the switch hooks.
Journaled: re-run it after any interruption. A report (JSON + Markdown) is written under
the state directory's reports/.

Approvals: with gates.allowed_signers, each approver signs the wave's statement with their
SSH key (`hdh-migrate approve PLAN --wave W --key ~/.ssh/id_ed25519`, or `ssh-keygen -Y sign
-n hdh-migrate-approval` on the statement `approve --statement-only` writes) and the
operator passes every FILE.sig with --approval. Exit 6 when a gate refuses (the message
names it and what would satisfy it): a forged, replayed or unlisted signature is refused.

Examples:

  hdh-migrate cutover plan.yaml --wave wave-2 --approval alice.json.sig --approval bob.json.sig

  hdh-migrate cutover plans/rehearsal.yaml --wave wave-1-rehearsal --approve alice

  hdh-migrate cutover plan.yaml --wave wave-2 --approve alice --approve bob --json
"""

ROLLBACK_HELP = """Undo a cutover that is not finalized: rollback hooks (readers back to the
source), source writable again (leases released or the unfreeze hook), datasets marked
rolled_back. A later cutover starts again with a new freeze.

Example:

  hdh-migrate rollback plans/rehearsal.yaml --wave wave-1-rehearsal
"""

FINALIZE_HELP = """Finalize a switched wave: THE POINT OF NO RETURN — afterwards rollback is
impossible. Asks for confirmation on a terminal; elsewhere pass --yes.

Example:

  hdh-migrate finalize plans/rehearsal.yaml --wave wave-1-rehearsal --yes
"""

PLAN_ARG = typer.Argument(..., metavar="PLAN", help="Path of the plan file (YAML).")
WAVE_OPT = typer.Option(..., "--wave", help="The wave to act on.")
JSON_OPT = typer.Option(False, "--json", help="The report as JSON on stdout.")
YES_OPT = typer.Option(False, "--yes", help="Confirm without a prompt (manual freeze, finalize).")


def register(app: typer.Typer) -> None:
    app.command("cutover", help=CUTOVER_HELP)(cutover)
    app.command("rollback", help=ROLLBACK_HELP)(rollback)
    app.command("finalize", help=FINALIZE_HELP)(finalize)


def cutover(
    plan: str = PLAN_ARG,
    wave: str = WAVE_OPT,
    approve: list[str] = typer.Option(  # noqa: B008 — typer's declaration style
        [],
        "--approve",
        metavar="NAME",
        help="Record NAME's approval (repeatable). Profile rehearsal, waves without "
        "allowed_signers only: a typed name proves nothing.",
    ),
    approval: list[Path] = typer.Option(  # noqa: B008 — typer's declaration style
        [],
        "--approval",
        metavar="FILE.sig",
        help="An SSH-signed approval (ssh-keygen -Y sign / hdh-migrate approve), the signed "
        "statement FILE beside it (repeatable).",
    ),
    yes: bool = YES_OPT,
    executor: str | None = EXECUTOR_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Cut a wave over (see Examples)."""
    with wave_engine(plan, yes, executor) as engine:
        _render(_reported(engine, lambda: engine.cutover(wave, approve, approval)), as_json)


def rollback(
    plan: str = PLAN_ARG, wave: str = WAVE_OPT, yes: bool = YES_OPT, as_json: bool = JSON_OPT
) -> None:
    """Roll a wave back (see Examples)."""
    with wave_engine(plan, yes) as engine:
        _render(_reported(engine, lambda: engine.rollback(wave)), as_json)


def finalize(
    plan: str = PLAN_ARG, wave: str = WAVE_OPT, yes: bool = YES_OPT, as_json: bool = JSON_OPT
) -> None:
    """Finalize a wave (see Examples)."""
    confirmed = yes or _ask(
        f"Finalize wave {wave}? This is the point of no return: rollback becomes impossible."
    )
    if not confirmed and not _interactive():
        raise UsageError(
            "finalize is the point of no return and needs a confirmation",
            hint="pass --yes (no terminal to ask on)",
        )
    with wave_engine(plan, yes) as engine:
        _render(_reported(engine, lambda: engine.finalize(wave, confirmed)), as_json)


@contextmanager
def wave_engine(plan: str, yes: bool, executor: str | None = None) -> Iterator[WaveCutover]:
    """The wave's cutover engine; ``executor`` (``--executor``) runs the delta's copies and
    the final pass (default: the plan's ``executor``)."""
    with migration(plan, RunSettings(executor=executor), command="cutover") as job:
        engine = WaveCutover(job, operator=operator(), confirm=_confirmer(yes))
        engine.plan_file = plan
        yield engine


def _reported(engine: WaveCutover, action: Callable[[], Report]) -> Report:
    """Run ``action``; on failure, say where its report is before the error boundary."""
    try:
        return action()
    except BaseException:
        for path in engine.report.paths[:1]:
            stderr.print(f"report: {term(path)}", highlight=False)
        raise


def operator() -> str:
    """Who runs the command ($USER, else the login name)."""
    return os.environ.get("USER") or getpass.getuser()


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _ask(question: str) -> bool:
    return _interactive() and typer.confirm(question, default=False)


def _confirmer(yes: bool) -> Callable[[str], bool]:
    return lambda question: yes or _ask(question)


def render_report(engine: WaveCutover, action: Callable[[], Report], as_json: bool) -> None:
    """Run ``action`` (saying where its report is on failure) and render its report."""
    _render(_reported(engine, action), as_json)


def _render(report: Report, as_json: bool) -> None:
    if as_json:
        emit_json(report.to_dict() | {"report_files": report.paths})
        return
    title = term(f"hdh-migrate {report.command}: {report.wave}")
    table = Table("dataset", "state", title=title)
    for name, state in report.datasets.items():
        table.add_row(term(name), term(state))
    stdout.print(table)
    for hook in report.hooks:
        status = "timed out" if hook["timed_out"] else f"exit {hook['exit_status']}"
        stdout.print(term(f"hook {hook['label']} on {hook['where']}: {status}"), highlight=False)
    timings = ", ".join(f"{k} {v}" for k, v in report.durations.items())
    stdout.print(term(f"durations: {timings}"), highlight=False)
    stdout.print(term(f"report: {report.paths[0] if report.paths else '—'}"), highlight=False)
    ok(report.message)

"""``hdh-migrate validate PLAN`` — check a plan and summarize it, or list its errors.

Thin adapter: ``hdh_migrate.plan.check_plan`` does the work; this module renders. Errors
exit 2 through the CLI boundary (``InvalidPlan`` is a ``PlanError``).
"""

from __future__ import annotations

from typing import Any

import typer

from hdh_migrate.cli.render import emit_json, ok, stderr, stdout, styled, term, warn
from hdh_migrate.errors import PlanError, UsageError
from hdh_migrate.plan import InvalidPlan, check_plan
from hdh_migrate.plan.summary import summarize

HELP = """Validate a plan: YAML syntax, secrets written as references, every key and type,
names that must exist (sources, targets, keys, waves), presets and their regions.

Prints a summary (waves, datasets, sources, targets, keys, the secrets referenced by name,
warnings) or every error (up to 50), one per line as file:line:column: path: what is
wrong — how to fix.
Exits 0 when valid, 2 when not. Sovereignty policy is judged by `hdh-migrate audit`.

Examples:

  hdh-migrate validate plans/rehearsal.yaml

  hdh-migrate validate examples/ovh-snc.yaml --json
"""


MAX_LISTED = 50  # errors printed (and in --json); the count says how many there are


def register(app: typer.Typer) -> None:
    """Add ``validate`` to the root application."""
    app.command("validate", help=HELP)(validate)


def validate(
    plan: str = typer.Argument(..., metavar="PLAN", help="Path of the plan file (YAML)."),
    as_json: bool = typer.Option(
        False, "--json", help="Print {valid, errors, summary} as JSON on stdout."
    ),
) -> None:
    """Validate a plan (see Examples)."""
    try:
        result = check_plan(plan)
    except UsageError as exc:
        if as_json:
            emit_json({"valid": False, "errors": [_error_json(exc, plan)], "summary": None})
        raise
    summary = summarize(result.plan, result.warnings) if result.plan is not None else None
    if as_json:
        errors = [_error_json(e, plan) for e in result.errors[:MAX_LISTED]]
        emit_json({"valid": result.valid, "errors": errors, "summary": summary})
    if result.errors:
        if not as_json and len(result.errors) > 1:
            _print_errors(result.errors)
        raise _summary_error(result.errors, plan)
    if not as_json and summary is not None:
        _print_summary(summary)


def _print_errors(errors: list[PlanError]) -> None:
    """Every error (up to MAX_LISTED), one line each: file:line:column: path: what — fix."""
    for plan_error in errors[:MAX_LISTED]:
        stderr.print(f"[red]error:[/] {term(plan_error.one_line())}", highlight=False)
    if len(errors) > MAX_LISTED:
        stderr.print(f"… and {len(errors) - MAX_LISTED} more (validate --json lists them)")


def _summary_error(errors: list[PlanError], plan: str) -> UsageError:
    if len(errors) == 1:
        return InvalidPlan(errors)  # the one error is the one line
    return UsageError(f"{len(errors)} errors in {plan} (each listed above)")


def _error_json(exc: UsageError, file: str) -> dict[str, Any]:
    if isinstance(exc, InvalidPlan):
        return _error_json(exc.errors[0], file)
    if isinstance(exc, PlanError):
        where: dict[str, Any] = {"file": exc.file, "line": exc.line, "column": exc.column}
        return {**where, "path": exc.path, "message": exc.message, "hint": exc.hint}
    return {
        "file": file,
        "line": None,
        "column": None,
        "path": "",
        "message": exc.message,
        "hint": exc.hint,
    }


def _print_summary(summary: dict[str, Any]) -> None:
    counts = summary["counts"]
    ok(
        f"plan {summary['name']} is valid: {counts['waves']} wave(s), "
        f"{counts['datasets']} dataset(s), {counts['sources']} source(s), "
        f"{counts['targets']} target(s), {counts['keys']} key(s)"
    )
    _print_waves(summary)
    for name, target in summary["targets"].items():
        where = target["endpoint"] or "endpoint unknown"
        stdout.print(
            f"  target {styled(name, 'bold')}: {term(target['provider'])} / "
            f"{term(target['region'])} / {term(target['bucket'])} ({term(where)})"
        )
    if summary["secrets"]:
        stdout.print("  secrets referenced: " + term(", ".join(summary["secrets"])))
    stdout.print(f"  state directory: {term(summary['state_dir'])}")
    for warning in summary["warnings"]:
        _print_warning(warning)


def _print_waves(summary: dict[str, Any]) -> None:
    for wave in summary["waves"]:
        after = f" (after {', '.join(wave['depends_on'])})" if wave["depends_on"] else ""
        cutover = "" if wave["cutover"] else ", no cutover section"
        stdout.print(f"  wave {styled(wave['name'], 'bold')}{term(after)}{cutover}")
        for d in wave["datasets"]:
            origin = f"{d['source']}:{d['location'] or ''}/{d['prefix']}"
            target = f"{d['target']}:{d['target_prefix'] or '/'}"
            key = f"key {term(d['key'])}" if d["key"] else "[red]no key[/]"
            stdout.print(
                f"    {term(d['name'])}: {term(origin)} → {term(target)} "
                f"({key}, verify {term(d['verify'])})"
            )


def _print_warning(warning: dict[str, Any]) -> None:
    where = f"{warning['file']}:{warning['line']}:{warning['column']}: {warning['path']}: "
    hint = f" — {warning['hint']}" if warning["hint"] else ""
    warn(where + warning["message"] + hint)

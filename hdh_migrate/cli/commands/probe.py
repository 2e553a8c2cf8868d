"""``hdh-migrate probe PLAN`` — measure what each S3 target really does, and cache it.

Thin adapter: ``hdh_migrate.backends.probe`` does the work; this module renders. A target
that does not answer exits 8, refused credentials exit 7 (through the CLI boundary).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from hdh_migrate.backends.probe import ProbeResult, probe_s3, save_probe
from hdh_migrate.backends.s3_config import S3Settings
from hdh_migrate.cli.endpoints import show_endpoints
from hdh_migrate.cli.render import emit_json, plain, stdout, styled, term
from hdh_migrate.engine.specs import target_spec
from hdh_migrate.errors import UsageError
from hdh_migrate.plan import Plan, S3Target, load_plan

HELP = """Probe each S3 target of a plan: checksum algorithms accepted *and validated*
(a deliberately wrong checksum must be refused), SSE-C enforced or ignored, conditional
writes and reads, multipart limits, versioning and object lock.

Writes only under a temporary .hdh-probe/<uuid>/ prefix of the bucket, deleted afterwards.
With --scratch-bucket (default for loopback endpoints only) it also creates and deletes a
temporary bucket to learn whether the server can enable versioning and object lock.
Results are cached in <state_dir>/probe/<target>.json for later stages.

Examples:

  hdh-migrate probe plans/rehearsal.yaml

  hdh-migrate probe plans/rehearsal.yaml --target seaweedfs --json
"""

_GOOD = {"validated", "enforced", "ok", "supported", "enabled", "yes"}
_BAD = {"not-validated", "ignored", "broken", "rejected", "unsupported", "error"}


def register(app: typer.Typer) -> None:
    """Add ``probe`` to the root application."""
    app.command("probe", help=HELP)(probe)


def probe(
    plan: str = typer.Argument(..., metavar="PLAN", help="Path of the plan file (YAML)."),
    target: str | None = typer.Option(None, "--target", help="Probe only this target."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    scratch_bucket: bool | None = typer.Option(
        None,
        "--scratch-bucket/--no-scratch-bucket",
        help="Create and delete a temporary bucket (default: loopback endpoints only).",
    ),
) -> None:
    """Probe the plan's targets (see Examples)."""
    loaded = load_plan(plan)
    show_endpoints(loaded)
    results = [_probe_one(loaded, name, scratch_bucket) for name in _names(loaded, target)]
    if as_json:
        emit_json({"targets": [r.to_dict() for r, _ in results]})
        return
    for result, cached in results:
        _print(result, cached)


def _names(plan: Plan, target: str | None) -> list[str]:
    s3 = [name for name, t in plan.targets.items() if isinstance(t, S3Target)]
    if target is None:
        return s3
    if target not in s3:
        known = ", ".join(sorted(s3)) or "none"
        what = "no S3 target" if target in plan.targets else "no target"
        raise UsageError(f"{what} {target!r} in the plan", hint=f"S3 targets: {known}")
    return [target]


def _probe_one(plan: Plan, name: str, scratch: bool | None) -> tuple[ProbeResult, Path]:
    config = target_spec(plan, name).backend_spec
    assert isinstance(config, S3Settings)  # _names keeps S3 targets only
    result = probe_s3(config, target=name, scratch_bucket=scratch)
    return result, save_probe(result, plan.state_path)


def _print(result: ProbeResult, cached: Path) -> None:
    table = Table(title=term(f"{result.target}: s3://{result.bucket} at {result.endpoint}"))
    table.add_column("capability")
    table.add_column("result")
    for name, state in result.checksums.items():
        table.add_row(f"checksum {name}", _styled(state))
    for label, value in _rows(result):
        table.add_row(label, _styled(value))
    stdout.print(table)
    for note in result.notes:
        stdout.print(plain(f"  note: {note}"), highlight=False)
    if not result.trustworthy:
        stdout.print(
            "  → this server stores what it is told: later stages verify by reading back.",
            highlight=False,
            markup=False,
        )
    stdout.print(plain(f"  probed {result.probed_at}; cached in {cached}"), highlight=False)


def _rows(result: ProbeResult) -> list[tuple[str, str]]:
    min_part = {True: "enforced (5 MiB)", False: "not enforced", None: "unknown"}
    return [
        ("SSE-C", result.sse_c),
        ("conditional write (If-None-Match)", result.conditional_write),
        ("conditional read (If-Match)", result.conditional_read),
        ("multipart", result.multipart),
        ("multipart minimum part size", min_part[result.min_part_size_enforced]),
        ("versioning (this bucket)", result.versioning),
        ("object lock (this bucket)", result.object_lock),
        ("versioning (server)", result.versioning_server),
        ("object lock (server)", result.object_lock_server),
    ]


def _styled(value: str) -> str:
    color = "green" if value in _GOOD else "red" if value in _BAD else "yellow"
    return styled(value, color)

"""``hdh-migrate rehearse PLAN``: a thin adapter over ``hdh_migrate.engine.rehearsal``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

from hdh_migrate.cli.progress import JsonLinesReporter
from hdh_migrate.cli.render import stderr, stdout
from hdh_migrate.cli.state import STATE
from hdh_migrate.engine.endpoints import PlanEndpoint
from hdh_migrate.engine.rehearsal.derive import Options, hsm_signing_available
from hdh_migrate.engine.rehearsal.junit import junit_xml, markdown_summary, printable
from hdh_migrate.engine.rehearsal.lifecycle import Rehearsal, Settings, StepResult
from hdh_migrate.errors import HdhError, UsageError
from hdh_migrate.events import Reporter
from hdh_migrate.units import parse_size

HELP = """Rehearse a plan — any plan, production plans included — end to end against
stand-in servers, never the endpoints the plan names: sources become a local Azurite
($AZURE_STORAGE_CONNECTION_STRING), targets an S3 endpoint (--target-endpoint, else
$HDH_S3_ENDPOINT, keys $HDH_S3_ACCESS_KEY/$HDH_S3_SECRET_KEY), keys throwaway KEKs,
hooks a sandbox. Waves, datasets, include/exclude, verify modes, policy and gates are
kept. Seeds synthetic data shaped like each dataset (edge cases always; --inventory to
follow an audit), then: validate → seed → target → audit → probe → run → rerun (0 bytes)
→ verify-full → manifest-verify → restore-sample (byte for byte) → cutover → rollback
(→ finalize with --finalize, → decommission with --decommission) → evidence-export →
evidence-verify (WORK/evidence.tar.gz). The manifest is signed by the stand-in SoftHSM2
token's Ed25519 key (--signing softhsm; auto = when $HDH_HSM_SIGNING_LABEL and the other
HDH_HSM_* variables are set), else by a throwaway key in the state directory. Each step is a
JUnit test case (--junit) and a line of the Markdown summary (--summary). Exits with the
failed step's code (4 when a check failed), naming the step and the object at fault.

Examples:

  hdh-migrate rehearse plans/rehearsal.yaml

  hdh-migrate rehearse examples/ovh-snc.yaml --target-endpoint http://127.0.0.1:9000
  --target-provider minio --junit rehearsal.xml --summary rehearsal.md
"""


class RehearsalFailed(HdhError):
    """A step failed; the exit code is that step's."""

    def __init__(self, result: StepResult) -> None:
        where = f" (object: {result.key})" if result.key is not None else ""
        super().__init__(
            printable(f"rehearsal failed at step {result.name}{where}: {result.message}"),
            hint="the JUnit report and the summary list every step",
        )
        self.exit_code = result.exit_code or 4


class StepPrinter:
    """Human output: the endpoints, then one line per step (run events are not shown)."""

    def event(self, name: str, /, **fields: Any) -> None:
        if name == "rehearse.endpoints":
            for endpoint in fields["endpoints"]:
                line = PlanEndpoint(**endpoint).line()
                stderr.print(f"endpoint {line}", markup=False, highlight=False)
        elif name == "rehearse.step":
            mark = {"passed": "✓", "failed": "✗", "skipped": "-"}[fields["status"]]
            key = f" [object: {fields['key']}]" if fields.get("key") is not None else ""
            text = f"{mark} {fields['name']} ({fields['seconds']:.1f}s){key}: {fields['message']}"
            stdout.print(printable(text), markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("rehearse", help=HELP)(rehearse)


def rehearse(
    plan: Path = typer.Argument(..., metavar="PLAN", help="Path of the plan file (YAML)."),  # noqa: B008
    target_endpoint: str | None = typer.Option(
        None, "--target-endpoint", help="Stand-in S3 endpoint (default: $HDH_S3_ENDPOINT)."
    ),
    target_provider: str = typer.Option(
        os.environ.get("HDH_REHEARSE_PROVIDER", "seaweedfs"),
        "--target-provider",
        help="Preset of the stand-in S3 server: seaweedfs, minio or generic.",
    ),
    keys: str = typer.Option("file", "--keys", help="Throwaway KEKs: file, or softhsm."),
    signing: str = typer.Option(
        "auto",
        "--signing",
        help="Manifest signer: softhsm (the HDH_HSM_* token's Ed25519 key, created when "
        "absent), file (a throwaway key in the state directory), or auto.",
    ),
    work: Path | None = typer.Option(  # noqa: B008
        None, "--work", help="Working directory (default .hdh-migrate/rehearse/PLAN-NAME)."
    ),
    inventory: Path | None = typer.Option(  # noqa: B008
        None, "--inventory", help="An audit JSON report: seed each dataset's size classes."
    ),
    objects: int = typer.Option(
        24, "--objects", min=0, help="Objects per dataset (besides edges)."
    ),
    max_part_size: str = typer.Option("8MiB", "--max-part-size", help="Cap on the part size."),
    create_bucket: bool | None = typer.Option(
        None,
        "--create-bucket/--no-create-bucket",
        help="Empty and create the target buckets (default: only on a loopback endpoint).",
    ),
    finalize: bool = typer.Option(False, "--finalize", help="Also cut over again and finalize."),
    decommission: bool = typer.Option(
        False, "--decommission", help="After --finalize: delete each wave's source, prove it."
    ),
    executor: str | None = typer.Option(
        None,
        "--executor",
        help="Every step's executor: serial, threads, dask (a local cluster) or a Dask "
        "scheduler on this machine tcp://127.0.0.1:PORT | tls://… (default: the plan's).",
    ),
    junit: Path | None = typer.Option(None, "--junit", help="Write a JUnit XML report here."),  # noqa: B008
    summary: Path | None = typer.Option(None, "--summary", help="Write a Markdown summary here."),  # noqa: B008
    as_json: bool = typer.Option(False, "--json", help="Events as JSON lines on stdout."),
) -> None:
    """Rehearse a plan (see Examples)."""
    if keys not in ("file", "softhsm"):
        raise UsageError(f"--keys {keys!r}", hint="use file or softhsm")
    if signing not in ("auto", "file", "softhsm"):
        raise UsageError(f"--signing {signing!r}", hint="use auto, file or softhsm")
    if signing == "auto":
        signing = "softhsm" if hsm_signing_available() else "file"
    if decommission and not finalize:
        raise UsageError(
            "--decommission needs --finalize",
            hint="a source is decommissioned only once its wave is finalized",
        )
    options = Options(
        work=work or Path(".hdh-migrate") / "rehearse" / plan.stem,
        target_endpoint=target_endpoint,
        target_provider=target_provider,
        keys=keys,
        signing=signing,
        max_part_size=parse_size(max_part_size),
        create_bucket=create_bucket,
        executor=executor,
    )
    settings = Settings(
        plan, options, _inventory(inventory), objects, finalize=finalize, decommission=decommission
    )
    reporter: Reporter = JsonLinesReporter() if as_json else StepPrinter()
    rehearsal = Rehearsal(settings, reporter, reraise=STATE.debug)
    results = rehearsal.run()
    derived = rehearsal.derived
    notes, hooks = (derived.notes, derived.hooks) if derived else ([], [])
    if junit is not None:
        _write(junit, junit_xml(str(plan), results))
    if summary is not None:
        _write(summary, markdown_summary(str(plan), results, notes, hooks))
    if rehearsal.failed is not None:
        raise RehearsalFailed(rehearsal.failed)
    if not as_json:
        stdout.print(f"rehearsal of {plan} passed: {len(results)} steps", markup=False)


def _inventory(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"--inventory {path}: not a readable audit JSON report ({exc})") from None
    if not isinstance(data, dict):
        raise UsageError(f"--inventory {path}: not an audit JSON report")
    return data


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None

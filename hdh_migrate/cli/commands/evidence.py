"""``hdh-migrate evidence export|verify``: one signed bundle an auditor checks offline."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from hdh_migrate.cli.render import emit_json, ok, stdout
from hdh_migrate.engine.bundle import export_bundle
from hdh_migrate.errors import VerificationError
from hdh_migrate.integrity.bundle import verify_bundle

EXPORT_HELP = """Pack a plan's evidence into one tar.gz: the manifest and its public key,
the latest signed checkpoint, the plan, each wave's allowed_signers and signed approvals,
the reports, probe results, policy findings and evidence overlays, with an index of every
file (size, SHA-256) signed by the manifest signer (the HSM key when the plan names one).

  hdh-migrate evidence export plan.yaml --out evidence-2026-12.tar.gz
"""

VERIFY_HELP = """Check a bundle offline: the index signature, every file against the
index (exit 4 naming the first altered, missing or added file), the manifest in full, and
each signed approval against the bundled allowed_signers. Pass --public-key (a trusted
copy of the signer's key) to prove origin; without it the bundle's own key is used and
the output says so.

  hdh-migrate evidence verify evidence-2026-12.tar.gz --public-key trusted/manifest.pub
"""

evidence_app = typer.Typer(help="The evidence bundle: export it, verify it offline.")


def register(app: typer.Typer) -> None:
    app.add_typer(evidence_app, name="evidence")
    evidence_app.command("export", help=EXPORT_HELP)(export)
    evidence_app.command("verify", help=VERIFY_HELP)(verify)


def export(
    plan: str = typer.Argument(..., metavar="PLAN", help="Path of the plan file (YAML)."),
    out: Path = typer.Option(..., "--out", help="The bundle to write (.tar.gz, new file)."),  # noqa: B008
    json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    summary = export_bundle(plan, out)
    if json:
        emit_json(summary.to_dict())
        return
    ok(f"wrote {out}: {summary.files} file(s), {summary.bytes} bytes, signed by {summary.signer}")


def verify(
    bundle: Path = typer.Argument(..., help="The bundle (.tar.gz)."),  # noqa: B008
    public_key: Path | None = typer.Option(  # noqa: B008
        None, "--public-key", help="A trusted copy of the manifest signer's public key."
    ),
    json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    report = verify_bundle(bundle, public_key)
    if json:
        emit_json(report.to_dict())
    if not report.ok:
        raise VerificationError(report.one_line())
    if not json:
        trusted = report.trusted
        proven = "" if trusted["origin_proven"] else " — integrity only, origin NOT proven"
        stdout.print(
            escape(f"trusted key {trusted['fingerprint']} ({trusted['source']}){proven}"),
            highlight=False,
        )
        ok(report.one_line())

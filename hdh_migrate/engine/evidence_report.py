"""HTML reports for an auditor: a command's report (run, verify, cutover, rollback,
finalize, decommission) with the evidence around it, written beside its JSON and Markdown.

``write_html(plan, path, kind, command)`` reads the manifest (streamed, see
evidence_view.py), evaluates the policy on the plan file when given (no server contacted)
and renders reports/evidence_html.py. Print it to PDF with any browser, e.g.
``chromium --headless --print-to-pdf=report.pdf report.html`` (print CSS included).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hdh_migrate import __version__
from hdh_migrate.engine.audit import AuditOptions, judge
from hdh_migrate.engine.evidence import state_paths
from hdh_migrate.engine.evidence_view import EvidenceView, evidence_view
from hdh_migrate.plan import Plan
from hdh_migrate.reports.evidence_html import EvidencePage, render_evidence_html
from hdh_migrate.reports.run_report import RunReport, utc_now, write_run_report

_MODES = ("full", "sample", "metadata", "none")


def evidence_page(
    plan: Plan, kind: str, command: dict[str, Any], plan_file: str | None = None
) -> EvidencePage:
    """The page model of ``command`` (a report's ``to_dict()``) for ``plan``."""
    manifest = state_paths(plan).manifest
    view = evidence_view(plan, manifest)
    findings = []
    if plan_file is not None:
        options = AuditOptions(inventory=False)
        findings = [f.to_dict() for f in judge(plan_file, options).findings]
    return EvidencePage(
        kind=kind,
        plan=plan.name,
        wave=str(command.get("wave", "")),
        outcome=str(command.get("outcome", "done")),
        message=str(command.get("message", "")),
        rehearsal=plan.policy.rehearsal or plan.policy.profile == "rehearsal",
        plan_digest=view.plan_digest,
        generated=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        tool_version=__version__,
        endpoints=view.endpoints,
        signer=view.signer,
        kek_refs=view.kek_refs,
        manifest={
            "path": str(manifest),
            "records": view.records,
            "checkpoints": view.checkpoints,
            "last_checkpoint": view.last_checkpoint,
        },
        timeline=view.timeline,
        throughput=[(minute[11:16] + "Z", n) for minute, n in sorted(view.throughput.items())],
        verification=_split(view),
        approvals=[a.__dict__ for a in view.approvals],
        details=command,
        findings=findings,
    )


def _split(view: EvidenceView) -> list[tuple[str, int]]:
    """full / sample / metadata always (a zero is information), then any other mode."""
    modes = [*_MODES[:3], *(m for m in sorted(view.verification) if m not in _MODES[:3])]
    return [(m, view.verification.get(m, 0)) for m in modes]


def write_html(
    plan: Plan, path: Path, kind: str, command: dict[str, Any], plan_file: str | None = None
) -> Path:
    """Render and write the page to ``path`` (mode 0600); return the path."""
    html = render_evidence_html(evidence_page(plan, kind, command, plan_file))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    path.chmod(0o600)
    return path


def write_run_reports(
    job: Any, command: str, started: Any, outcomes: list[Any], plan_file: str | None = None
) -> tuple[Path, Path]:
    """A run's reports (JSON, Markdown, HTML) in the plan's state directory, after a signed
    checkpoint (the HTML page shows the root of this run); the JSON and Markdown paths.
    ``job`` is the Migration whose ``outcomes`` (DatasetOutcome) they are."""
    plan = job.plan
    report = RunReport(
        command, plan.name, job.run_id, started, utc_now(), plan.policy.rehearsal, tuple(outcomes)
    )
    as_json, as_md = write_run_report(plan.state_path, report)
    job.manifest.checkpoint()
    write_html(plan, as_json.with_suffix(".html"), command, report.to_dict(), plan_file)
    return as_json, as_md

"""Run, cutover and decommission reports as one self-contained, printable HTML page each,
in the audit's style (same CSS, inline SVG charts, no script, nothing fetched).

Sections: plan and digest, endpoints, key custody and signer, manifest root and
checkpoints, per-wave timeline, throughput over time, verification split, approvals with
signer identities, the command's own details (totals, gates, hooks, steps) and findings —
**first** when the outcome is blocked or refused. A chart without data is not drawn. Every
value is escaped: object keys, hook output, plan values and server messages are data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any

from hdh_migrate.reports.charts import HIST_COLOUR, bars_svg
from hdh_migrate.reports.html import CSS

PRINT_CSS = """
@page{size:A4;margin:14mm}
@media print{body{margin:0;font-size:11px}.chart{max-width:100%;height:auto}
h2{break-after:avoid}table,figure,pre{break-inside:avoid}a{color:inherit}}
pre{white-space:pre-wrap;word-break:break-all;font-size:11px;background:#f8f9fa;padding:6px}
"""
SPLIT_COLOUR = "#2b8a3e"


@dataclass
class EvidencePage:
    """Everything a report page shows; built by the engine (engine/evidence_report.py)."""

    kind: str  # run, cutover, rollback, finalize, decommission
    plan: str
    wave: str
    outcome: str
    message: str
    rehearsal: bool
    plan_digest: str
    generated: str
    tool_version: str
    endpoints: list[dict[str, str]] = field(default_factory=list)
    signer: dict[str, Any] = field(default_factory=dict)
    kek_refs: list[str] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)
    timeline: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    throughput: list[tuple[str, int]] = field(default_factory=list)
    verification: list[tuple[str, int]] = field(default_factory=list)
    approvals: list[dict[str, str]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        refused = self.outcome in ("refused", "failed")
        return refused or any(f.get("severity") == "block" for f in self.findings)


def render_evidence_html(page: EvidencePage) -> str:
    """The complete page."""
    findings = _findings(page)
    body = [
        _banner(page),
        _header(page),
        findings if page.blocked else "",
        _endpoints(page),
        _custody(page),
        _manifest(page),
        _timeline(page),
        _charts(page),
        _approvals(page),
        _details(page),
        "" if page.blocked else findings,
    ]
    title = f"hdh-migrate {page.kind} — {page.plan}" + (f" / {page.wave}" if page.wave else "")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}{PRINT_CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def _table(table_id: str, head: list[str], rows: list[list[str]]) -> str:
    """A table; cells are escaped here (never pass markup)."""
    top = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f'<table id="{escape(table_id)}"><tr>{top}</tr>{body}</table>'


def _banner(page: EvidencePage) -> str:
    if not page.rehearsal:
        return ""
    return (
        '<div id="rehearsal-banner" class="banner">REHEARSAL — NOT SOVEREIGN — '
        "NO REAL HEALTH DATA</div>"
    )


def _header(page: EvidencePage) -> str:
    verdict = "block" if page.blocked else "pass"
    wave = f" — wave {escape(page.wave)}" if page.wave else ""
    return (
        f"<h1>{escape(page.kind.capitalize())} report: {escape(page.plan)}{wave}</h1>"
        f'<p><span id="outcome" class="verdict v-{verdict}">{escape(page.outcome.upper())}'
        f"</span> {escape(page.message)}</p>"
        f"<p>Plan digest <code>{escape(page.plan_digest or 'unknown')}</code>; generated "
        f"{escape(page.generated)} by hdh-migrate {escape(page.tool_version)}.</p>"
    )


def _findings(page: EvidencePage) -> str:
    if not page.findings:
        return '<h2>Findings</h2><p id="findings">No findings.</p>'
    rows = [
        [
            str(f.get("severity", "")).upper(),
            f"{f.get('rule', '')} {f.get('title', '')}",
            f.get("subject", ""),
            f.get("why", ""),
            f.get("fix", ""),
        ]
        for f in page.findings
    ]
    return "<h2>Findings</h2>" + _table(
        "findings", ["severity", "rule", "subject", "why", "how to fix"], rows
    )


def _endpoints(page: EvidencePage) -> str:
    rows = [[e["role"], e["name"], e["what"], e["where"], e["location"]] for e in page.endpoints]
    if not rows:
        return ""
    head = ["role", "name", "kind / provider", "endpoint or container", "bucket / prefix"]
    return "<h2>Plan and endpoints</h2>" + _table("endpoints", head, rows)


def _custody(page: EvidencePage) -> str:
    signer = page.signer
    if not signer:
        return "<h2>Key custody</h2><p>No run recorded yet.</p>"
    rows = [
        ["signer key", signer.get("key_id", "")],
        ["signer fingerprint", signer.get("fingerprint", "")],
    ]
    custody = signer.get("custody") or {}
    for name in ("provider", "module", "key_label", "algorithm"):
        if name in custody:
            rows.append([name.replace("_", " "), custody[name]])
    for name, value in sorted((custody.get("device") or {}).items()):
        rows.append([f"HSM {name}", value])
    for name, value in sorted((custody.get("attributes") or {}).items()):
        rows.append([f"key attribute {name.upper()}", "yes" if value else "no"])
    if not custody:
        rows.append(["custody", "a key file (no HSM attributes recorded)"])
    rows += [["KEK reference", ref] for ref in page.kek_refs]
    return "<h2>Key custody and signer</h2>" + _table("custody", ["what", "value"], rows)


def _manifest(page: EvidencePage) -> str:
    m = page.manifest
    rows = [
        ["file", m.get("path", "")],
        ["records", m.get("records", 0)],
        ["signed checkpoints", m.get("checkpoints", 0)],
    ]
    note = m.get("last_checkpoint", "")
    last = f"<pre id='checkpoint'>{escape(note)}</pre>" if note else "<p>No checkpoint.</p>"
    return (
        "<h2>Manifest root and checkpoints</h2>"
        + _table("manifest", ["what", "value"], rows)
        + "<h3>Last signed checkpoint (origin, tree size, root, signature)</h3>"
        + last
    )


def _timeline(page: EvidencePage) -> str:
    if not page.timeline:
        return ""
    parts = ["<h2>Timeline</h2>"]
    for wave, events in page.timeline.items():
        parts.append(f"<h3>Wave {escape(wave)}</h3>")
        parts.append(
            _table(f"timeline-{wave}", ["time (UTC)", "dataset", "step"], [list(e) for e in events])
        )
    return "".join(parts)


def _charts(page: EvidencePage) -> str:
    figures = []
    if any(v > 0 for _, v in page.throughput):
        svg = bars_svg(
            "chart-throughput", "Bytes copied per minute", page.throughput, HIST_COLOUR, "bytes"
        )
        figures.append(_figure(svg, "Throughput over time: bytes copied and verified per minute"))
    if any(v > 0 for _, v in page.verification):
        svg = bars_svg(
            "chart-verification",
            "Objects per verification mode",
            page.verification,
            SPLIT_COLOUR,
            "objects",
        )
        figures.append(_figure(svg, "Verification split: full / sample / metadata"))
    if not figures:
        return ""
    return f'<h2>Charts</h2><div class="charts">{"".join(figures)}</div>'


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


def _approvals(page: EvidencePage) -> str:
    if not page.approvals:
        return ""
    rows = [
        [a["wave"], a["principal"], a["kind"], a["fingerprint"], a["at"]] for a in page.approvals
    ]
    head = ["wave", "approver", "how", "key fingerprint", "recorded (UTC)"]
    return "<h2>Approvals</h2>" + _table("approvals", head, rows)


def _details(page: EvidencePage) -> str:
    d = page.details
    parts = []
    if "totals" in d:
        rows = [[k.replace("_", " "), v] for k, v in d["totals"].items()]
        parts.append("<h2>Totals</h2>" + _table("totals", ["what", "value"], rows))
    if isinstance(d.get("datasets"), dict):  # a cutover's datasets: name → state
        rows = [[name, state] for name, state in d["datasets"].items()]
        parts.append("<h2>Datasets</h2>" + _table("datasets", ["dataset", "state"], rows))
    elif d.get("datasets"):
        head = ["wave", "dataset", "listed", "copied", "bytes", "verified", "failed"]
        rows = [
            [
                o.get("wave", ""),
                o.get("dataset", ""),
                o.get("listed", 0),
                o.get("copied", 0),
                o.get("bytes_copied", 0),
                o.get("verified", 0),
                len(o.get("failed", [])),
            ]
            for o in d["datasets"]
        ]
        parts.append("<h2>Datasets</h2>" + _table("datasets", head, rows))
    if d.get("gates"):
        rows = [
            [g["gate"], "passed" if g["passed"] else "REFUSED", g["measured"], g.get("fix", "")]
            for g in d["gates"]
        ]
        parts.append(
            "<h2>Gates</h2>" + _table("gates", ["gate", "result", "measured", "fix"], rows)
        )
    for hook in d.get("hooks", []):
        status = "timed out" if hook.get("timed_out") else f"exit {hook.get('exit_status')}"
        parts.append(
            f"<h3>Hook {escape(str(hook.get('label')))} ({escape(str(hook.get('where')))}, "
            f"{escape(status)})</h3><pre>{escape(str(hook.get('command', '')))}</pre>"
            f"<pre>{escape(str(hook.get('output', '')))}</pre>"
        )
    if d.get("steps"):
        rows = [
            [s.get("at", ""), s.get("dataset", ""), s.get("step", ""), _rest(s)] for s in d["steps"]
        ]
        parts.append(
            "<h2>Steps</h2>" + _table("steps", ["time", "dataset", "step", "detail"], rows)
        )
    return "".join(parts)


def _rest(step: dict[str, Any]) -> str:
    rest = {k: v for k, v in step.items() if k not in ("at", "dataset", "step")}
    return ", ".join(f"{k}: {v}" for k, v in sorted(rest.items()))

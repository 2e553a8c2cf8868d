"""The audit report as one self-contained HTML page: inline CSS, inline SVG charts, no
script, no external font, image or style sheet — it renders offline, from a file."""

from __future__ import annotations

from hdh_migrate.escaping import html_text
from hdh_migrate.reports.charts import WaveBar, histogram_svg, waves_svg
from hdh_migrate.reports.markdown import cost, duration, rate
from hdh_migrate.reports.model import AuditReport, DatasetReport
from hdh_migrate.units import human_size

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1b1b1b}
h1{font-size:24px;margin:0 0 8px}h2{font-size:19px;margin:24px 0 8px}h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f1f3f5}.num{text-align:right}
.banner{background:#ffd43b;color:#000;border:6px solid #000;font-size:34px;font-weight:800;
padding:18px;text-align:center;letter-spacing:2px;margin-bottom:16px}
.verdict{display:inline-block;padding:4px 12px;border-radius:4px;color:#fff;font-weight:700}
.v-block{background:#c92a2a}.v-warn{background:#e67700}.v-pass{background:#2b8a3e}
.s-block{color:#c92a2a;font-weight:700}.s-warn{color:#e67700;font-weight:700}.s-info{color:#555}
.charts{display:flex;flex-wrap:wrap;gap:16px}.chart{border:1px solid #ddd;background:#fff}
figure{margin:0}figcaption{font-size:13px;color:#333}code{font-size:12px}
"""


def render_html(report: AuditReport) -> str:
    """The complete page."""
    blocked = report.verdict == "block"  # a blocked plan: what to fix comes first
    body = [
        _banner(report),
        _header(report),
        _findings(report) if blocked else "",
        _charts(report),
        "" if blocked else _findings(report),
        _datasets(report),
        _estimates(report),
        _notes(report),
    ]
    title = f"hdh-migrate audit — {report.plan.name}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html_text(title)}</title><style>{CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def _banner(report: AuditReport) -> str:
    if not report.rehearsal:
        return ""
    return (
        '<div id="rehearsal-banner" class="banner">REHEARSAL — NOT SOVEREIGN — '
        "NO REAL HEALTH DATA</div>"
    )


def _header(report: AuditReport) -> str:
    counts = report.counts()
    plan = report.plan
    return (
        f"<h1>Audit of plan {html_text(plan.name)}</h1>"
        f'<p><span id="verdict" class="verdict v-{report.verdict}">{report.verdict.upper()}'
        f"</span> exit {report.exit_code} · {counts['block']} block · {counts['warn']} warn · "
        f"{counts['info']} info</p>"
        f"<p>Plan <code>{html_text(plan.file)}</code> (sha256 <code>{plan.sha256[:16]}…</code>), "
        f"profile <b>{html_text(plan.profile)}</b>, evidence as of {report.as_of}, generated "
        f"{html_text(report.generated_at)} by hdh-migrate {html_text(report.tool_version)} "
        f"(schema <code>{report.schema}</code>).</p>"
    )


def _charts(report: AuditReport) -> str:
    """The charts that have data; none at all (e.g. a policy-only audit) draws nothing."""
    figures = []
    for i, ds in enumerate(report.datasets):
        buckets = ds.inventory.histogram if ds.inventory else []
        if not any(b.count for b in buckets):
            continue
        svg = histogram_svg(f"chart-sizes-{i}", f"Size distribution of {ds.name}", buckets)
        figures.append(_figure(svg, f"Objects per size bucket — {ds.name}"))
    waves = _wave_bars(report)
    if any(w.bytes for w in waves):
        figures.append(
            _figure(
                waves_svg("chart-waves", "Bytes per wave", waves),
                "Bytes per wave: all selected (orange), to move (dark red)",
            )
        )
    if not figures:
        return ""
    return f'<h2>Charts</h2><div class="charts">{"".join(figures)}</div>'


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{html_text(caption)}</figcaption></figure>"


def _wave_bars(report: AuditReport) -> list[WaveBar]:
    order: dict[str, list[int]] = {}
    for ds in report.datasets:
        entry = order.setdefault(ds.wave, [0, 0])
        if ds.inventory and ds.diff:
            entry[0] += ds.inventory.bytes
            entry[1] += ds.diff.new.bytes + ds.diff.changed.bytes
    return [WaveBar(name, total, move) for name, (total, move) in order.items()]


def _findings(report: AuditReport) -> str:
    if not report.findings:
        return "<h2>Findings</h2><p>No findings.</p>"
    rows = "".join(
        f'<tr class="finding" data-rule="{html_text(f.rule)}" data-severity="{f.severity}">'
        f'<td class="s-{f.severity}">{f.severity.upper()}</td><td>{html_text(f.rule)}<br>'
        f"{html_text(f.title)}</td><td><code>{html_text(f.file)}:{f.line}:{f.column}</code><br>"
        f"<code>{html_text(f.path)}</code></td><td>{html_text(f.why)}</td><td>{html_text(f.fix)}</td></tr>"
        for f in report.findings
    )
    head = "<tr><th>severity</th><th>rule</th><th>where</th><th>why</th><th>how to fix</th></tr>"
    return f'<h2>Findings</h2><table id="findings">{head}{rows}</table>'


def _datasets(report: AuditReport) -> str:
    head = (
        "<tr><th>dataset</th><th>wave</th><th>status</th><th>objects</th><th>bytes</th>"
        "<th>new</th><th>changed</th><th>identical</th><th>extra on target</th>"
        "<th>over limit</th><th>archive</th><th>bad names</th><th>losing metadata</th>"
        "</tr>"
    )
    rows = "".join(_dataset_row(ds) for ds in report.datasets)
    largest = "".join(_largest(ds) + _flagged(ds) for ds in report.datasets)
    return f'<h2>Datasets</h2><table id="datasets">{head}{rows}</table>{largest}'


def _dataset_row(ds: DatasetReport) -> str:
    cells = [
        html_text(ds.name),
        html_text(ds.wave),
        html_text(ds.status + (f": {ds.note}" if ds.note else "")),
    ]
    inv, diff = ds.inventory, ds.diff
    if inv and diff:
        numbers = [
            inv.objects,
            human_size(inv.bytes),
            diff.new.count,
            diff.changed.count,
            diff.identical.count,
            diff.extra_on_target.count,
            inv.over_limit.count,
            inv.archive_tier.count,
            inv.bad_names.count,
            inv.objects_losing_metadata,
        ]
        cells += [f'<span class="num">{n}</span>' for n in numbers]
    else:
        cells += ["—"] * 10
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _largest(ds: DatasetReport) -> str:
    if not ds.inventory or not ds.inventory.largest:
        return ""
    rows = "".join(
        f"<tr><td><code>{html_text(o.key)}</code></td>"
        f'<td class="num">{human_size(o.size)}</td></tr>'
        for o in ds.inventory.largest
    )
    return f"<h3>Largest objects — {html_text(ds.name)}</h3><table>{rows}</table>"


def _flagged(ds: DatasetReport) -> str:
    """Objects that will not move as they are, and metadata that will not be carried."""
    inv = ds.inventory
    if inv is None:
        return ""
    samples = [
        ("over the target's limit", inv.over_limit),
        ("archive tier", inv.archive_tier),
        ("name invalid or too long", inv.bad_names),
    ]
    rows = "".join(
        f"<tr><td>{what}</td><td><code>{html_text(o.key)}</code></td><td>{html_text(o.note)}</td></tr>"
        for what, sample in samples
        for o in sample.examples
    )
    lost = "".join(
        f"<tr><td>metadata not carried</td><td><code>{html_text(name)}</code></td>"
        f"<td>{count} object(s)</td></tr>"
        for name, count in sorted(inv.metadata_not_carried.items())
    )
    if not rows and not lost:
        return ""
    return f"<h3>Will not move as is — {html_text(ds.name)}</h3><table>{rows}{lost}</table>"


def _estimates(report: AuditReport) -> str:
    if report.total is None:
        return "<h2>Estimates</h2><p>Not computed (inventory skipped).</p>"
    head = (
        "<tr><th>scope</th><th>objects</th><th>bytes</th><th>duration</th><th>PUT</th>"
        "<th>GET</th><th>HEAD</th><th>cost</th></tr>"
    )
    rows = "".join(
        f"<tr><td>{html_text(e.scope)}</td><td>{e.objects}</td><td>{human_size(e.bytes)}</td>"
        f"<td>{duration(e)}</td><td>{e.puts}</td><td>{e.gets}</td><td>{e.heads}</td>"
        f"<td>{html_text(cost(e))}</td></tr>"
        for e in [*report.waves, report.total]
    )
    return (
        f'<h2>Estimates</h2><table id="estimates">{head}{rows}</table>'
        f"<p>Bandwidth: {html_text(rate(report.total))}.</p>"
    )


def _notes(report: AuditReport) -> str:
    if not report.notes:
        return ""
    items = "".join(f"<li>{html_text(n)}</li>" for n in report.notes)
    return f"<h2>Notes</h2><ul>{items}</ul>"

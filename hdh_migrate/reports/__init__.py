"""Reports: the audit report model (schema ``hdh-migrate/audit/v1``) and its renderings —
JSON, Markdown, self-contained HTML with inline SVG charts, SARIF 2.1.0 — plus the
bounded accumulators (``tally``) and estimates the audit fills them with."""

from __future__ import annotations

from hdh_migrate.reports.html import render_html
from hdh_migrate.reports.json_report import render_json
from hdh_migrate.reports.markdown import render_markdown
from hdh_migrate.reports.model import SCHEMA, AuditReport
from hdh_migrate.reports.sarif import render_sarif, sarif_log

RENDERERS = {"json": render_json, "md": render_markdown, "html": render_html}

__all__ = [
    "RENDERERS",
    "SCHEMA",
    "AuditReport",
    "render_html",
    "render_json",
    "render_markdown",
    "render_sarif",
    "sarif_log",
]

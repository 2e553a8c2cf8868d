"""The audit report as JSON (schema ``hdh-migrate/audit/v1``, see docs/audit.md)."""

from __future__ import annotations

import json

from hdh_migrate.reports.model import AuditReport


def render_json(report: AuditReport) -> str:
    """Stable, UTF-8 friendly JSON with sorted keys and a final newline."""
    return json.dumps(report.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

"""The audit findings as SARIF 2.1.0, so CI code scanning shows them on the plan's lines.

One run, tool ``hdh-migrate`` with one rule per SOV rule (plus ``POLICY`` and
``CREDENTIALS``); each finding is a result at the plan file's line and column. Severity:
block → error, warn → warning, info → note. File paths are written as given (relative to
the repository root when the audit runs there, which is what code scanning expects).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path, PurePosixPath
from typing import Any

from hdh_migrate.reports.model import AuditReport, FindingRow, RuleRow

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"block": "error", "warn": "warning", "info": "note"}
INFO_URI = "https://github.com/hdh-migrate/hdh-migrate/blob/main/docs/audit.md"
POLICY_RULE = RuleRow(
    "POLICY", "policy settings", "warn", "changes the plan makes to the policy itself", 0
)
CREDENTIALS_RULE = RuleRow(
    "CREDENTIALS",
    "credential kinds",
    "warn",
    "long-lived shared keys on a source (an Azure account key): warn under profile hdh",
    0,
)


def render_sarif(report: AuditReport) -> str:
    """The SARIF log as JSON text."""
    return json.dumps(sarif_log(report), indent=2, ensure_ascii=False) + "\n"


def sarif_log(report: AuditReport) -> dict[str, Any]:
    rules = [*report.rules, POLICY_RULE, CREDENTIALS_RULE]
    index = {rule.id: i for i, rule in enumerate(rules)}
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": _driver(report, rules)},
                "results": [_result(f, index) for f in report.findings],
                "properties": {
                    "verdict": report.verdict,
                    "rehearsal": report.rehearsal,
                    "asOf": report.as_of,
                    "plan": report.plan.name,
                },
            }
        ],
    }


def _driver(report: AuditReport, rules: list[RuleRow]) -> dict[str, Any]:
    return {
        "name": "hdh-migrate",
        "version": report.tool_version,
        "informationUri": INFO_URI,
        "rules": [_rule(rule) for rule in rules],
    }


def _rule(rule: RuleRow) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.id.replace("-", ""),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.summary},
        "helpUri": f"{INFO_URI}#{rule.id.lower()}",
        "defaultConfiguration": {"level": LEVELS.get(rule.severity, "warning")},
    }


def _result(finding: FindingRow, index: dict[str, int]) -> dict[str, Any]:
    text = f"{finding.title}: {finding.why}. Fix: {finding.fix}"
    return {
        "ruleId": finding.rule,
        "ruleIndex": index[finding.rule],
        "level": LEVELS[finding.severity],
        "message": {"text": text},
        "locations": [_location(finding)],
        "partialFingerprints": {"hdhFinding/v1": _fingerprint(finding)},
        "properties": {
            "severity": finding.severity,
            "path": finding.path,
            "subject": finding.subject,
        },
    }


def _location(finding: FindingRow) -> dict[str, Any]:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": artifact_uri(finding.file)},
            "region": {"startLine": finding.line, "startColumn": finding.column},
        }
    }


def artifact_uri(file: str) -> str:
    """A relative path stays relative (code scanning resolves it against the repository);
    an absolute one becomes a ``file://`` URI."""
    path = Path(file)
    return path.as_uri() if path.is_absolute() else PurePosixPath(*path.parts).as_posix()


def _fingerprint(finding: FindingRow) -> str:
    """Stable across runs and line moves: rule + plan path + subject."""
    key = f"{finding.rule}|{finding.path}|{finding.subject}".encode()
    return hashlib.sha256(key).hexdigest()[:32]

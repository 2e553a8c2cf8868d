"""Helpers: audit a plan file or a small plan written from a dictionary."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from hdh_migrate.backends.probe import ProbeResult
from hdh_migrate.policy import Finding, PolicyInput, evaluate, read_plan

REPO = Path(__file__).resolve().parents[3]
TODAY = date(2026, 11, 29)

BASE: dict[str, Any] = {
    "version": 1,
    "name": "policy-test",
    "policy": {"profile": "hdh"},
    "sources": {
        "azure": {
            "kind": "azure_blob",
            "account_url": "https://acct.blob.core.windows.net",
            "credential": "${env:AZ_SAS}",
        }
    },
    "targets": {
        "s3ns": {
            "kind": "s3",
            "provider": "s3ns",
            "region": "u-france-east1",
            "bucket": "hdh-data",
            "credentials": {"access_key": "${env:AK}", "secret_key": "${env:SK}"},
            "hds": {"reference": "HDS-1", "issued": "2025-01-01", "expires": "2028-01-01"},
        }
    },
    "keys": {"kek": {"kind": "file", "path": "/etc/hdh/kek.key"}},
    "signing": {"kind": "file", "private_key": "${file:/etc/hdh/sign.pem}"},
    "defaults": {"key": "kek"},
    "waves": [
        {
            "name": "w1",
            "datasets": [{"name": "d1", "source": "azure", "container": "snds", "target": "s3ns"}],
        }
    ],
}

Audit = Callable[..., list[Finding]]


def audit_file(
    path: Path | str,
    today: date = TODAY,
    probes: Mapping[str, ProbeResult | None] | None = None,
    environ: Mapping[str, str] | None = None,
    states: Mapping[str, str] | None = None,
) -> list[Finding]:
    source = read_plan(path)
    inp = PolicyInput(
        source.plan,
        source.file,
        source.locations,
        today,
        probes or {},
        states or {},
        environ or {},
    )
    return evaluate(inp)


def probe(target: str = "s3ns", **fields: Any) -> ProbeResult:
    return ProbeResult(target, "https://x", "hdh-data", "2026-11-28T10:00:00+00:00", **fields)


def rules_of(findings: list[Finding], severity: str | None = None) -> set[str]:
    return {f.rule for f in findings if severity is None or f.severity == severity}


def line_of(path: Path | str, needle: str) -> int:
    """1-based number of the first line containing ``needle``."""
    for number, line in enumerate(Path(path).read_text("utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")

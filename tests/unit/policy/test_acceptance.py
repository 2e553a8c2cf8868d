"""The issue's acceptance examples: each example plan gives its expected blocking finding
at the line that causes it; the rehearsal plan passes with warnings only."""

from __future__ import annotations

from pathlib import Path

import pytest

from hdh_migrate.policy import blocking
from tests.unit.policy.policy_helpers import REPO, audit_file, line_of, rules_of

# plans/rehearsal.yaml is portable: its endpoints and ports come from the environment.
pytestmark = pytest.mark.usefixtures("devstack_env")

EXAMPLES = REPO / "examples" / "policy"


def _finding(path: Path, rule: str):  # type: ignore[no-untyped-def]
    found = [f for f in audit_file(path) if f.rule == rule]
    assert found, f"{rule} missing for {path.name}"
    return found[0]


def test_ovh_gra_fails_sov02_on_its_region_line() -> None:
    path = EXAMPLES / "ovh-public-cloud-gra.yaml"
    finding = _finding(path, "SOV-02")
    assert finding.severity == "block"
    assert finding.location.line == line_of(path, "region: gra")
    assert finding.location.column == 13
    assert finding.location.path == "targets.ovh-gra.region"
    assert "not qualified" in finding.why
    assert "SOV-01" not in rules_of(audit_file(path))  # France is in the EU


def test_ovh_bhs_fails_sov01() -> None:
    path = EXAMPLES / "ovh-public-cloud-bhs.yaml"
    finding = _finding(path, "SOV-01")
    assert finding.severity == "block"
    assert finding.location.line == line_of(path, "region: bhs")
    assert "Canada" in finding.why and "outside the EU" in finding.why


def test_no_client_side_encryption_fails_sov09_blocking_under_hdh() -> None:
    path = EXAMPLES / "no-client-side-encryption.yaml"
    finding = _finding(path, "SOV-09")
    assert finding.severity == "block"
    assert finding.location.line == line_of(path, "- name: ir-referentiels")
    assert finding.subject == "ir-referentiels"


def test_tls_verification_off_fails_sov07_on_its_line() -> None:
    path = EXAMPLES / "tls-verification-off.yaml"
    finding = _finding(path, "SOV-07")
    assert finding.severity == "block"
    assert finding.location.line == line_of(path, "verify_tls: false")
    assert finding.location.path == "targets.ovh-snc-rbx.verify_tls"


def test_rehearsal_plan_passes_with_warnings() -> None:
    findings = audit_file(REPO / "plans" / "rehearsal.yaml")
    assert blocking(findings) == []
    warned = rules_of(findings, "warn")
    assert {"SOV-02", "SOV-07"} <= warned
    assert all("REHEARSAL" in f.why for f in findings if f.rule in ("SOV-02", "SOV-03"))
    assert any(f.rule == "POLICY" and "REHEARSAL" in f.why for f in findings)


def test_every_finding_has_position_why_and_fix() -> None:
    for path in [*EXAMPLES.glob("*.yaml"), REPO / "plans" / "rehearsal.yaml"]:
        for finding in audit_file(path):
            assert finding.location.line >= 1 and finding.location.column >= 1
            assert finding.location.file == str(path)
            assert finding.why and finding.fix and finding.title

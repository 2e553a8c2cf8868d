"""Evidence overlays beside a plan: an organisation's dated qualification evidence for an
offering the presets only list as "claimed" (OVH SNC) makes SOV-02 pass, the audit says
which facts came from the overlay, and expired or stale evidence is a finding."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from hdh_migrate.engine.audit import AuditOptions, judge
from hdh_migrate.errors import HdhError

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "ovh-snc.yaml"
OVERLAY = """\
evidence:
  - preset: ovh-snc
    offering: ovh-snc-cloud-platform
    status: {status}
    evidence: "ANSSI visa SNC-2026-0042 (qualified products and services list)"
    evidence_date: {when}
    sources: ["https://cyber.gouv.fr/produits-services-qualifies"]
    recorded_by: rssi@hdh.example
    recorded_on: 2026-06-03
    expires: {expires}
    hds_certified: true
    extra_eu_law_immune: true
"""


def _plan(tmp_path: Path, overlay: str | None) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    plan = tmp_path / "plan.yaml"
    shutil.copy(EXAMPLE, plan)
    if overlay is not None:
        (tmp_path / "evidence").mkdir()
        (tmp_path / "evidence" / "ovh-snc.yaml").write_text(overlay, encoding="utf-8")
    return plan


def _sov02(plan: Path, today: date) -> list[tuple[str, str]]:
    view = judge(str(plan), AuditOptions(as_of=today, inventory=False, environ={}))
    return [(f.severity, f.why) for f in view.findings if f.rule == "SOV-02"]


def test_overlay_qualifies_a_claimed_offering_and_says_so(tmp_path: Path) -> None:
    claimed = _sov02(_plan(tmp_path / "a", None), date(2026, 12, 1))
    assert claimed and all(sev == "block" for sev, _ in claimed)
    assert "claimed" in claimed[0][1]

    overlay = OVERLAY.format(status="qualified", when="2026-06-01", expires="2027-06-01")
    found = _sov02(_plan(tmp_path / "b", overlay), date(2026, 12, 1))
    assert [sev for sev, _ in found] == ["info", "info"]  # two targets, both from the overlay
    assert "from the evidence overlay" in found[0][1] and "rssi@hdh.example" in found[0][1]
    assert "https://cyber.gouv.fr/" in found[0][1]


def test_expired_or_stale_overlay_evidence_is_a_finding(tmp_path: Path) -> None:
    overlay = OVERLAY.format(status="qualified", when="2026-06-01", expires="2027-06-01")
    expired = _sov02(_plan(tmp_path / "a", overlay), date(2027, 7, 1))
    assert any(sev == "block" and "expired on 2027-06-01" in why for sev, why in expired)
    old = OVERLAY.format(status="qualified", when="2022-01-01", expires="2030-01-01")
    stale = _sov02(_plan(tmp_path / "b", old), date(2026, 12, 1))
    assert any(sev == "block" and "older than" in why for sev, why in stale), stale


def test_malformed_overlay_is_refused_naming_file_and_field(tmp_path: Path) -> None:
    bad = OVERLAY.format(status="qualified", when="2026-06-01", expires="2027-06-01")
    plan = _plan(tmp_path, bad.replace("    sources:", "    # sources:"))
    with pytest.raises(HdhError, match=r"ovh-snc.yaml: evidence\[1\]\.sources"):
        judge(str(plan), AuditOptions(inventory=False, environ={}))
    (tmp_path / "evidence" / "ovh-snc.yaml").write_text(bad.replace("ovh-snc-cloud", "nope"))
    with pytest.raises(HdhError, match="has no offering 'nope-platform'"):
        judge(str(plan), AuditOptions(inventory=False, environ={}))

"""Each rule on small plans: what raises it, what clears it, severities and overrides."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.errors import PolicyError
from hdh_migrate.policy import MISSING_RULES, all_rules, blocking, enforce
from tests.unit.policy.policy_helpers import audit_file, probe, rules_of

Writer = Callable[..., Path]


def test_registry_holds_sov01_to_sov16_without_sov11() -> None:
    ids = [rule.id for rule in all_rules()]
    expected = [f"SOV-{n:02d}" for n in range(1, 17) if n != 11]
    assert ids == expected
    assert MISSING_RULES == ("SOV-11",)
    assert all(rule.summary and rule.title for rule in all_rules())


def test_qualified_plan_with_evidence_has_no_block(write_plan: Writer) -> None:
    findings = audit_file(write_plan(), probes={"s3ns": probe(versioning="enabled")})
    assert blocking(findings) == [], [f.why for f in findings]
    assert "SOV-13" not in rules_of(findings)


def test_stale_evidence_blocks_sov02(write_plan: Writer) -> None:
    findings = audit_file(write_plan(), today=date(2029, 1, 1))
    sov02 = [f for f in findings if f.rule == "SOV-02"]
    assert sov02 and sov02[0].severity == "block"
    assert "older than 3 years" in sov02[0].why


def test_evidence_close_to_expiry_warns(write_plan: Writer) -> None:
    findings = audit_file(write_plan(), today=date(2028, 10, 1))
    assert [f.severity for f in findings if f.rule == "SOV-02"] == ["warn"]


def test_missing_or_expired_hds_blocks(write_plan: Writer) -> None:
    def drop(plan: dict[str, Any]) -> None:
        del plan["targets"]["s3ns"]["hds"]

    assert "SOV-06" in rules_of(audit_file(write_plan(drop)), "block")
    expired = audit_file(write_plan(), today=date(2028, 2, 1))
    assert any(f.rule == "SOV-06" and "expired" in f.why for f in expired)


def test_verify_none_blocks_sov12_at_the_defaults_line(write_plan: Writer) -> None:
    def none(plan: dict[str, Any]) -> None:
        plan["defaults"]["verify"] = "none"

    findings = [f for f in audit_file(write_plan(none)) if f.rule == "SOV-12"]
    assert findings and findings[0].severity == "block"
    assert findings[0].location.path == "defaults.verify"


def test_cutover_gate_below_100_blocks(write_plan: Writer) -> None:
    def gate(plan: dict[str, Any]) -> None:
        plan["waves"][0]["cutover"] = {
            "freeze": {"strategy": "leases"},
            "gates": {"verified": "99%"},
        }

    assert "SOV-12" in rules_of(audit_file(write_plan(gate)), "block")


def test_sov09_is_a_warning_under_rehearsal_and_block_when_required(write_plan: Writer) -> None:
    def rehearsal(plan: dict[str, Any]) -> None:
        plan["policy"] = {"profile": "rehearsal", "rehearsal": True}
        plan["defaults"] = {}

    assert [f.severity for f in audit_file(write_plan(rehearsal)) if f.rule == "SOV-09"] == ["warn"]

    def required(plan: dict[str, Any]) -> None:
        rehearsal(plan)
        plan["policy"]["require_client_side_encryption"] = True

    assert "SOV-09" in rules_of(audit_file(write_plan(required)), "block")


def test_severity_override_and_unknown_rule(write_plan: Writer) -> None:
    def override(plan: dict[str, Any]) -> None:
        plan["targets"]["s3ns"]["verify_tls"] = False
        plan["policy"]["severity"] = {"SOV-07": "warn", "SOV-11": "block"}

    findings = audit_file(write_plan(override))
    assert [f.severity for f in findings if f.rule == "SOV-07"] == ["warn"]
    notes = [f.why for f in findings if f.rule == "POLICY"]
    assert any("SOV-11 does not exist" in n for n in notes)
    assert any("SOV-07 lowered from block to warn" in n for n in notes)


def test_replica_outside_the_eu_blocks_sov04(write_plan: Writer) -> None:
    def replica(plan: dict[str, Any]) -> None:
        plan["targets"]["bhs"] = {
            "kind": "s3",
            "provider": "ovh",
            "region": "bhs",
            "bucket": "backup",
            "credentials": {"access_key": "${env:A}", "secret_key": "${env:B}"},
        }
        plan["targets"]["s3ns"]["replicas"] = ["bhs"]

    findings = [f for f in audit_file(write_plan(replica)) if f.rule == "SOV-04"]
    assert findings and all(f.severity == "block" for f in findings)
    assert findings[0].location.path == "targets.s3ns.replicas[0]"
    assert any("outside the EU" in f.why for f in findings)


def test_unknown_host_and_proxy_are_reported_by_sov05(write_plan: Writer) -> None:
    def endpoint(plan: dict[str, Any]) -> None:
        plan["targets"]["s3ns"]["endpoint"] = "https://s3.example.com"

    assert "SOV-05" in rules_of(audit_file(write_plan(endpoint)), "block")
    proxied = audit_file(write_plan(), environ={"HTTPS_PROXY": "http://u:pw@proxy.example:3128"})
    notes = [f for f in proxied if f.rule == "SOV-05"]
    assert notes and notes[0].severity == "warn"
    assert "proxy.example" in notes[0].why and "pw" not in notes[0].why
    bypass = {"HTTPS_PROXY": "http://proxy.example:3128", "NO_PROXY": ".s3nsapis.fr"}
    assert "SOV-05" not in rules_of(audit_file(write_plan(), environ=bypass))


def test_sse_c_needs_a_probe_confirmation(write_plan: Writer) -> None:
    def sse(plan: dict[str, Any]) -> None:
        plan["defaults"] = {}
        plan["targets"]["s3ns"]["sse_c_key"] = "${file:/etc/hdh/ssec}"

    path = write_plan(sse)
    assert "SOV-08" in rules_of(audit_file(path), "block")
    confirmed = audit_file(path, probes={"s3ns": probe(sse_c="enforced")})
    assert "SOV-08" not in rules_of(confirmed)
    assert "SOV-09" in rules_of(confirmed, "block")  # the provider still holds the key


def test_finalized_dataset_without_decommission_proof_warns(write_plan: Writer) -> None:
    findings = audit_file(write_plan(), states={"d1": "finalized"})
    assert [f.severity for f in findings if f.rule == "SOV-15"] == ["warn"]
    assert "SOV-15" not in rules_of(audit_file(write_plan(), states={"d1": "verified"}))


def test_cloud_synced_state_dir_blocks_sov16(write_plan: Writer, tmp_path: Path) -> None:
    def synced(plan: dict[str, Any]) -> None:
        plan["state_dir"] = str(tmp_path / "Dropbox" / "state")

    assert "SOV-16" in rules_of(audit_file(write_plan(synced)), "block")
    assert not (tmp_path / "Dropbox").exists()  # evaluating created nothing


def test_local_target_is_not_exempt_outside_a_rehearsal_plan(write_plan: Writer) -> None:
    def local(plan: dict[str, Any]) -> None:
        plan["targets"]["s3ns"].update(provider="seaweedfs", region="local",
                                       endpoint="http://127.0.0.1:8333")  # fmt: skip

    blocked = rules_of(audit_file(write_plan(local)), "block")
    assert {"SOV-01", "SOV-02", "SOV-07"} <= blocked


def test_enforce_refuses_blocks_and_records_an_override(write_plan: Writer) -> None:
    def tls(plan: dict[str, Any]) -> None:
        plan["targets"]["s3ns"]["verify_tls"] = False

    findings = audit_file(write_plan(tls))
    with pytest.raises(PolicyError) as refused:
        enforce(findings, None)
    assert refused.value.exit_code == 3
    assert "SOV-07" in str(refused.value) and "p.yaml:" in str(refused.value)
    with pytest.raises(PolicyError):
        enforce(findings, "ok")
    override = enforce(findings, "DPO approval, ticket SEC-42")
    assert override is not None and override.rules == ("SOV-07",)
    assert enforce(audit_file(write_plan()), None) is None


@pytest.mark.parametrize(
    ("scheduler", "tls", "blocked"),
    [
        ("tcp://10.4.0.7:8786", False, True),
        ("tcp://10.4.0.7:8786", True, True),  # certificates named, but tcp:// ignores them
        ("tcp://127.0.0.1:8786", False, False),  # loopback: rehearsals
        ("tls://10.4.0.7:8786", True, False),
    ],
)
def test_a_remote_dask_scheduler_over_tcp_blocks_sov07(
    write_plan: Writer, scheduler: str, tls: bool, blocked: bool
) -> None:
    def dask(plan: dict[str, Any]) -> None:
        plan["executor"] = {"kind": "dask", "scheduler": scheduler, "allow_insecure": True}
        if tls:
            plan["executor"]["tls"] = {"ca_file": "ca.pem", "cert_file": "c.pem", "key_file": "k"}

    sov07 = [f for f in audit_file(write_plan(dask)) if f.rule == "SOV-07"]
    hits = [f for f in sov07 if f.location.path == "executor.scheduler"]
    assert bool(hits) == blocked
    if blocked:
        assert hits[0].severity == "block" and "tls://" in hits[0].fix


def test_signing_key_in_the_state_directory_blocks_sov10_under_hdh(write_plan: Writer) -> None:
    def unnamed(plan: dict[str, Any]) -> None:
        plan.pop("signing", None)

    sov10 = [f for f in audit_file(write_plan(unnamed)) if f.rule == "SOV-10"]
    assert [f.severity for f in sov10] == ["block"] and "state directory" in sov10[0].why

    def in_state(plan: dict[str, Any]) -> None:
        key = f"{plan['state_dir']}/manifest.pem"
        plan["signing"] = {"kind": "file", "private_key": "${file:" + key + "}"}

    sov10 = [f for f in audit_file(write_plan(in_state)) if f.rule == "SOV-10"]
    assert [f.severity for f in sov10] == ["block"]
    assert sov10[0].location.path == "signing.private_key"

    def hsm(plan: dict[str, Any]) -> None:
        plan["signing"] = {
            "kind": "pkcs11",
            "module": "/usr/lib/softhsm/libsofthsm2.so",
            "token": "hdh-prod",
            "label": "manifest-2026",
            "pin": "${env:HSM_PIN}",
        }

    assert "SOV-10" not in rules_of(audit_file(write_plan(hsm)))

    def rehearsal(plan: dict[str, Any]) -> None:
        unnamed(plan)
        plan["policy"]["profile"] = "rehearsal"

    assert "SOV-10" not in rules_of(audit_file(write_plan(rehearsal)), "block")

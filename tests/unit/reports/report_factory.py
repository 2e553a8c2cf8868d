"""A hand-built audit report with known numbers, for renderer tests."""

from __future__ import annotations

from hdh_migrate.reports.estimates import Pricing, estimate
from hdh_migrate.reports.model import (
    AuditReport,
    DatasetReport,
    Diff,
    FindingRow,
    PlanInfo,
    RuleRow,
)
from hdh_migrate.reports.tally import InventoryTally, RequestTally, Transfer, add_to

MIB = 1 << 20
SIZES = [0, 5, 900, 1500, 70_000, 3 * MIB, 3 * MIB + 1, 9 * MIB]


def dataset(
    name: str, wave: str, sizes: list[int], move: int
) -> tuple[DatasetReport, RequestTally]:
    tally, requests, diff = InventoryTally(), RequestTally(), Diff()
    for i, size in enumerate(sizes):
        key = f"data/{name}/<obj&{i}>.bin"
        tally.add(key, size, None, ["extra:access_tier"] if i % 2 else [])
        if i < move:
            add_to(diff.new, key, size)
            requests.add(size, Transfer(part_size=8 * MIB, multipart_threshold=8 * MIB))
        else:
            add_to(diff.identical, key, size)
            diff.identical_by_journal += 1
    report = DatasetReport(
        name,
        wave,
        f"azurite:c/{name}/",
        f"s3:b/{name}/",
        f"{name}/",
        "listed",
        inventory=tally.finish(),
        diff=diff,
    )
    return report, requests


def sample_report(rehearsal: bool = True, verdict: str = "warn") -> AuditReport:
    one, r1 = dataset("referentiels", "wave-1", SIZES, move=3)
    two, r2 = dataset("dcir", "wave-2", [s * 2 for s in SIZES[2:]], move=6)
    pricing = Pricing(0.02, 0.005, 0.0004, "EUR")
    waves = [
        estimate("wave-1", r1, 100 * MIB, "estimates.bandwidth", pricing),
        estimate("wave-2", r2, 100 * MIB, "estimates.bandwidth", pricing),
    ]
    total = RequestTally()
    total.merge(r1)
    total.merge(r2)
    findings = [
        FindingRow(
            "SOV-07",
            "block" if verdict == "block" else "warn",
            "encryption in transit",
            "tgt",
            "plans/x.yaml",
            31,
            17,
            "targets.tgt.verify_tls",
            "TLS verification is off <script>alert(1)</script>",
            "remove verify_tls",
        ),
        FindingRow(
            "SOV-13",
            "warn",
            "restorability",
            "tgt",
            "plans/x.yaml",
            28,
            13,
            "targets.tgt.bucket",
            "never probed",
            "run probe",
        ),
        FindingRow(
            "POLICY",
            "info",
            "policy settings",
            "",
            "plans/x.yaml",
            5,
            12,
            "policy.profile",
            "REHEARSAL plan",
            "use a production plan",
        ),
    ]
    rules = [
        RuleRow("SOV-07", "encryption in transit", "block", "https only", 1),
        RuleRow("SOV-13", "restorability", "warn", "versioning", 1),
    ]
    return AuditReport(
        tool_version="0.1.0",
        generated_at="2026-11-29T08:00:00+00:00",
        as_of="2026-11-29",
        plan=PlanInfo(
            "sample",
            "plans/x.yaml",
            "ab" * 32,
            "rehearsal" if rehearsal else "hdh",
            rehearsal,
            ".hdh-migrate/sample",
        ),
        verdict=verdict,
        exit_code=3 if verdict == "block" else 0,
        findings=findings,
        rules=rules,
        inventory_mode="full",
        datasets=[one, two],
        waves=waves,
        total=estimate("total", total, 100 * MIB, "estimates.bandwidth", pricing),
        notes=["a note"],
    )

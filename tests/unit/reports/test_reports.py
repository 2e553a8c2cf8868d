"""Renderers and accumulators: JSON schema v1, Markdown, HTML, SARIF, tallies, estimates."""

from __future__ import annotations

import json

from hdh_migrate.reports import render_html, render_json, render_markdown, sarif_log
from hdh_migrate.reports.estimates import Pricing, estimate
from hdh_migrate.reports.tally import (
    EXAMPLES,
    LARGEST,
    InventoryTally,
    RequestTally,
    Transfer,
    bucket_bounds,
    bucket_of,
    stored_size,
)
from tests.unit.reports.report_factory import MIB, SIZES, sample_report

TOP_LEVEL = {
    "schema",
    "tool_version",
    "generated_at",
    "as_of",
    "plan",
    "verdict",
    "exit_code",
    "findings",
    "findings_by_severity",
    "rules",
    "inventory_mode",
    "datasets",
    "waves",
    "total",
    "notes",
}


def test_json_has_the_documented_v1_fields() -> None:
    data = json.loads(render_json(sample_report()))
    assert set(data) == TOP_LEVEL
    assert data["schema"] == "hdh-migrate/audit/v1"
    assert data["findings_by_severity"] == {"block": 0, "warn": 2, "info": 1}
    finding = data["findings"][0]
    assert set(finding) == {
        "rule",
        "severity",
        "title",
        "subject",
        "file",
        "line",
        "column",
        "path",
        "why",
        "fix",
    }
    ds = data["datasets"][0]
    assert set(ds) == {
        "name",
        "wave",
        "source",
        "target",
        "target_prefix",
        "status",
        "note",
        "inventory",
        "diff",
    }
    assert ds["inventory"]["objects"] == len(SIZES)
    assert set(data["total"]) >= {
        "objects",
        "bytes",
        "seconds",
        "puts",
        "gets",
        "heads",
        "egress_cost",
        "request_cost",
        "currency",
    }


def test_histogram_buckets_are_log2_and_contiguous() -> None:
    assert [bucket_of(s) for s in (0, 1, 2, 3, 4, 1023, 1024)] == [0, 1, 2, 2, 3, 10, 11]
    assert bucket_bounds(0) == (0, 1) and bucket_bounds(11) == (1024, 2048)
    tally = InventoryTally()
    for size in SIZES:
        tally.add(f"k{size}", size, None)
    inv = tally.finish()
    assert sum(b.count for b in inv.histogram) == len(SIZES)
    assert sum(b.bytes for b in inv.histogram) == sum(SIZES)
    for bucket in inv.histogram:
        assert bucket.upper == max(1, bucket.lower * 2)
    for size in SIZES:
        (hit,) = [b for b in inv.histogram if b.lower <= size < b.upper]
        assert hit.count >= 1


def test_tallies_stay_bounded() -> None:
    tally = InventoryTally()
    for i in range(5000):
        tally.add(
            f"k{i:05d}",
            i,
            "archive tier: rehydrate" if i % 2 else "too large: x",
            [f"metadata:m{i}"],
        )
    inv = tally.finish()
    assert len(inv.largest) == LARGEST and inv.largest[0].size == 4999
    assert [o.size for o in inv.largest] == sorted((o.size for o in inv.largest), reverse=True)
    assert inv.archive_tier.count == 2500 and len(inv.archive_tier.examples) == EXAMPLES
    assert inv.over_limit.count == 2500
    assert len(inv.metadata_not_carried) == 200 and inv.objects_losing_metadata == 5000


def test_request_counts_follow_multipart_rules() -> None:
    transfer = Transfer(part_size=8 * MIB, multipart_threshold=8 * MIB, verify_share=0.1)
    tally = RequestTally()
    tally.add(1000, transfer)  # single PUT
    tally.add(20 * MIB, transfer)  # create + 3 parts + complete
    assert tally.puts == 1 + 2 + 3
    assert tally.heads == 2 and tally.gets == 2 and tally.total_gets == 2
    assert stored_size(0, transfer) == transfer.header_bytes + 16
    assert tally.stored_bytes == stored_size(1000, transfer) + stored_size(20 * MIB, transfer)


def test_estimate_duration_and_cost() -> None:
    tally = RequestTally()
    tally.add(1024**3, Transfer(part_size=64 * MIB, multipart_threshold=64 * MIB))
    pricing = Pricing(egress_per_gib=0.05, put_per_1000=5.0, get_per_1000=0.4, currency="EUR")
    result = estimate("total", tally, 100 * MIB, "estimates.bandwidth", pricing)
    assert (
        result.seconds is not None and abs(result.seconds - tally.stored_bytes / (100 * MIB)) < 0.01
    )
    assert result.egress_cost == 0.05
    assert result.request_cost == round(tally.puts / 1000 * 5.0 + 1 / 1000 * 0.4, 4)
    unknown = estimate("total", tally, None, "unknown", None)
    assert unknown.seconds is None and unknown.egress_cost is None and unknown.currency is None


def test_markdown_and_html_flag_rehearsal_and_escape_text() -> None:
    md = render_markdown(sample_report(rehearsal=True))
    assert "REHEARSAL" in md and "plans/x.yaml:31:17" in md
    assert (
        "REHEARSAL" not in render_markdown(sample_report(rehearsal=False)).split("## Findings")[0]
    )
    page = render_html(sample_report(rehearsal=True))
    assert 'id="rehearsal-banner"' in page and 'id="chart-waves"' in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "&lt;obj&amp;0&gt;" in page  # object keys are escaped too
    assert "Will not move as is" in page and "extra:access_tier" in page
    assert 'id="rehearsal-banner"' not in render_html(sample_report(rehearsal=False))


def test_sarif_levels_rules_and_fingerprints() -> None:
    log = sarif_log(sample_report(verdict="block"))
    run = log["runs"][0]
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels == {"SOV-07": "error", "SOV-13": "warning", "POLICY": "note"}
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert ids == ["SOV-07", "SOV-13", "POLICY", "CREDENTIALS"]
    prints = [r["partialFingerprints"]["hdhFinding/v1"] for r in run["results"]]
    assert len(set(prints)) == len(prints)
    again = sarif_log(sample_report(verdict="block"))["runs"][0]["results"]
    assert [r["partialFingerprints"] for r in again] == [
        r["partialFingerprints"] for r in run["results"]
    ]


def test_sarif_artifact_uris() -> None:
    from hdh_migrate.reports.sarif import artifact_uri

    assert artifact_uri("plans/x.yaml") == "plans/x.yaml"
    assert artifact_uri("/srv/plans/x.yaml") == "file:///srv/plans/x.yaml"

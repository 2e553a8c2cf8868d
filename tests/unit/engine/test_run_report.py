import json
from datetime import UTC, datetime, timedelta

from hdh_migrate.reports.run_report import DatasetOutcome, RunReport, write_run_report


def test_report_files_hold_totals_rates_and_failed_objects(tmp_path):
    start = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    ok = DatasetOutcome("ds-a", "w1", listed=3, new=3, copied=3, bytes_copied=3 << 20, verified=3)
    bad = DatasetOutcome(
        "ds-b",
        "w1",
        listed=2,
        copied=1,
        bytes_copied=1 << 20,
        verified=1,
        failed=[("x/y.csv", "verification (full) failed: differs")],
    )
    report = RunReport(
        "run", "plan-1", "abcdef0123", start, start + timedelta(seconds=2), True, (ok, bad)
    )
    as_json, as_md = write_run_report(tmp_path, report)
    data = json.loads(as_json.read_text())
    assert data["schema"] == "hdh-migrate/run-report/v1"
    assert data["totals"]["copied"] == 4 and data["totals"]["failed"] == 1
    assert data["totals"]["mib_per_s"] == 2.0 and data["totals"]["objects_per_s"] == 2.0
    text = as_md.read_text()
    assert "REHEARSAL" in text and "`x/y.csv`: verification (full) failed" in text
    assert as_json.parent == tmp_path / "reports" and as_json.stem == as_md.stem

"""`hdh-migrate audit` and the `run` gate without servers: policy-only audits (offline),
exit codes, every output format, SARIF locations, and `run` refusing a blocking plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hdh_migrate.cli.main import run as cli

# plans/rehearsal.yaml is portable: its endpoints and ports come from the environment.
pytestmark = pytest.mark.usefixtures("devstack_env")

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "policy"
REHEARSAL = REPO / "plans" / "rehearsal.yaml"


@pytest.mark.parametrize(
    ("plan", "rule"),
    [
        ("ovh-public-cloud-gra.yaml", "SOV-02"),
        ("ovh-public-cloud-bhs.yaml", "SOV-01"),
        ("no-client-side-encryption.yaml", "SOV-09"),
        ("tls-verification-off.yaml", "SOV-07"),
    ],
)
def test_example_plans_exit_3_with_their_blocking_rule(
    plan: str, rule: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli(["audit", str(EXAMPLES / plan), "--no-inventory", "--format", "json"])
    out = capsys.readouterr()
    assert code == 3
    report = json.loads(out.out)
    assert report["schema"] == "hdh-migrate/audit/v1"
    assert report["verdict"] == "block" and report["exit_code"] == 3
    assert any(f["rule"] == rule and f["severity"] == "block" for f in report["findings"])
    assert "blocking finding" in out.err and "Traceback" not in out.err


def test_rehearsal_plan_exits_0_and_says_rehearsal_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sarif = tmp_path / "audit.sarif"
    for fmt in ("table", "json", "md", "html"):
        out = tmp_path / f"audit.{fmt}"
        code = cli(
            [
                "audit",
                str(REHEARSAL),
                "--no-inventory",
                "--format",
                fmt,
                "--out",
                str(out),
                "--sarif",
                str(sarif),
            ]
        )
        assert code == 0, capsys.readouterr().err
        assert "REHEARSAL" in out.read_text("utf-8"), fmt
    log = json.loads(sarif.read_text("utf-8"))
    assert log["runs"][0]["properties"]["rehearsal"] is True
    assert {r["level"] for r in log["runs"][0]["results"]} <= {"warning", "note"}


def test_sarif_points_at_the_plan_lines(tmp_path: Path) -> None:
    sarif = tmp_path / "a.sarif"
    plan = EXAMPLES / "tls-verification-off.yaml"
    assert (
        cli(
            [
                "audit",
                str(plan),
                "--no-inventory",
                "--format",
                "json",
                "--out",
                str(tmp_path / "a.json"),
                "--sarif",
                str(sarif),
            ]
        )
        == 3
    )
    log = json.loads(sarif.read_text("utf-8"))
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert {"SOV-01", "SOV-16", "POLICY"} <= {r["id"] for r in rules}
    assert "SOV-11" not in {r["id"] for r in rules}
    tls = [r for r in run["results"] if r["ruleId"] == "SOV-07"]
    assert tls and tls[0]["level"] == "error"
    region = tls[0]["locations"][0]["physicalLocation"]["region"]
    line = next(
        n for n, text in enumerate(plan.read_text().splitlines(), 1) if "verify_tls: false" in text
    )
    assert region == {"startLine": line, "startColumn": 17}
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(
            "tls-verification-off.yaml"
        )


def test_as_of_judges_evidence_age(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "s3ns.yaml"
    text = (REPO / "examples" / "s3ns.yaml").read_text("utf-8")
    plan.write_text(text, "utf-8")
    cli(["audit", str(plan), "--no-inventory", "--format", "json", "--as-of", "2026-12-01"])
    fresh = json.loads(capsys.readouterr().out)
    cli(["audit", str(plan), "--no-inventory", "--format", "json", "--as-of", "2029-01-01"])
    stale = json.loads(capsys.readouterr().out)
    assert not any(f["rule"] == "SOV-02" for f in fresh["findings"])
    assert any(f["rule"] == "SOV-02" and f["severity"] == "block" for f in stale["findings"])
    assert stale["as_of"] == "2029-01-01"
    assert cli(["audit", str(plan), "--as-of", "tomorrow"]) == 2


def test_run_refuses_a_blocking_plan_before_creating_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (EXAMPLES / "tls-verification-off.yaml").read_text("utf-8")
    state = tmp_path / "state"
    plan = tmp_path / "plan.yaml"
    plan.write_text(text + f"\nstate_dir: {state}\n", "utf-8")
    code = cli(["run", str(plan)])
    err = capsys.readouterr().err
    assert code == 3
    assert "SOV-" in err and "--override-policy" in err and "plan.yaml:" in err
    assert not state.exists()
    assert cli(["run", str(plan), "--override-policy", "no"]) == 3  # a reason is required
    assert not state.exists()


def test_audit_creates_no_state_directory(tmp_path: Path) -> None:
    state = tmp_path / "never"
    plan = tmp_path / "plan.yaml"
    plan.write_text(REHEARSAL.read_text("utf-8") + f"\nstate_dir: {state}\n", "utf-8")
    assert (
        cli(
            [
                "audit",
                str(plan),
                "--no-inventory",
                "--format",
                "json",
                "--out",
                str(tmp_path / "r.json"),
            ]
        )
        == 0
    )
    assert not state.exists()


@pytest.mark.parametrize("fmt", ["table", "html"])
def test_out_creates_its_directory_and_an_unwritable_one_is_one_line(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "not" / "yet" / f"audit.{fmt}"
    assert cli(["audit", str(REHEARSAL), "--no-inventory", "--format", fmt, "--out", str(out)]) == 0
    assert out.stat().st_size > 0
    capsys.readouterr()
    blocked = tmp_path / "file"
    blocked.write_text("a file, not a directory")
    code = cli(["audit", str(REHEARSAL), "--no-inventory", "--out", str(blocked / "a.txt")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot write" in err and "Traceback" not in err
    lines = err.strip().splitlines()  # the resolved endpoints first, then the one-line error
    assert [line for line in lines if not line.startswith("endpoint ")] == [lines[-1]]
    assert lines[-1].startswith("error: cannot write")

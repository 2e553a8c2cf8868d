"""``hdh-migrate validate``: the summary, --json, warnings, unreadable files."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from hdh_migrate.cli.main import run

WritePlan = Callable[[str], Path]


def test_summary_names_counts_and_secret_references(
    minimal_text: str, write_plan: WritePlan, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["validate", str(write_plan(minimal_text))]) == 0

    out = capsys.readouterr().out
    assert (
        "plan unit-plan is valid: 1 wave(s), 2 dataset(s), 1 source(s), 1 target(s), 2 key(s)"
        in (" ".join(out.split()))
    )
    assert "${env:OVH_S3_ACCESS_KEY}" in out and "${env:HSM_PIN}" in out


def test_json_summary(
    minimal_text: str, write_plan: WritePlan, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["validate", str(write_plan(minimal_text)), "--json"]) == 0

    report = json.loads(capsys.readouterr().out)
    summary = report["summary"]
    assert report["valid"] is True and report["errors"] == []
    assert summary["counts"] == {"waves": 1, "datasets": 2, "sources": 1, "targets": 1, "keys": 2}
    assert summary["sources"] == {"azure": "azure_blob"}
    assert summary["keys"] == {"kek": "file", "hsm": "pkcs11"}
    assert summary["targets"]["snc"]["region"] == "eu-west-rbx-snc"
    datasets = summary["waves"][0]["datasets"]
    assert [(d["name"], d["key"], d["verify"], d["location"]) for d in datasets] == [
        ("ir-referentiels", "kek", "sample:5%", "snds"),
        ("dcir-2019", "hsm", "full", "dcir"),
    ]
    assert summary["secrets"] == [
        "${env:AZURE_STORAGE_SAS}",
        "${env:HSM_PIN}",
        "${env:OVH_S3_ACCESS_KEY}",
        "${file:/etc/hdh/ovh-secret}",
    ]
    assert summary["warnings"] == []


def test_secret_values_are_never_printed(
    minimal_text: str,
    write_plan: WritePlan,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HSM_PIN", "987654-pin-value")
    path = write_plan(minimal_text)

    assert run(["validate", str(path)]) == 0
    assert run(["validate", str(path), "--json"]) == 0

    captured = capsys.readouterr()
    assert "987654-pin-value" not in captured.out + captured.err


def test_warnings_are_reported_and_exit_0(
    minimal_text: str, write_plan: WritePlan, capsys: pytest.CaptureFixture[str]
) -> None:
    text = minimal_text.replace(
        "    bucket: hdh-snds\n", "    bucket: hdh-snds\n    verify_tls: false\n"
    )

    assert run(["validate", str(write_plan(text)), "--json"]) == 0

    warnings = json.loads(capsys.readouterr().out)["summary"]["warnings"]
    assert [(w["path"], w["line"]) for w in warnings] == [("targets.snc.verify_tls", 15)]


def test_rehearsal_plan_warns_on_stderr(
    capsys: pytest.CaptureFixture[str], devstack_env: None
) -> None:
    plan = Path(__file__).resolve().parents[3] / "plans" / "rehearsal.yaml"

    assert run(["validate", str(plan)]) == 0

    assert "warning:" in capsys.readouterr().err


@pytest.mark.parametrize("as_json", [False, True])
def test_missing_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], as_json: bool
) -> None:
    argv = ["validate", str(tmp_path / "absent.yaml")] + (["--json"] if as_json else [])

    assert run(argv) == 2

    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "not found" in captured.err
    if as_json:
        report = json.loads(captured.out)
        assert report["valid"] is False and report["errors"][0]["line"] is None


def test_binary_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "plan.yaml"
    path.write_bytes(bytes(range(256)))

    assert run(["validate", str(path)]) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}:1:1: not a text file" in err


def test_unreadable_file_exits_2(
    minimal_text: str, write_plan: WritePlan, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_plan(minimal_text)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("this user reads mode-000 files (root)")
        assert run(["validate", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "not readable" in err
    finally:
        path.chmod(0o600)


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["validate", "--help"]) == 0
    assert "hdh-migrate validate plans/rehearsal.yaml" in capsys.readouterr().out
    assert run(["schema", "--help"]) == 0
    assert "hdh-migrate schema --out plans/plan.schema.json" in capsys.readouterr().out


def test_every_error_is_listed_with_its_position_and_fix(
    minimal_text: str, write_plan: WritePlan, capsys: pytest.CaptureFixture[str]
) -> None:
    text = minimal_text.replace("target: snc", "target: nowhere")
    text = text.replace("  concurrency:", "  concurrency: -3\n  ignored:", 1)
    text += "bogus_top_level: 1\n"
    path = write_plan(text)
    assert run(["validate", str(path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:") and f"{path}:" in line]
    assert len(errors) >= 3, lines
    assert all(line.split(f"{path}:")[1].split(":")[0].isdigit() for line in errors)
    assert lines[-1].startswith("error: ") and f"errors in {path}" in lines[-1]

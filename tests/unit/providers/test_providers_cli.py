"""``hdh-migrate providers`` and ``providers show`` through the real CLI entry point."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hdh_migrate.cli.main import run
from hdh_migrate.providers import preset_names


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Any:
    assert run(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_list_table_names_every_preset(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["providers"]) == 0
    out = capsys.readouterr().out
    for name in preset_names():
        assert name in out
    assert "7 EU, 8 non-EU" in out  # ovh (uk is not EU)
    assert "2025-12-01" in out
    assert "not available" in out  # the source note


def test_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, ["providers", "--json", "--as-of", "2026-11-29"])
    rows = {row["name"]: row for row in data["presets"]}
    assert list(rows) == preset_names()
    assert data["as_of"] == "2026-11-29"
    assert rows["ovh"]["regions"] == {"eu": 7, "non_eu": 8, "any": False}
    assert rows["ovh"]["qualification"] == [{"status": "not_qualified", "regions": _ovh_all()}]
    assert rows["s3ns"]["qualified_regions"] == ["u-france-east1"]
    assert rows["s3ns"]["evidence_date"] == "2025-12-01"
    assert rows["minio"]["qualification"] == [{"status": "rehearsal_only", "regions": []}]
    assert rows["generic"]["regions"]["any"] is True
    assert {g["status"] for g in rows["outscale"]["qualification"]} == {"claimed", "not_qualified"}


def _ovh_all() -> list[str]:
    from hdh_migrate.providers import get_preset

    return list(get_preset("ovh").regions)


def test_list_json_judges_staleness_on_as_of(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, ["providers", "--json", "--as-of", "2029-01-01"])
    s3ns = next(row for row in data["presets"] if row["name"] == "s3ns")
    assert s3ns["qualified_regions"] == []


def test_show_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["providers", "show", "cloud-temple"]) == 0
    out = capsys.readouterr().out
    assert "https://{namespace}.s3.fr1.cloud-temple.com" in out
    assert "payload-signing-off" in out and "path" in out
    assert "SSE-C no" in out
    assert "evidence for cloud-temple-object-storage (claimed) is undated" in out


def test_show_table_warns_on_stale_evidence(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["providers", "show", "s3ns", "--as-of", "2029-06-01"]) == 0
    out = capsys.readouterr().out
    assert "stale" in out and "is older than 3 years" in out
    assert run(["providers", "show", "s3ns", "--as-of", "2026-06-01"]) == 0
    assert "stale" not in capsys.readouterr().out


def test_show_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, ["providers", "show", "ovh", "--json", "--as-of", "2026-11-29"])
    assert data["endpoint_template"] == "https://s3.{region}.io.cloud.ovh.net"
    regions = {r["name"]: r for r in data["regions"]}
    assert regions["gra"]["eu"] is True and regions["gra"]["status"] == "not_qualified"
    assert regions["bhs"]["eu"] is False and regions["sgp"]["country"] == "SG"
    assert regions["us-east-va"]["endpoint_template"].endswith(".ovh.us")
    assert regions["gra"]["qualified"] is False
    assert data["limits"]["max_part_count"] == 10000
    assert data["sse"]["sse_kms"] == "no"
    assert data["registry_updated"]


def test_show_json_age(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, ["providers", "show", "s3ns", "--json", "--as-of", "2025-12-11"])
    region = data["regions"][0]
    assert (region["evidence_age_days"], region["stale"], region["qualified"]) == (10, False, True)


def test_show_rehearsal_preset(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["providers", "show", "seaweedfs"]) == 0
    out = capsys.readouterr().out
    assert "explicit endpoint required" in out and "Rehearsal only" in out


def test_show_unknown_name_exits_2_with_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["providers", "show", "scaleway-fr"]) == 2
    captured = capsys.readouterr()
    assert "did you mean 'scaleway'?" in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


def test_bad_as_of_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["providers", "--as-of", "tomorrow"]) == 2
    assert "--as-of expects a date" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["providers", "--help"], ["providers", "show", "--help"]])
def test_help_has_examples(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert run(argv) == 0
    out = capsys.readouterr().out
    assert "Examples" in out and "hdh-migrate providers" in out

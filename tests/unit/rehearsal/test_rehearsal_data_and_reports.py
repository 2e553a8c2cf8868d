"""Synthetic data shaped per dataset, and the JUnit / Markdown reports of a rehearsal."""

from __future__ import annotations

import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hdh_migrate.cli.main import run
from hdh_migrate.crypto.format import DEFAULT_SEGMENT_SIZE
from hdh_migrate.engine.rehearsal.derive import Options
from hdh_migrate.engine.rehearsal.junit import junit_xml, markdown_summary, md
from hdh_migrate.engine.rehearsal.lifecycle import Rehearsal, Settings, StepResult
from hdh_migrate.engine.rehearsal.synthetic import (
    default_mix,
    edge_cases,
    from_inventory,
    shaped,
)

MIB = 1 << 20


def test_every_dataset_gets_the_edge_cases() -> None:
    objects = dict(edge_cases(8 * MIB, 16 * MIB))
    sizes = set(objects.values())
    seg = DEFAULT_SEGMENT_SIZE
    assert {0, 1, seg - 1, seg, seg + 1, 8 * MIB - 1, 8 * MIB + 1, 16 * MIB - 1} <= sizes
    keys = list(objects)
    nfc = next(k for k in keys if "/nfc/" in k)
    nfd = next(k for k in keys if "/nfd/" in k)
    assert unicodedata.is_normalized("NFC", nfc) and not unicodedata.is_normalized("NFC", nfd)
    assert any(" " in k for k in keys) and any("%" in k for k in keys)
    assert any("+" in k for k in keys) and any("#" in k for k in keys)
    assert max(len(k.encode()) for k in keys) > 850
    assert max(k.count("/") for k in keys) >= 16
    assert all(len(part.encode()) < 255 for k in keys for part in k.split("/"))


def test_names_follow_include_and_excludes_are_exercised() -> None:
    made = shaped(
        edge_cases(8 * MIB, 16 * MIB) + default_mix(5), ["*.parquet", "*.csv.gz"], ["*.tmp"]
    )
    kept = [o for o in made if o.selected]
    dropped = [o for o in made if not o.selected]
    assert len(kept) == len(made) - 1
    assert all(o.key.endswith(".parquet") for o in kept)
    assert [o.key for o in dropped] == ["markers/x0.tmp"]


def test_an_audit_inventory_shapes_the_sizes() -> None:
    audit = {
        "datasets": [
            {
                "name": "ds",
                "inventory": {
                    "histogram": [
                        {"lower": 0, "upper": 1, "count": 10, "bytes": 0},
                        {"lower": 1024, "upper": 2048, "count": 1000, "bytes": 1500 * 1000},
                        {"lower": 1 << 30, "upper": 1 << 31, "count": 2, "bytes": 3 << 30},
                    ]
                },
            }
        ]
    }
    made = from_inventory(audit, "ds", max_objects=101, max_size=4 * MIB)
    assert made is not None
    sizes = [size for _, size in made]
    assert sizes.count(0) == 1 and sizes.count(1500) == 100 and sizes.count(4 * MIB) == 1
    assert from_inventory(audit, "other", 10, MIB) is None


HOSTILE = 'k]]></failure><x a="1">|`<script>`\x1b[31m'


def test_junit_names_the_failing_step_and_object() -> None:
    results = [
        StepResult("run", "passed", 1.5, "84 copied"),
        StepResult("verify-full", "failed", 0.5, "1 object(s) failed", HOSTILE, 4),
        StepResult("manifest-verify", "skipped", message="not run: verify-full failed"),
    ]
    suite = ET.fromstring(junit_xml("plan.yaml", results)).find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == ["run", "verify-full", "manifest-verify"]
    failure = cases["verify-full"].find("failure")
    assert failure is not None
    message = failure.get("message") or ""
    assert message.startswith("step verify-full failed (object: k]]></failure><x a=")
    assert "\x1b" not in message
    assert cases["manifest-verify"].find("skipped") is not None


def test_markdown_summary_escapes_keys() -> None:
    results = [StepResult("verify-full", "failed", 0.5, "mismatch", HOSTILE, 4)]
    text = markdown_summary("plan.yaml", results, ["note <b>"], ["hook | x"])
    assert "**FAILED** at step `verify-full`" in text
    assert "<script>" not in text and "\\<script\\>" in text
    assert "\\|" in text and "\x1b" not in text
    assert md("a|b") == "a\\|b"


def test_an_unexpected_error_is_a_failed_step_and_the_rest_is_skipped(tmp_path: Path) -> None:
    def boom() -> str:
        raise RuntimeError("boom\nsecond line")

    settings = Settings(tmp_path / "plan.yaml", Options(work=tmp_path))
    rehearsal = Rehearsal(settings)
    rehearsal._derive = boom  # type: ignore[method-assign]
    results = rehearsal.run()
    assert (results[0].name, results[0].status, results[0].exit_code) == ("derive", "failed", 1)
    assert results[0].message.startswith("internal error: RuntimeError: boom — rerun with")
    assert {r.status for r in results[1:]} == {"skipped"} and len(results) == 13
    assert [r.name for r in results[-2:]] == ["evidence-export", "evidence-verify"]
    loud = Rehearsal(settings, reraise=True)
    loud._derive = boom  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        loud.run()


def test_decommission_needs_finalize(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["rehearse", str(tmp_path / "plan.yaml"), "--decommission"])
    assert code == 2 and "--decommission needs --finalize" in capsys.readouterr().err
    code = run(["rehearse", str(tmp_path / "plan.yaml"), "--signing", "vault"])
    assert code == 2 and "--signing 'vault'" in capsys.readouterr().err

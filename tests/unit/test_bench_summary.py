"""bench.summary --medians: medians of per-run ratios, over the runs where a row passed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import summary
from bench.report import ratios, table
from bench.suites import Row

MIB = 1 << 20


def run(hdh_s: float, rclone_s: float, load: float, *, hdh_ok: bool = True) -> list[Row]:
    return [
        Row("copy", "seed (azure SDK)", "-", 4, 256 * MIB, 5.0, 0, True, load=load),
        Row(
            "copy",
            "hdh-migrate",
            "verify metadata",
            4,
            256 * MIB,
            hdh_s,
            200 * MIB,
            hdh_ok,
            load=load,
            cpu_s=hdh_s / 2,
        ),
        Row(
            "copy",
            "rclone",
            "plain, check size+md5",
            4,
            256 * MIB,
            rclone_s,
            300 * MIB,
            True,
            load=load,
            cpu_s=1.0,
        ),
    ]


def test_ratios_are_against_rclone_of_the_same_run_and_none_for_the_seed() -> None:
    assert ratios(run(20.0, 10.0, 1.0)) == [None, 0.5, 1.0]
    assert "| 0.50 |" in table(run(20.0, 10.0, 1.0))


def test_medians_take_each_runs_own_ratio_and_skip_failed_rows() -> None:
    runs = [
        run(20.0, 10.0, 0.5),
        run(10.0, 10.0, 1.5),
        run(10.0, 20.0, 0.9),
        run(1.0, 20.0, 3.0, hdh_ok=False),
    ]
    lines = summary.medians(runs).splitlines()
    hdh = next(line for line in lines if "| hdh-migrate |" in line)
    cells = [c.strip() for c in hdh.strip("|").split("|")]
    # runs, seconds, MiB/s, obj/s, RSS, ×rclone, CPU s/GiB, CPU ms/obj, load range
    assert cells[3:] == ["3", "10.0", "25.6", "0", "200", "1.00", "20.0", "1250.00", "0.5–1.5"]
    rclone = next(line for line in lines if "| rclone |" in line)
    assert "| 4 |" in rclone and "0.5–3.0" in rclone


def test_main_reads_files_and_prints_one_medians_table_per_suite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = []
    for n, rclone_s in enumerate((10.0, 20.0, 40.0)):
        path = tmp_path / f"copy-{n}.json"
        path.write_text(
            json.dumps({"suite": "copy", "rows": [r.to_dict() for r in run(20.0, rclone_s, 1.0)]})
        )
        paths.append(str(path))
    assert summary.main(["--medians", *paths]) == 0
    out = capsys.readouterr().out
    assert "copy: medians of 3 run(s)" in out
    assert "| hdh-migrate | verify metadata | 3 | 20.0 |" in out and "| 1.00 |" in out

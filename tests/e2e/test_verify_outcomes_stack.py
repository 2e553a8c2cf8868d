"""`verify` on the real stack: a wrong KEK or a target that stops answering never marks a
good object failed, and the next run uploads nothing again (issue 18 items 1 and 8)."""

from __future__ import annotations

import json
import os

import pytest

from hdh_migrate.keys import generate_key_file

pytestmark = pytest.mark.stack


def seeded_and_run(world) -> int:
    for n in range(6):
        world.put(f"data/f{n}.bin", os.urandom(3000 + n))
    first = world.cli("run", str(world.plan))
    assert first.returncode == 0, first.stderr
    return 6


def states(world) -> dict:
    shown = world.cli("status", str(world.plan), "--json")
    assert shown.returncode == 0, shown.stderr
    ds = json.loads(shown.stdout)["waves"]
    return {s: v["objects"] for w in ds.values() for d in w.values() for s, v in d["items"].items()}


def variant(world, *changes: tuple[str, str]):
    text = world.plan.read_text()
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    other = world.plan.with_name("variant.yaml")
    other.write_text(text)
    return other


def test_a_wrong_kek_exits_7_and_marks_nothing(world):
    count = seeded_and_run(world)
    wrong = world.plan.parent / "wrong.key"
    generate_key_file(wrong)
    plan = variant(world, (str(world.plan.parent / "kek.key"), str(wrong)))
    for mode in ("full", "header"):
        check = world.cli("verify", str(plan), "--mode", mode)
        assert check.returncode == 7, check.stderr
        assert len(check.stderr.strip().splitlines()) == 1 and "Traceback" not in check.stderr
        assert states(world) == {"verified": count}
    before = world.target_etags()
    again = world.cli("run", str(world.plan))
    assert again.returncode == 0, again.stderr
    assert world.target_etags() == before


def test_a_target_that_stops_answering_leaves_objects_verified_exit_5(world, stack):
    count = seeded_and_run(world)
    plan = variant(
        world,
        (f"endpoint: {stack.s3_endpoint}", "endpoint: http://127.0.0.1:9"),
        ("concurrency: 4", "concurrency: 4, retries: 0"),  # the dead target, fast
    )
    check = world.cli("verify", str(plan), "--mode", "full")
    assert check.returncode in (5, 8), check.stderr  # unverifiable (or the run stopped: 8)
    assert "not verified" in check.stderr or check.returncode == 8
    assert states(world) == {"verified": count}
    before = world.target_etags()
    again = world.cli("run", str(world.plan))
    assert again.returncode == 0, again.stderr
    assert world.target_etags() == before
    assert world.cli("verify", str(world.plan), "--mode", "full").returncode == 0

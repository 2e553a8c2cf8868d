"""The audit on the real stack (Azurite → SeaweedFS): it writes nothing anywhere, and its
diff and estimates match what was done. Also: `run --override-policy` records the override."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.stack_world import World, make_world

pytestmark = pytest.mark.stack
MIB = 1 << 20


@pytest.fixture
def world(stack: Any, tmp_path: Path, unique_name: str) -> Any:
    made = make_world(stack, tmp_path, unique_name)
    yield made
    made.source.delete_container()
    made.target.delete_bucket(force=True)


def snapshot(world: World) -> dict[str, Any]:
    """Every object (key → ETag) of the container and the bucket, and every state file's
    bytes digest and mtime."""
    files = {}
    for path in sorted(world.state.rglob("*")) if world.state.exists() else []:
        if path.is_file():
            stat = path.stat()
            files[str(path)] = (hashlib.sha256(path.read_bytes()).hexdigest(), stat.st_mtime_ns)
    return {
        "source": {i.key: i.etag for i in world.source.list("")},
        "target": {i.key: i.etag for i in world.target.list("")},
        "state": files,
    }


def audit_json(world: World, plan: Path, out: Path) -> dict[str, Any]:
    done = world.cli(
        "audit",
        str(plan),
        "--format",
        "json",
        "--out",
        str(out),
        "--sarif",
        str(out.with_suffix(".sarif")),
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(out.read_text("utf-8"))
    return report


def test_audit_writes_nothing_and_diffs_source_target_and_journal(
    world: World, tmp_path: Path
) -> None:
    sizes = {"a.bin": 1000, "b.bin": 3 * MIB, "c.bin": 7 * MIB + 5}
    for rel, size in sizes.items():
        world.put("data/" + rel, os.urandom(size))
    world.put("other/outside.bin", b"not selected")
    first = world.cli("run", str(world.plan))
    assert first.returncode == 0, first.stderr
    world.put("data/b.bin", os.urandom(2 * MIB))  # changed (size and ETag)
    world.put("data/d.bin", os.urandom(12345))  # new
    extra = b"left over"
    world.target.write("enc/zz-extra.bin", io.BytesIO(extra), len(extra))

    before = snapshot(world)
    assert any(name.endswith("journal.sqlite") for name in before["state"])
    report = audit_json(world, world.plan, tmp_path / "audit.json")
    assert snapshot(world) == before  # nothing written: objects, ETags, journal, state files

    (ds,) = report["datasets"]
    assert ds["status"] == "listed"
    inv, diff = ds["inventory"], ds["diff"]
    assert inv["objects"] == 4
    assert inv["bytes"] == 1000 + 2 * MIB + 7 * MIB + 5 + 12345
    assert sum(b["count"] for b in inv["histogram"]) == 4
    assert inv["largest"][0] == {"key": "data/c.bin", "size": 7 * MIB + 5, "note": ""}
    assert [e["key"] for e in diff["new"]["examples"]] == ["data/d.bin"]
    assert [e["key"] for e in diff["changed"]["examples"]] == ["data/b.bin"]
    assert diff["identical"]["count"] == 2 and diff["identical_by_journal"] == 2
    assert [e["key"] for e in diff["extra_on_target"]["examples"]] == ["enc/zz-extra.bin"]
    total = report["total"]
    assert total["objects"] == 2 and total["bytes"] == 2 * MIB + 12345
    assert total["puts"] == 2 and total["heads"] == 2  # both below the 6 MiB threshold
    assert total["gets"] == 4  # two source reads + two full read-backs (verify: full)
    assert report["verdict"] == "warn" and report["plan"]["rehearsal"] is True

    page = tmp_path / "audit.html"
    done = world.cli("audit", str(world.plan), "--format", "html", "--out", str(page))
    assert done.returncode == 0, done.stderr
    html = page.read_text("utf-8")
    for chart in ("chart-sizes-0", "chart-waves"):
        svg = html.split(f'id="{chart}"', 1)[1].split("</svg>", 1)[0]
        values = [int(v) for v in re.findall(r'data-value="(\d+)"', svg)]
        assert values and max(values) > 0, chart
    assert snapshot(world) == before


def test_without_a_journal_the_target_metadata_decides(world: World, tmp_path: Path) -> None:
    for rel, size in {"a.bin": 2000, "c.bin": 7 * MIB}.items():
        world.put("data/" + rel, os.urandom(size))
    assert world.cli("run", str(world.plan)).returncode == 0
    world.put("data/a.bin", os.urandom(2100))
    fresh = tmp_path / "fresh-state"
    plan = tmp_path / "no-journal.yaml"
    plan.write_text(world.plan.read_text("utf-8").replace(str(world.state), str(fresh)))
    before = snapshot(world)
    report = audit_json(world, plan, tmp_path / "fresh.json")
    assert snapshot(world) == before
    assert not fresh.exists()  # the audit never creates a state directory
    diff = report["datasets"][0]["diff"]
    assert diff["identical_by_target"] == 1 and diff["identical_by_journal"] == 0
    assert [e["key"] for e in diff["changed"]["examples"]] == ["data/a.bin"]


def test_unreachable_source_is_reported_not_fatal(world: World, tmp_path: Path) -> None:
    plan = tmp_path / "gone.yaml"
    text = world.plan.read_text("utf-8")
    plan.write_text(text.replace(f"container: {world.name}", "container: no-such-container-x1"))
    report = audit_json(world, plan, tmp_path / "gone.json")
    assert report["datasets"][0]["status"] == "unreachable"
    assert report["datasets"][0]["note"]
    assert report["exit_code"] == 0  # the verdict stays the policy's


def test_run_override_is_printed_and_recorded(world: World, tmp_path: Path) -> None:
    world.put("data/x.bin", b"x" * 100)
    plan = tmp_path / "hdh.yaml"
    plan.write_text(world.plan.read_text("utf-8").replace("profile: rehearsal", "profile: hdh"))
    refused = world.cli("run", str(plan))
    assert refused.returncode == 3, refused.stderr
    assert not (world.state / "manifest.jsonl").exists()
    reason = "rehearsal of the override path, ticket T-1"
    done = world.cli("run", str(plan), "--override-policy", reason)
    assert done.returncode == 0, done.stderr
    assert "POLICY OVERRIDE" in done.stderr and reason in done.stderr
    lines = (world.state / "manifest.jsonl").read_text("utf-8").splitlines()
    runs = [json.loads(line) for line in lines if '"type":"run"' in line]
    assert len(runs) == 1  # the override is in the run's own record, not a second one
    first = runs[0]
    assert json.loads(lines[0])["type"] == "run"
    assert first["policy_override"]["reason"] == reason
    assert "SOV-02" in first["policy_override"]["rules"]
    check = world.cli(
        "manifest", "verify", str(world.state / "manifest.jsonl"), "--trust-adjacent-key"
    )
    assert check.returncode == 0, check.stderr


def test_unreachable_target_keeps_the_source_inventory(world: World, tmp_path: Path) -> None:
    world.put("data/a.bin", b"a" * 10)
    plan = tmp_path / "closed.yaml"
    text = world.plan.read_text("utf-8")
    closed = re.sub(r"endpoint: http://127\.0\.0\.1:\d+", "endpoint: http://127.0.0.1:9", text)
    assert closed != text  # the stack's own port, whatever the offset
    plan.write_text(closed)
    report = audit_json(world, plan, tmp_path / "closed.json")
    (ds,) = report["datasets"]
    assert ds["status"] == "listed" and ds["inventory"]["objects"] == 1
    assert ds["diff"]["target_listed"] is False
    assert any("target not listed" in note for note in ds["diff"]["notes"])
    assert ds["diff"]["new"]["count"] == 1

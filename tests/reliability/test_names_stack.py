"""Names SeaweedFS cannot hold under their own name (issue 18 item 6), end to end: ``audit``
counts them, ``run`` refuses them one by one (exit 5, each named) and never lets one key
overwrite another's object at the target."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.crypto import DecryptingReader
from hdh_migrate.keys import FileKeyProvider
from tests.e2e.stack_world import World, make_world

pytestmark = pytest.mark.stack

LONG = "d/" + "s" * 300 + ".bin"
REFUSED = {f"data/{k}" for k in ("a//b.txt", "x/", LONG)}


@pytest.fixture
def world(stack: Any, tmp_path: Path, unique_name: str) -> Any:
    made = make_world(stack, tmp_path, unique_name)
    yield made
    made.source.delete_container()
    made.target.delete_bucket(force=True)


def test_names_the_target_folds_are_refused_by_name_and_never_overwrite(world: World) -> None:
    data = {k: os.urandom(100 + i) for i, k in enumerate(["a/b.txt", "a//b.txt", "x", "x/", LONG])}
    for key, body in data.items():
        world.put("data/" + key, body)

    out = world.plan.parent / "audit.json"
    audit = world.cli("audit", str(world.plan), "--format", "json", "--out", str(out))
    assert audit.returncode == 0, audit.stderr[-1500:]
    (ds,) = json.loads(out.read_text("utf-8"))["datasets"]
    bad = ds["inventory"]["bad_names"]
    assert bad["count"] == 3, bad  # was 0: "bad names 0", then KeyTooLongError at copy
    assert {e["key"] for e in bad["examples"]} == REFUSED

    run = world.cli("run", str(world.plan))
    assert run.returncode == 5, run.stderr[-1500:]
    assert "3 object(s) failed" in run.stderr and "data/a//b.txt" in run.stderr
    stored = set(world.target_etags())
    assert stored == {"enc/a/b.txt", "enc/x"}  # each written once, by its own source object
    assert decrypt(world, "a/b.txt") == data["a/b.txt"]
    assert decrypt(world, "x") == data["x"]
    again = world.cli("run", str(world.plan))
    assert again.returncode == 5 and set(world.target_etags()) == stored


def decrypt(world: World, rel: str) -> bytes:
    provider = FileKeyProvider(world.plan.parent / "kek.key")
    with world.target.open_read("enc/" + rel) as raw:
        return bytes(DecryptingReader(raw, provider, f"ds/{rel}").read())


def test_the_probe_teaches_the_audit_and_the_run_what_the_preset_does_not_say(
    world: World,
) -> None:
    """A ``generic`` target (no key rules in its preset): a 300-byte path segment passes
    the audit until ``probe`` measured SeaweedFS's 255-byte limit; then the audit counts it
    and the run refuses it by name before anything is copied."""
    world.plan.write_text(
        world.plan.read_text().replace("provider: seaweedfs", "provider: generic")
    )
    for i, key in enumerate(["a/b.txt", LONG]):
        world.put("data/" + key, os.urandom(100 + i))
    out = world.plan.parent / "audit.json"

    def bad_names() -> set[str]:
        audit = world.cli("audit", str(world.plan), "--format", "json", "--out", str(out))
        assert audit.returncode == 0, audit.stderr[-1500:]
        (ds,) = json.loads(out.read_text("utf-8"))["datasets"]
        return {e["key"] for e in ds["inventory"]["bad_names"]["examples"]}

    assert bad_names() == set()  # the preset knows nothing of segments
    probe = world.cli("probe", str(world.plan), "--json")
    assert probe.returncode == 0, probe.stderr[-1500:]
    rules = json.loads((world.state / "probe" / "seaweedfs.json").read_text("utf-8"))["key_rules"]
    assert rules == {
        "empty_segments": "folds",
        "trailing_slash": "folds",
        "case": "sensitive",
        "normalisation": "none",
        "max_segment_bytes": 255,
        "max_key_bytes": 1024,
    }
    assert bad_names() == {"data/" + LONG}
    run = world.cli("run", str(world.plan))
    assert run.returncode == 5 and "data/" + LONG in run.stderr, run.stderr[-1500:]
    assert set(world.target_etags()) == {"enc/a/b.txt"}

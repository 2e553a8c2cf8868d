"""Decommissioning a finalized wave on the real stack (Azurite source with blob leases,
SeaweedFS target): refused before finalize and for an object without a verified copy,
a dry run deletes nothing, then the source is deleted, checked empty with the Azure SDK
directly, the signed record is in the manifest, and SOV-15 passes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from hdh_migrate.journal import DatasetState
from tests.integration.test_cutover import World, _ok, _seed, _teardown, make_world

pytestmark = pytest.mark.stack


@pytest.fixture
def world(stack: Any, tmp_path: Path, unique_name: str) -> Any:
    made = make_world(stack, tmp_path, unique_name)
    yield made
    _teardown(made)


def _sov15(world: World, tmp_path: Path) -> list[dict[str, Any]]:
    out = tmp_path / "audit.json"
    done = world.cli(
        "audit", str(world.plan), "--no-inventory", "--format", "json", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text("utf-8"))
    return [f for f in report["findings"] if f["rule"] == "SOV-15"]


def _blobs(stack: Any, container: str) -> list[str]:
    client = ContainerClient.from_connection_string(stack.azurite_connection_string, container)
    with client:
        return [b.name for b in client.list_blobs()]


def _decommission(world: World, *extra: str) -> subprocess.CompletedProcess[str]:
    return world.cli("decommission", str(world.plan), "--wave", "w1", *extra, "--json")


def test_decommission_after_finalize_deletes_proves_and_signs(
    world: World, stack: Any, tmp_path: Path
) -> None:
    files = _seed(world, 8)
    _ok(world.cli("run", str(world.plan)))
    _ok(world.cli("cutover", str(world.plan), "--wave", "w1", "--approve", "alice"))

    result = _decommission(world)
    assert result.returncode == 2 and "not finalized" in result.stderr, result.stderr
    _ok(world.cli("finalize", str(world.plan), "--wave", "w1", "--yes"))
    assert world.state_of() is DatasetState.FINALIZED
    assert [f["subject"] for f in _sov15(world, tmp_path)] == ["ds"]

    # a blob created after finalize (leases do not stop creations) has no verified copy
    world.put("data/late.bin", b"written after finalize")
    result = _decommission(world)
    assert result.returncode == 6, result.stderr
    assert "data/late.bin: not in the journal" in result.stderr
    assert len(_blobs(stack, world.name)) == len(files) + 1  # nothing deleted
    world.source.delete("data/late.bin")

    result = _decommission(world, "--dry-run")
    _ok(result)
    steps = json.loads(result.stdout)["steps"]
    assert [s["would_delete"] for s in steps] == [len(files)]
    assert len(_blobs(stack, world.name)) == len(files)

    result = _decommission(world)
    _ok(result)
    assert _blobs(stack, world.name) == []  # checked independently with the Azure SDK
    step = json.loads(result.stdout)["steps"][0]
    assert (step["deleted"], step["listed_after"], step["method"]) == (len(files), 0, "deleted")
    with world.journal() as journal:
        assert list(journal.leases("ds")) == []  # every lease went with its blob

    records = [json.loads(x) for x in (world.state / "manifest.jsonl").read_text().splitlines()]
    decom = [r for r in records if r["type"] == "decommission"]
    assert len(decom) == 1 and decom[0]["objects"] == len(files)
    retention = decom[0]["retention"]
    assert set(retention) >= {"blob_soft_delete", "container", "remaining_under_prefix"}
    assert records[-1]["type"] == "checkpoint"  # sealed at once
    check = world.cli(
        "manifest", "verify", str(world.state / "manifest.jsonl"), "--trust-adjacent-key"
    )
    _ok(check)
    assert _sov15(world, tmp_path) == []

    again = _decommission(world)  # idempotent: already done
    _ok(again)
    assert json.loads(again.stdout)["steps"][0]["outcome"] == "already decommissioned"

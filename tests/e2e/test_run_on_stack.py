"""`hdh-migrate run` end to end on Azurite → SeaweedFS, through the console script."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid

import pytest
from stack_world import make_world

from hdh_migrate.crypto import DecryptingReader
from hdh_migrate.keys import FileKeyProvider

pytestmark = pytest.mark.stack
MIB = 1 << 20


def seed(world, sizes: dict[str, int]) -> dict[str, bytes]:
    data = {}
    for rel, size in sizes.items():
        data[rel] = os.urandom(size)
        world.put("data/" + rel, data[rel])
    return data


def events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def decrypt(world, rel: str) -> bytes:
    provider = FileKeyProvider(world.plan.parent / "kek.key")
    with world.target.open_read("enc/" + rel) as raw:
        return DecryptingReader(raw, provider, f"ds/{rel}").read()


EDGE_SIZES = {
    "empty.bin": 0,
    "one.bin": 1,
    "part-minus.bin": 5 * MIB - 1,
    "part.bin": 5 * MIB,
    "part-plus.bin": 5 * MIB + 1,
    "multipart.bin": 11 * MIB + 3,
    "é/日本 100% +#.csv": 4321,
    "a/b/c/d/deep.txt": 17,
}


def test_run_rerun_verify_repair_and_manifest(world):
    data = seed(world, EDGE_SIZES)
    first = world.cli("run", str(world.plan), "--json")
    assert first.returncode == 0, first.stderr
    copied = [e["key"] for e in events(first.stdout) if e["event"] == "object.copied"]
    assert sorted(copied) == sorted("data/" + rel for rel in data)
    for rel, plain in data.items():
        assert decrypt(world, rel) == plain, rel

    before = world.target_etags()
    again = world.cli("run", str(world.plan), "--json")
    assert again.returncode == 0, again.stderr
    assert [e for e in events(again.stdout) if e["event"] == "object.copied"] == []
    assert world.target_etags() == before  # not one PUT

    damaged = bytearray(world.target.open_read("enc/one.bin").read())
    damaged[-1] ^= 0x40
    world.target.write("enc/one.bin", io.BytesIO(bytes(damaged)), len(damaged))
    check = world.cli("verify", str(world.plan), "--mode", "full")
    assert check.returncode == 7, check.stderr  # tampered ciphertext: README exit 7
    assert "data/one.bin" in check.stderr and len(check.stderr.strip().splitlines()) == 1
    assert "Traceback" not in check.stderr

    repair = world.cli("run", str(world.plan), "--json")
    assert repair.returncode == 0, repair.stderr
    assert [e["key"] for e in events(repair.stdout) if e["event"] == "object.copied"] == [
        "data/one.bin"
    ]
    assert world.cli("verify", str(world.plan), "--mode", "full").returncode == 0

    manifest = world.state / "manifest.jsonl"
    assert world.cli("manifest", "verify", str(manifest), "--trust-adjacent-key").returncode == 0
    forged = world.state / "forged.jsonl"
    lines = manifest.read_text().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if '"one.bin"' in line or "one.bin" in line)
    lines[index] = lines[index].replace('"size":1,', '"size":2,', 1)
    forged.write_text("".join(lines))
    shutil.copy(world.state / "manifest.pub", world.state / "forged.pub")
    tampered = world.cli("manifest", "verify", str(forged), "--trust-adjacent-key")
    assert tampered.returncode == 4, tampered.stderr


@pytest.mark.slow
def test_kill_9_at_random_moments_then_resume_loses_nothing(world):
    rng = random.Random(7)
    sizes = {
        f"obj-{i:03d}.bin": rng.choice([0, 1, 3000, 200_000, 2 * MIB, 7 * MIB]) for i in range(60)
    }
    data = seed(world, sizes)
    journaled: dict[str, str] = {}  # target key → ETag when the journal first said copied
    kills = 0
    for _ in range(10):
        # a bandwidth cap keeps every killed run mid-flight whatever the machine's speed
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hdh_migrate",
                "run",
                str(world.plan),
                "--concurrency",
                "2",
                "--bandwidth",
                "6MiB/s",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=os.environ.copy(),
        )
        time.sleep(rng.uniform(0.3, 2.0))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
        check_no_reupload(world, journaled)
    assert kills >= 5  # most runs were interrupted mid-flight
    final = world.cli("run", str(world.plan))
    assert final.returncode == 0, final.stderr
    check_no_reupload(world, journaled)
    assert len(journaled) == len(data)
    for rel, plain in data.items():
        assert hashlib.sha256(decrypt(world, rel)).digest() == hashlib.sha256(plain).digest()
    with sqlite3.connect(world.state / "journal.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        states = dict(db.execute("SELECT state, count(*) FROM items GROUP BY state").fetchall())
    assert states == {"verified": len(data)}
    manifest = world.state / "manifest.jsonl"
    assert world.cli("manifest", "verify", str(manifest), "--trust-adjacent-key").returncode == 0


def check_no_reupload(world, journaled: dict[str, str]) -> None:
    """An object once journaled as copied is never uploaded again (its ETag never moves)."""
    path = world.state / "journal.sqlite"
    if not path.exists():
        return
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT target_key, target_etag FROM items WHERE state IN ('copied', 'verified')"
        ).fetchall()
    etags = world.target_etags()
    for key, etag in rows:
        journaled.setdefault(key, etag)
        assert etags.get(key) == journaled[key], f"{key} was uploaded again"


def test_a_target_that_does_not_validate_is_verified_by_reading_back(stack, tmp_path):
    """rclone serve s3 accepts wrong checksums and ignores SSE-C: after `probe` says so,
    a plan asking only for metadata verification gets full read-back instead."""
    world = make_world(
        stack,
        tmp_path,
        f"r{uuid.uuid4().hex[:16]}",
        verify="metadata",
        s3_endpoint=stack.rclone_s3_endpoint,
    )
    try:
        data = seed(world, {"x.bin": 70_000, "y.bin": 5})
        probe = world.cli("probe", str(world.plan), "--json")
        assert probe.returncode == 0, probe.stderr
        (result,) = json.loads(probe.stdout)["targets"]
        assert result["checksums"].get("sha256") != "validated"
        assert result["sse_c"] == "ignored"
        run = world.cli("run", str(world.plan), "--json")
        assert run.returncode == 0, run.stderr
        seen = events(run.stdout)
        (upgrade,) = [e for e in seen if e["event"] == "verify.upgraded"]
        assert "does not validate" in upgrade["reason"]
        assert {e["mode"] for e in seen if e["event"] == "object.verified"} == {"full"}
        for rel, plain in data.items():
            assert decrypt(world, rel) == plain
    finally:
        world.source.delete_container()


def test_restore_writes_only_objects_that_authenticate_and_match(world, tmp_path):
    data = seed(world, {"a/x.csv": 123_456, "a/y.csv": 0, "b/z.csv": 6 * MIB + 5})
    assert world.cli("run", str(world.plan)).returncode == 0
    out = tmp_path / "restored"
    done = world.cli("restore", str(world.plan), "--dataset", "ds", "--to", str(out))
    assert done.returncode == 0, done.stderr
    assert {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} == set(data)
    for rel, plain in data.items():
        assert (out / rel).read_bytes() == plain

    partial = tmp_path / "partial"
    only_a = world.cli(
        "restore", str(world.plan), "--dataset", "ds", "--prefix", "a/", "--to", str(partial)
    )
    assert only_a.returncode == 0
    assert sorted(p.name for p in partial.rglob("*") if p.is_file()) == ["x.csv", "y.csv"]

    body = bytearray(world.target.open_read("enc/a/x.csv").read())
    body[200] ^= 1
    world.target.write("enc/a/x.csv", io.BytesIO(bytes(body)), len(body))
    again = tmp_path / "again"
    bad = world.cli("restore", str(world.plan), "--dataset", "ds", "--to", str(again))
    assert bad.returncode == 4 and "data/a/x.csv" in bad.stderr
    assert not (again / "a" / "x.csv").exists()
    assert (again / "b" / "z.csv").read_bytes() == data["b/z.csv"]
    assert not [p for p in again.rglob(".*") if p.is_file()]  # no temp file left behind

"""Resumable multipart uploads (issue 18 item 9): a large object whose copy is killed
(``kill -9`` of the coordinator) again and again while its parts upload makes progress at
every run — the parts completed before a kill are never sent again — and ends verified.
The journal holds the object's HDH1 header (salt and data key wrapped by the KEK) and
never its plaintext data key.

Measured (printed): parts completed at each kill, parts re-uploaded (0 expected: a part
completed at the target before a kill is reused, its ETag and LastModified unchanged),
parts reused by the final run, seconds in all. HDH_RESUME_KILLS (default 2),
HDH_RESUME_MIB (default 24: 5 parts of 5 MiB; keep a margin of parts over the kills) scale it.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.crypto import DecryptingReader, parse_header
from hdh_migrate.keys import FileKeyProvider
from tests.e2e.stack_world import World, make_world

pytestmark = [pytest.mark.stack]

KILLS = int(os.environ.get("HDH_RESUME_KILLS", "2"))
SIZE = int(os.environ.get("HDH_RESUME_MIB", "24")) << 20
RATE = "8MiB/s"  # each run lasts long enough for a kill between two parts
KEY, TARGET = "data/big.bin", "enc/big.bin"


@pytest.fixture
def world(stack: Any, tmp_path: Path, unique_name: str) -> Any:
    made = make_world(stack, tmp_path, unique_name, concurrency=1)
    yield made
    made.source.delete_container()
    made.target.delete_bucket(force=True)


def open_parts(world: World) -> dict[int, tuple[str, str, Any]]:
    """Part number → (upload id, ETag, LastModified) of the object's open uploads."""
    parts: dict[int, tuple[str, str, Any]] = {}
    for upload in world.target.list_multipart_uploads(TARGET):
        for number, part in world.target._listed_parts(TARGET, upload.upload_id).items():
            parts[number] = (upload.upload_id, part["ETag"], part["LastModified"])
    return parts


def wait_for_parts(world: World, process: subprocess.Popen[bytes], more_than: int) -> bool:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if len(open_parts(world)) > more_than:
            return True
        time.sleep(0.1)
    return False


def journaled_header(world: World) -> bytes:
    with sqlite3.connect(f"file:{world.state / 'journal.sqlite'}?mode=ro", uri=True) as db:
        [(header,)] = db.execute("SELECT header FROM resumes").fetchall()
    return bytes.fromhex(header)


def state_bytes(world: World) -> bytes:
    return b"".join(p.read_bytes() for p in world.state.rglob("*") if p.is_file())


def test_a_large_object_killed_while_its_parts_upload_resumes_and_ends_verified(world: World):
    data = os.urandom(SIZE)
    world.put(KEY, data)
    started = time.monotonic()
    before: dict[int, tuple[str, str, Any]] = {}
    at_kills: list[int] = []
    reuploaded = 0
    headers = set()
    for _ in range(KILLS):
        process = subprocess.Popen(
            [sys.executable, "-m", "hdh_migrate", "run", str(world.plan), "--bandwidth", RATE],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        progressed = wait_for_parts(world, process, len(before))
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert progressed, f"no new part after {len(before)} parts: the resume made no progress"
        time.sleep(0.5)  # a part whose body had arrived may still complete at the server
        now = open_parts(world)
        reuploaded += sum(now.get(n) != was for n, was in before.items())
        at_kills.append(len(now))
        header = journaled_header(world)
        headers.add(header)
        provider = FileKeyProvider(world.plan.parent / "kek.key")  # made by the first run
        dek = provider.unwrap(parse_header(header).wrapped_dek)
        state = state_bytes(world)
        assert dek not in state and dek.hex().encode() not in state  # never a plaintext key
        before = now
    final = subprocess.run(
        [sys.executable, "-m", "hdh_migrate", "run", str(world.plan), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert final.returncode == 0, final.stderr[-2000:]
    events = [json.loads(line) for line in final.stdout.splitlines() if line.startswith("{")]
    [resumed] = [e for e in events if e["event"] == "object.resumed"]
    with world.target.open_read(TARGET) as raw:
        stored_header = raw.read(len(next(iter(headers))))
    provider = FileKeyProvider(world.plan.parent / "kek.key")
    with world.target.open_read(TARGET) as raw:
        plain = DecryptingReader(raw, provider, "ds/big.bin").read()
    with sqlite3.connect(world.state / "journal.sqlite") as db:
        states = db.execute("SELECT state FROM items").fetchall()
        left = db.execute("SELECT count(*) FROM resumes").fetchone()[0]
    print(
        f"resumable multipart: {SIZE >> 20} MiB, {KILLS} kills, open parts at each kill "
        f"{at_kills}, {reuploaded} completed parts re-uploaded, final run reused "
        f"{resumed['parts_reused']} and sent {resumed['parts_uploaded']}, "
        f"{time.monotonic() - started:.0f} s"
    )
    assert len(headers) == 1 and stored_header in headers  # one header across every run
    assert reuploaded == 0
    assert resumed["parts_reused"] == at_kills[-1] > 0
    assert at_kills == sorted(set(at_kills))  # progress at every run
    assert hashlib.sha256(plain).digest() == hashlib.sha256(data).digest()
    assert states == [("verified",)] and left == 0
    assert list(world.target.list_multipart_uploads("enc/")) == []

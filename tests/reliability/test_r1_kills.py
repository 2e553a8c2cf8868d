"""R1 — ``kill -9`` the coordinator at random moments of a ≥ 2,000-object run, resume each
time: 0 missing, 0 corrupt, 0 re-uploads of objects already journaled copied, journal
``integrity_check`` ok after every kill.

Defaults are the acceptance figures (HDH_R1_OBJECTS=2000, HDH_R1_KILLS=20); the figures
measured are printed and kept in docs/reliability.md.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.crypto import DecryptingReader
from hdh_migrate.keys import FileKeyProvider
from tests.e2e.stack_world import World, make_world

pytestmark = [pytest.mark.stack, pytest.mark.slow]

OBJECTS = int(os.environ.get("HDH_R1_OBJECTS", "2000"))
KILLS = int(os.environ.get("HDH_R1_KILLS", "20"))
RATE = os.environ.get("HDH_R1_RATE", "512KiB/s")  # ~37 MB of objects: a run lasts ≥ 70 s


@pytest.fixture
def world(stack: Any, tmp_path: Path, unique_name: str) -> Any:
    made = make_world(stack, tmp_path, unique_name, concurrency=8)
    yield made
    made.source.delete_container()
    made.target.delete_bucket(force=True)


def journal_done(world: World) -> dict[str, str]:
    path = world.state / "journal.sqlite"
    if not path.exists():
        return {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = db.execute(
            "SELECT target_key, target_etag FROM items WHERE state IN ('copied', 'verified')"
        ).fetchall()
    return {str(k): str(e) for k, e in rows}


def test_r1_kill_9_at_random_moments_loses_nothing_and_uploads_nothing_twice(world: World):
    rng = random.Random(18)
    data: dict[str, bytes] = {}
    for i in range(OBJECTS):
        rel = f"p{i % 37:02}/obj-{i:05}.bin"
        data[rel] = os.urandom(rng.choice([0, 1, 700, 4000, 20_000, 90_000]))
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda kv: world.put("data/" + kv[0], kv[1]), data.items()))

    journaled: dict[str, str] = {}
    kills = reuploads = 0
    mid_copy = []  # objects journaled done at each kill that landed with the copy under way
    started = time.monotonic()
    while kills < KILLS:
        # a run-wide bandwidth cap makes a whole run last over a minute on any machine, so
        # each kill lands at a random moment of it (start-up, inventory, copy, journal
        # commits) and the run cannot finish between two kills however fast the servers are
        process = subprocess.Popen(
            [sys.executable, "-m", "hdh_migrate", "run", str(world.plan), "--bandwidth", RATE],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=os.environ.copy(),
        )
        time.sleep(rng.uniform(1.0, 8.0))
        if process.poll() is not None:
            break  # the run finished before this kill
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
        now = world.target_etags()
        done = journal_done(world)
        if 0 < len(done) < OBJECTS:
            mid_copy.append(len(done))
        for key, etag in done.items():
            journaled.setdefault(key, etag)
            reuploads += now.get(key) != journaled[key]
    final = world.cli("run", str(world.plan), timeout=1800)
    assert final.returncode == 0, final.stderr[-2000:]
    now = world.target_etags()
    reuploads += sum(now.get(k) != e for k, e in journaled.items())
    provider = FileKeyProvider(world.plan.parent / "kek.key")
    corrupt = 0
    for rel, plain in data.items():
        with world.target.open_read("enc/" + rel) as raw:
            got = DecryptingReader(raw, provider, f"ds/{rel}").read()
        corrupt += hashlib.sha256(got).digest() != hashlib.sha256(plain).digest()
    with sqlite3.connect(world.state / "journal.sqlite") as db:
        states = dict(db.execute("SELECT state, count(*) FROM items GROUP BY state").fetchall())
    print(
        f"R1: {OBJECTS} objects, {kills} kills, {len(journaled)} journaled before the last "
        f"run, kills mid-copy at {mid_copy} done, {reuploads} re-uploads, {corrupt} corrupt, "
        f"states {states}, "
        f"{time.monotonic() - started:.0f} s"
    )
    assert kills >= min(KILLS, 5), kills
    assert len(set(mid_copy)) >= min(KILLS, 3), mid_copy  # killed mid-copy, progress between
    assert (reuploads, corrupt) == (0, 0)
    assert states == {"verified": OBJECTS} and len(now) == OBJECTS

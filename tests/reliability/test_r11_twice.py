"""R11 — the same item executed twice concurrently (a work unit re-run while its first
execution still writes: what Dask does when a worker presumed dead finishes anyway): one
verified object per key, one journal row, no object mixed from two attempts.

Local threads (seconds, no Dask): every copy unit is submitted a second time to a pool of
its own. The Dask version (a duplicate on the real cluster, slowed down) is
``tests/e2e/test_dask_cluster.py::test_the_same_work_unit_executed_twice_concurrently_ends_consistent``.
Large objects (multipart) share the journaled header, so both executions write the same
bytes; small ones have a header each, and the one that lands last is found by its ETag at
verification and copied again by the next run.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.crypto import DecryptingReader
from hdh_migrate.engine.run.session import migration
from hdh_migrate.keys import FileKeyProvider
from tests.e2e.stack_world import World, make_world

pytestmark = pytest.mark.stack
MIB = 1 << 20


class Twice(Executor):
    """Runs every task twice, the twin on a pool of its own (truly concurrent)."""

    def __init__(self, inner: Executor) -> None:
        self.inner, self.pool = inner, ThreadPoolExecutor(8, thread_name_prefix="twin")
        self.twins: list[Future[Any]] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.twins.append(self.pool.submit(fn, *args, **kwargs))
        return self.inner.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.pool.shutdown(wait=wait, cancel_futures=cancel_futures)
        self.inner.shutdown(wait=wait, cancel_futures=cancel_futures)


@pytest.fixture
def world(stack: Any, tmp_path: Path, unique_name: str) -> Any:
    made = make_world(stack, tmp_path, unique_name, concurrency=4)
    yield made
    made.source.delete_container()
    made.target.delete_bucket(force=True)


def test_r11_the_same_item_twice_at_once_ends_one_verified_unmixed_object(world: World):
    sizes = {f"s{i}.bin": 200_000 + i for i in range(6)} | {"m0.bin": 7 * MIB + 1}
    data = {rel: os.urandom(size) for rel, size in sizes.items()}
    for rel, body in data.items():
        world.put("data/" + rel, body)
    with migration(world.plan) as job:
        twice = Twice(job.executor)
        job.executor = twice
        job.run()
        wait(twice.twins)
    assert len(twice.twins) >= len(data) and all(f.exception() is None for f in twice.twins)
    # a twin that wrote after its first execution was verified: found by the ETag the
    # journal pinned at copy time, then copied again by the next run
    check = world.cli("verify", str(world.plan), "--mode", "metadata", "--json")
    assert check.returncode in (0, 4), check.stderr[-1500:]
    caught = sorted(
        json.loads(line)["key"]
        for line in check.stdout.splitlines()
        if line.startswith("{")
        and line.endswith("}")
        and json.loads(line).get("event") == "object.failed"
    )
    again = world.cli("run", str(world.plan), "--json")
    assert again.returncode == 0, again.stderr[-1500:]
    provider = FileKeyProvider(world.plan.parent / "kek.key")
    with sqlite3.connect(world.state / "journal.sqlite") as db:
        rows = db.execute(
            "SELECT key, state, target_key, target_etag, ciphertext_sha256 FROM items"
        ).fetchall()
    assert sorted(r[0] for r in rows) == sorted("data/" + rel for rel in data)  # one row each
    held = {info.key: info for info in world.target.list("enc/")}
    assert set(held) == {r[2] for r in rows}
    for key, state, target_key, etag, sealed_sha in rows:
        with world.target.open_read(target_key) as raw:
            sealed = raw.read()
        assert state == "verified" and held[target_key].etag == etag
        assert hashlib.sha256(sealed).hexdigest() == sealed_sha, f"{key}: mixed or replaced"
        rel = key[len("data/") :]
        assert DecryptingReader(io.BytesIO(sealed), provider, f"ds/{rel}").read() == data[rel]
    assert list(world.target.list_multipart_uploads("enc/")) == []
    records = [json.loads(x) for x in (world.state / "manifest.jsonl").read_text().splitlines()]
    print(
        f"R11: {len(data)} objects each executed twice at once; replaced after their "
        f"verification and caught by verify --mode metadata: {caught}"
    )
    assert not any(key.startswith("data/m") for key in caught)  # multipart twins: same bytes
    assert {r["target"]["key"] for r in records if r.get("type") == "object"} == set(held)

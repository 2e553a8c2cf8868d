"""R7 — 50 corruptions seeded at the target after a verified run (object deleted, truncated,
a bit flipped in the body, a bit flipped in the HDH1 header, object replaced by another's
ciphertext), then ``verify --mode full``: 50/50 found, 0 false positives."""

from __future__ import annotations

import io
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.stack_world import World, make_world

pytestmark = [pytest.mark.stack, pytest.mark.slow]
OBJECTS, CORRUPTIONS = 200, 50


@pytest.fixture
def world(stack: Any, tmp_path: Path, unique_name: str) -> Any:
    made = make_world(stack, tmp_path, unique_name, concurrency=8)
    yield made
    made.source.delete_container()
    made.target.delete_bucket(force=True)


def rewrite(world: World, key: str, body: bytes) -> None:
    world.target.write(key, io.BytesIO(body), len(body))


def test_r7_full_verification_finds_every_corruption_and_nothing_else(world: World) -> None:
    rng = random.Random(7)
    for i in range(OBJECTS):
        world.put(f"data/o{i:03}.bin", os.urandom(rng.randint(1, 300_000)))
    first = world.cli("run", str(world.plan))
    assert first.returncode == 0, first.stderr[-1500:]

    keys = sorted(world.target_etags())
    chosen = rng.sample(keys, CORRUPTIONS)
    kinds = ["delete", "truncate", "body-bit", "header-bit", "swapped"]
    for n, key in enumerate(chosen):
        kind = kinds[n % len(kinds)]
        if kind == "delete":
            world.target.delete(key)
            continue
        body = bytearray(world.target.open_read(key).read())
        if kind == "truncate":
            body = body[: len(body) - 1 - rng.randrange(16)]
        elif kind == "body-bit":
            body[rng.randrange(len(body) - 17, len(body))] ^= 1 << rng.randrange(8)
        elif kind == "header-bit":
            body[rng.randrange(20, 150)] ^= 1 << rng.randrange(8)
        else:
            other = next(k for k in keys if k not in chosen)
            body = bytearray(world.target.open_read(other).read())
        rewrite(world, key, bytes(body))

    check = world.cli("verify", str(world.plan), "--mode", "full", "--json")
    # the worst object decides: some failed authentication (bit flips) → 7 (README)
    assert check.returncode == 7, check.stderr[-1500:]
    (report,) = [
        e for e in map(json.loads, check.stdout.splitlines()) if e["event"] == "verify.done"
    ]
    failed = {f["key"] for d in report["datasets"] for f in d["failed"]}
    expected = {"data/" + k.removeprefix("enc/") for k in chosen}
    print(
        f"R7: {CORRUPTIONS} corruptions, found {len(failed & expected)}, "
        f"false positives {len(failed - expected)}"
    )
    assert failed == expected  # 50/50 found, 0 false positives

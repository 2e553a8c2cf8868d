"""R8 and R9 through the fault proxy (tests/support/faultproxy.py) between the tool and both
servers: a run completes with every object verified and 0 corrupt (each object decrypted
from the target, straight from the server, and compared with the source bytes).

R8 — network faults: latency, 1 MB/s per connection, slicing, 20 % of connections reset
in the middle of a response body. R9 — server faults: 10 % of requests answered 503
SlowDown/ServerBusy, 5 % of connections reset mid-body. Counters prove the faults happened.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from hdh_migrate.crypto import DecryptingReader
from hdh_migrate.keys import FileKeyProvider
from tests.e2e.stack_world import World, make_world
from tests.support.faultproxy import FaultProxy, Faults

pytestmark = [pytest.mark.stack, pytest.mark.slow]
MIB = 1 << 20

R8 = Faults(latency=0.002, rate=MIB, slice=1400, reset_after=150_000, reset_fraction=0.2)
R9 = Faults(http_error_fraction=0.10, reset_after=100_000, reset_fraction=0.05)


@pytest.fixture
def world(stack: Any, tmp_path: Path, unique_name: str) -> Any:
    made = make_world(stack, tmp_path, unique_name, concurrency=4)
    yield made
    made.source.delete_container()
    made.target.delete_bucket(force=True)


def seed(world: World) -> dict[str, bytes]:
    rng = random.Random(9)
    sizes = [0, 1, 5000, 150_000, 400_000, MIB + 7, 3 * MIB, 7 * MIB + 1]
    data = {f"o{i:02}-{size}.bin": os.urandom(size) for i, size in enumerate(sizes)}
    data |= {f"small/{i:03}.bin": os.urandom(rng.randint(1, 60_000)) for i in range(40)}
    for rel, body in data.items():
        world.put("data/" + rel, body)
    return data


def run_through(world: World, stack: Any, faults: Faults) -> tuple[Any, FaultProxy, FaultProxy]:
    s3_port = urlparse(stack.s3_endpoint).port
    blob = re.search(r"BlobEndpoint=http://127\.0\.0\.1:(\d+)", stack.azurite_connection_string)
    assert s3_port and blob
    target, source = FaultProxy(s3_port, faults), FaultProxy(int(blob.group(1)), faults)
    plan = world.plan.read_text().replace(stack.s3_endpoint, target.url)
    world.plan.write_text(plan)
    env = os.environ.copy()
    env["AZURE_STORAGE_CONNECTION_STRING"] = stack.azurite_connection_string.replace(
        f"127.0.0.1:{blob.group(1)}", f"127.0.0.1:{source.port}"
    )
    done = subprocess.run(
        [sys.executable, "-m", "hdh_migrate", "run", str(world.plan)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1500,
        check=False,
    )
    target.close()
    source.close()
    return done, target, source


def corrupt_count(world: World, data: dict[str, bytes]) -> int:
    provider = FileKeyProvider(world.plan.parent / "kek.key")
    bad = 0
    for rel, plain in data.items():
        with world.target.open_read("enc/" + rel) as raw:
            got = DecryptingReader(raw, provider, f"ds/{rel}").read()
        bad += hashlib.sha256(got).digest() != hashlib.sha256(plain).digest()
    return bad


@pytest.mark.parametrize(("row", "faults"), [("R8", R8), ("R9", R9)])
def test_a_run_through_faults_verifies_everything_and_corrupts_nothing(
    world: World, stack: Any, row: str, faults: Faults
) -> None:
    data = seed(world)
    done, target, source = run_through(world, stack, faults)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(world.target_etags()) == len(data)
    corrupt = corrupt_count(world, data)
    status = world.cli("status", str(world.plan), "--json")
    verified = status.stdout.count('"verified"')
    print(
        f"{row}: {len(data)} objects, exit {done.returncode}, corrupt {corrupt}; "
        f"target proxy {target.counters}; source proxy {source.counters}"
    )
    assert corrupt == 0 and verified >= 1
    hits = target.counters.resets + source.counters.resets
    hits += target.counters.injected + source.counters.injected
    assert hits > 0  # the faults really happened

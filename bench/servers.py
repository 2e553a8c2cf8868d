"""Containers and buckets for one benchmark: fresh names, seeded once, removed afterwards."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from bench.tools import VENV_BIN, stack_env
from devstack.corpus import Dataset, seed
from hdh_migrate.backends.registry import open_backend


def fresh_name(suite: str) -> str:
    return f"bench-{suite}-{uuid.uuid4().hex[:8]}"


def source(stack: Any, container: str) -> Any:
    return open_backend(
        "azure_blob", {"container": container, "connection_string": stack.azurite_connection_string}
    )


def target(stack: Any, bucket: str) -> Any:
    return open_backend(
        "s3",
        {
            "endpoint_url": stack.s3_endpoint,
            "region": "us-east-1",
            "bucket": bucket,
            "access_key": stack.s3_access_key,
            "secret_key": stack.s3_secret_key,
        },
    )


def seed_container(stack: Any, container: str, dataset: Dataset, threads: int) -> float:
    """Create ``container`` and write ``dataset`` into it; return the seconds it took."""
    backend = source(stack, container)
    backend.ensure_container()
    start = time.perf_counter()
    seed(backend, dataset, threads)
    return time.perf_counter() - start


def new_bucket(stack: Any, suite: str) -> str:
    name = fresh_name(suite)
    target(stack, name).ensure_bucket()
    return name


def count_objects(stack: Any, bucket: str, prefix: str = "data/") -> tuple[int, int]:
    """(objects, bytes) stored under ``prefix``."""
    count = total = 0
    for info in target(stack, bucket).list(prefix):
        count, total = count + 1, total + info.size
    return count, total


def drop_bucket(stack: Any, bucket: str, conf: Path) -> None:
    """Remove a bucket and its objects (rclone purge: parallel deletes)."""
    subprocess.run(
        [str(VENV_BIN / "rclone"), "--config", str(conf), "purge", f"s3:{bucket}", "--checkers=16"],
        capture_output=True,
        env=stack_env(stack),
        check=False,
    )


def drop_container(stack: Any, container: str) -> None:
    source(stack, container).delete_container()

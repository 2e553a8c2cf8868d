"""Corpus "10k" (RELIABILITY) through ``hdh-migrate run`` on the local stack, 100 % full
verification, peak RSS of the process under 300 MiB.

Slow: by default a scaled corpus (HDH_CORPUS_OBJECTS=400 objects, log-uniform up to
HDH_CORPUS_MAX=4MiB, plus every edge size: 0 B, 1 B, segment ± 1, part size ± 1,
multipart threshold ± 1, Unicode/space/%/+/# and an 800-character name). The full
acceptance is ``HDH_CORPUS_OBJECTS=10000 HDH_CORPUS_MAX=64MiB`` (~34 GiB: see
docs/benchmarks.md for what was run on the 2-core machine) or ``python -m bench corpus10k``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bench import servers
from bench.tools import Tuning, run_hdh, verified_count, write_rclone_conf
from devstack.corpus import MIB, corpus
from hdh_migrate.units import parse_size

pytestmark = [pytest.mark.stack, pytest.mark.slow]
RSS_LIMIT = 300 * MIB


def test_corpus_migrates_fully_verified_within_300_mib(stack: Any, tmp_path: Path) -> None:
    count = int(os.environ.get("HDH_CORPUS_OBJECTS", "400"))
    cap = parse_size(os.environ.get("HDH_CORPUS_MAX", "4MiB"))
    tuning = Tuning(concurrency=8, part_size=5 * MIB, threshold=6 * MIB)
    data = corpus(count, cap, tuning.part_size, tuning.threshold)
    container, bucket = servers.fresh_name("corpus"), servers.new_bucket(stack, "corpus")
    try:
        servers.seed_container(stack, container, data, threads=16)
        measured, status, _ = run_hdh(stack, container, bucket, tmp_path, tuning, "full")
        assert measured.returncode == 0, measured.tail(10)
        assert verified_count(status) == data.count
        assert servers.count_objects(stack, bucket)[0] == data.count
        assert measured.peak_rss < RSS_LIMIT, f"peak RSS {measured.peak_rss / MIB:.0f} MiB"
    finally:
        servers.drop_container(stack, container)
        servers.drop_bucket(stack, bucket, write_rclone_conf(stack, tmp_path, bucket))

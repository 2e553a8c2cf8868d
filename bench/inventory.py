"""The 10^6-object inventory (issue 12): how fast the journal is built from a listing, at
what peak RSS, and how long ``status`` and ``audit --no-inventory`` then take.

``python -m bench.inventory PLAN COUNT`` (what the ``inventory`` suite runs, measured, in a
process of its own): the plan's dataset ``ds`` is listed from a synthetic source yielding
COUNT objects page by page (the shape of an Azure listing: key, size, ETag, date; nothing
held), through the engine's own inventory step (``Migration._inventory``: selection,
flags, one NORMAL transaction per 5,000 rows) into the plan's journal. The target is an
in-memory store: nothing is copied.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

from hdh_migrate.backends.base import Capabilities, ObjectInfo, WriteOptions
from hdh_migrate.backends.memory import MemoryBackend
from hdh_migrate.engine.run.session import migration
from hdh_migrate.errors import PermanentError
from hdh_migrate.reports.run_report import DatasetOutcome

WHEN = datetime(2026, 1, 1, tzinfo=UTC)


class SyntheticListing:
    """A read-only source whose listing is ``count`` generated objects, in key order."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.name = f"synthetic://{count}"

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for i in range(self.count):
            key = f"data/{i // 1000:04d}/{i:08d}.bin"
            if key.startswith(prefix):
                yield ObjectInfo(key, 4096 + i % 60000, f'"0x8D{i:016X}"', WHEN)

    def stat(self, key: str) -> ObjectInfo:
        raise PermanentError("synthetic source: listing only", key=key)

    def open_read(self, key: str, range: Any = None, if_match: str | None = None) -> BinaryIO:
        raise PermanentError("synthetic source: listing only", key=key)

    def write(
        self, key: str, stream: BinaryIO, size: int, options: WriteOptions | None = None
    ) -> ObjectInfo:
        raise PermanentError("synthetic source: read-only", key=key)

    def delete(self, key: str) -> None:
        raise PermanentError("synthetic source: read-only", key=key)

    def capabilities(self) -> Capabilities:
        return Capabilities()

    def close(self) -> None:
        return None


def build(plan: str, count: int) -> DatasetOutcome:
    with migration(plan) as run:
        ctx_name = run.selected(None, None)[0]
        eff = run.plan.effective(ctx_name)
        from hdh_migrate.stages.clients import spec_digest

        clients: Any = run.clients
        ctx = run.context(ctx_name)
        # the client caches are keyed by each spec's digest (the merged executor code)
        clients._backends[spec_digest(ctx.source)] = SyntheticListing(count)
        clients._backends[spec_digest(ctx.target)] = MemoryBackend(f"bench-inventory-{count}")
        outcome = DatasetOutcome(ctx_name, eff.wave.name)
        run.journal.ensure_dataset(ctx_name, eff.wave.name)
        run._inventory(ctx, outcome)
        return outcome


def main(argv: list[str]) -> int:
    outcome = build(argv[0], int(argv[1]))
    print(f"listed {outcome.listed}, new {outcome.new}", flush=True)
    return 0 if outcome.new == int(argv[1]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

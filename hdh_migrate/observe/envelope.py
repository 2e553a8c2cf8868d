"""The versioned envelope every machine-readable event carries.

``{"schema": "hdh-migrate/events/v1", "ts": "<UTC ISO 8601>", "run_id": "…", "seq": N,
"event": "<name>", …fields}``. ``seq`` counts from 1 per process and never repeats, so a
reader can tell a gap (a lost line) from a quiet period. The JSON Schema is
``docs/events.schema.json``.
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime
from typing import Any

EVENTS_SCHEMA = "hdh-migrate/events/v1"


class Envelope:
    """Stamps events; thread-safe. ``run_id`` may be set once the run has one."""

    def __init__(self, run_id: str = "") -> None:
        self.run_id = run_id
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    def wrap(self, name: str, fields: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            seq = next(self._seq)
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        head = {"schema": EVENTS_SCHEMA, "ts": stamp, "run_id": self.run_id, "seq": seq}
        return {**head, "event": name, **fields}

"""Scheduler preload: a JSON line per task transition and per removed worker.

``dask scheduler --preload devstack/dask_transitions.py`` appends to
``$HDH_DASK_TRANSITIONS``: ``{"key", "start", "finish", "worker", "t"}`` (``worker``: where
the task is processing, or which worker reported it done) and ``{"removed": worker, "t"}``.
The partition test reads it to show that Dask ran one task on two workers.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

_LOCK = threading.Lock()


class Transitions(SchedulerPlugin):
    def __init__(self, scheduler: Any, path: Path) -> None:
        self.scheduler, self.path = scheduler, path

    def _write(self, record: dict[str, Any]) -> None:
        with _LOCK, self.path.open("a") as out:
            out.write(json.dumps({**record, "t": time.time()}) + "\n")

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        worker = kwargs.get("worker")
        if finish == "processing":
            ts = self.scheduler.tasks.get(key)
            on = getattr(ts, "processing_on", None) if ts is not None else None
            worker = getattr(on, "address", None)
        self._write({"key": str(key), "start": start, "finish": finish, "worker": worker})

    def remove_worker(self, scheduler: Any, worker: str, **kwargs: Any) -> None:
        self._write({"removed": worker})


def dask_setup(scheduler: Any) -> None:
    path = Path(os.environ.get("HDH_DASK_TRANSITIONS") or "dask-transitions.jsonl")
    scheduler.add_plugin(Transitions(scheduler, path), name="hdh-transitions")

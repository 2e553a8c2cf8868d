"""Scheduler preload for the devstack's Dask cluster: records every task payload it receives.

``dask scheduler --preload devstack/dask_capture.py`` appends to ``$HDH_DASK_CAPTURE``:
the raw serialized graph of each ``update-graph`` message (header and frames, as received)
and each new task's run spec re-pickled after deserialization. The secret-capture test
greps this file for every secret of the stack: nothing the coordinator sends may hold one.
"""

from __future__ import annotations

import os
import pickle
import threading
from pathlib import Path
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

_LOCK = threading.Lock()


def _append(path: Path, *chunks: bytes) -> None:
    with _LOCK, path.open("ab") as out:
        for chunk in chunks:
            out.write(chunk)
            out.write(b"\n--hdh-capture--\n")


def _frames(header: Any, frames: Any) -> list[bytes]:
    out = [pickle.dumps(header)]
    out += [bytes(frame) for frame in frames or ()]
    return out


class CaptureTasks(SchedulerPlugin):
    """Each new task's run spec, re-pickled (arguments included)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def update_graph(self, scheduler: Any, *, keys: Any, **kwargs: Any) -> None:
        specs = []
        for key in keys:
            ts = scheduler.tasks.get(key)
            if ts is not None:
                specs.append(pickle.dumps((key, ts.run_spec)))
        _append(self.path, *specs)


def dask_setup(scheduler: Any) -> None:
    path = Path(os.environ.get("HDH_DASK_CAPTURE") or "dask-capture.bin")
    original = scheduler.stream_handlers["update-graph"]

    async def recording(**msg: Any) -> Any:
        ser = msg.get("expr_ser")
        if ser is not None:
            _append(path, *_frames(getattr(ser, "header", None), getattr(ser, "frames", ())))
        return await original(**msg)

    scheduler.stream_handlers["update-graph"] = recording
    scheduler.add_plugin(CaptureTasks(path), name="hdh-capture")

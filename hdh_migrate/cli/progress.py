"""Reporters the CLI gives the engine: rich bars on a terminal, JSON lines for machines,
nothing when output is not a terminal (the final summary is printed either way)."""

from __future__ import annotations

import sys
import threading
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from hdh_migrate.cli.render import stderr, term
from hdh_migrate.escaping import json_text, printable
from hdh_migrate.events import NullReporter, Reporter
from hdh_migrate.observe import Envelope
from hdh_migrate.observe.ticker import Ticker
from hdh_migrate.redaction import redact
from hdh_migrate.stages.meter import PROCESS_METER, ByteMeter
from hdh_migrate.units import human_size


class JsonLinesReporter:
    """One JSON object per event on stdout, in the versioned envelope
    (``schema``, ``ts``, ``run_id``, ``seq``, ``event``, fields): docs/events.md."""

    def __init__(self, envelope: Envelope | None = None) -> None:
        self._lock = threading.Lock()
        self.envelope = envelope or Envelope()

    def event(self, name: str, /, **fields: Any) -> None:
        line = redact(json_text(self.envelope.wrap(name, fields), default=str))
        with self._lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()


class BinarySpeedColumn(ProgressColumn):
    """Rate in binary units (MiB/s beside MiB sizes: one unit system)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None:
            return Text("?", style="progress.data.speed")
        return Text(f"{human_size(int(speed))}/s", style="progress.data.speed")


class BinaryDownloadColumn(ProgressColumn):
    """``1.534/2.000 GiB``: done and total in the total's binary unit, with enough decimals
    that one step is at most ~1 MiB, so a large object's count moves with every refresh
    (rich's column shows ``1.5/2.0 GiB``: one step per 100 MiB)."""

    def render(self, task: Task) -> Text:
        reference = int(task.total if task.total is not None else task.completed)
        unit, scale, places = _unit(reference)
        done = f"{task.completed / scale:.{places}f}"
        total = "?" if task.total is None else f"{task.total / scale:.{places}f}"
        return Text(f"{done}/{total} {unit}", style="progress.download")


def _unit(size: int) -> tuple[str, int, int]:
    """The binary unit for ``size``, its scale and the decimals that make a step ≤ ~1 MiB."""
    for unit, power, places in (("TiB", 4, 6), ("GiB", 3, 3), ("MiB", 2, 1), ("KiB", 1, 1)):
        if size >= 1024**power:
            return unit, 1024**power, places
    return "B", 1, 0


class RichReporter:
    """Bars on a terminal, refreshed four times a second from the process byte meter (so
    a multi-GB object moves its bar, and with Dask the workers' relayed bytes do too):

    - ``list   DATASET``: objects (and their bytes) listed so far by the inventory;
    - ``copy   DATASET``, ``verify DATASET``: bytes, rate, ETA, objects done/total;
    - ``wave   NAME`` (when the run spans several waves): its datasets' copy bytes;
    - ``overall``: every copy byte, with objects copied, retries, throttles and failures.
    """

    def __init__(self, meter: ByteMeter = PROCESS_METER, console: Console | None = None) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            BinaryDownloadColumn(),
            BinarySpeedColumn(),
            TextColumn("{task.fields[objects]}"),
            TimeRemainingColumn(),
            console=console or stderr,
            transient=False,
        )
        self.meter = meter
        self._tasks: dict[tuple[str, str], TaskID] = {}
        self._done: dict[tuple[str, str], list[int]] = {}  # objects, bytes of finished
        self._totals: dict[tuple[str, str], tuple[int, int]] = {}
        self._listing: dict[str, TaskID] = {}  # dataset → its inventory bar, while listing
        self._waves: dict[str, list[str]] = {}  # wave → datasets (from run.started)
        self._wave_of: dict[str, str] = {}
        self._wave_tasks: dict[str, TaskID] = {}
        self._overall: TaskID | None = None
        self._counts = {"objects": 0, "retries": 0, "throttled": 0, "failed": 0}
        self._lock = threading.Lock()
        self._ticker = Ticker(0.25, self._refresh, final=True)

    def __enter__(self) -> RichReporter:
        self.progress.start()
        self._overall = self.progress.add_task("overall", total=0, objects="")
        self._ticker.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._ticker.__exit__(None, None, None)
        self.progress.stop()

    def event(self, name: str, /, **fields: Any) -> None:
        handler = getattr(self, "_on_" + name.replace(".", "_"), None)
        if handler is not None:
            with self._lock:
                handler(**fields)

    def _start(self, dataset: str, phase: str, objects: int, total: int) -> None:
        key = (dataset, phase)
        self.meter.reset(dataset, phase)
        self._done[key], self._totals[key] = [0, 0], (objects, total)
        label = term(f"{phase:<6} {dataset}")
        self._tasks[key] = self.progress.add_task(label, total=total, objects=f"0/{objects}")
        if phase == "copy":
            self._grow(self._overall, total)
            self._grow(self._wave_tasks.get(self._wave_of.get(dataset, "")), total)

    def _grow(self, task: TaskID | None, total: int) -> None:
        if task is not None:
            self.progress.update(task, total=(self.progress.tasks[task].total or 0) + total)

    def _finish(self, dataset: str, phase: str, size: int) -> None:
        key = (dataset, phase)
        if key in self._done:
            self._done[key][0] += 1
            self._done[key][1] += size

    def _refresh(self) -> None:
        with self._lock:
            copied: dict[str, int] = {}
            for key, task in self._tasks.items():
                objects, total = self._totals[key]
                done_objects, done_bytes = self._done[key]
                moved = min(total, max(done_bytes, self.meter.get(*key)))
                self.progress.update(task, completed=moved, objects=f"{done_objects}/{objects}")
                if key[1] == "copy":
                    copied[key[0]] = moved
            for dataset, task in self._listing.items():
                listed = self.meter.get(dataset, "listed")
                size = self.meter.get(dataset, "listed_bytes")
                self.progress.update(task, completed=size, objects=f"{listed} listed")
            for wave, task in self._wave_tasks.items():
                names = self._waves[wave]
                started = sum(1 for n in names if (n, "copy") in self._tasks)
                moved = sum(copied.get(n, 0) for n in names)
                text = f"{started}/{len(names)} datasets"
                self.progress.update(task, completed=moved, objects=text)
            if self._overall is not None:
                self.progress.update(
                    self._overall, completed=sum(copied.values()), objects=self._summary()
                )

    def _summary(self) -> str:
        c = self._counts
        return (
            f"{c['objects']} copied · {c['retries']} retries ({c['throttled']} throttled) · "
            f"{c['failed']} failed"
        )

    def _on_run_started(self, waves: dict[str, list[str]] | None = None, **_: Any) -> None:
        self._waves = dict(waves or {})
        self._wave_of = {name: wave for wave, names in self._waves.items() for name in names}
        if len(self._waves) > 1:  # one wave: the overall bar says it all
            for wave in self._waves:
                label = term(f"wave   {wave}")
                self._wave_tasks[wave] = self.progress.add_task(label, total=0, objects="")

    def _on_dataset_start(self, dataset: str, **_: Any) -> None:
        self.meter.reset(dataset, "listed")
        self.meter.reset(dataset, "listed_bytes")
        label = term(f"list   {dataset}")
        self._listing[dataset] = self.progress.add_task(label, total=None, objects="0 listed")

    def _on_inventory_done(self, dataset: str, listed: int = 0, **_: Any) -> None:
        task = self._listing.pop(dataset, None)
        if task is not None:
            size = self.meter.get(dataset, "listed_bytes")
            self.progress.update(task, total=size, completed=size, objects=f"{listed} listed")

    def _on_copy_start(self, dataset: str, objects: int, bytes: int, **_: Any) -> None:
        self._start(dataset, "copy", objects, bytes)

    def _on_verify_start(self, dataset: str, objects: int, bytes: int, **_: Any) -> None:
        self._start(dataset, "verify", objects, bytes)

    def _on_object_copied(self, dataset: str, bytes: int, **_: Any) -> None:
        self._counts["objects"] += 1
        self._finish(dataset, "copy", bytes)

    def _on_object_verified(self, dataset: str, bytes: int = 0, **_: Any) -> None:
        self._finish(dataset, "verify", bytes)  # a sampled check reads little: still done

    def _on_object_retry(self, attempts: int = 1, throttled: int = 0, **_: Any) -> None:
        self._counts["retries"] += attempts
        self._counts["throttled"] += throttled

    def _on_object_failed(self, dataset: str, key: str, reason: str, **_: Any) -> None:
        self._counts["failed"] += 1
        line = Text("failed ", style="red")
        line.append(printable(f"{dataset}: {key}: {reason}"))  # untrusted: never markup
        self.progress.console.print(line, highlight=False)


def make_reporter(as_json: bool) -> Reporter | RichReporter:
    if as_json:
        return JsonLinesReporter()
    if stderr.is_terminal:
        return RichReporter()
    return NullReporter()

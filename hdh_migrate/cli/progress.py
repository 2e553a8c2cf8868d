"""Reporters the CLI gives the engine: rich bars on a terminal, JSON lines for machines,
nothing when output is not a terminal (the final summary is printed either way)."""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from hdh_migrate.cli.render import stderr
from hdh_migrate.events import NullReporter, Reporter
from hdh_migrate.observe import Envelope
from hdh_migrate.observe.ticker import Ticker
from hdh_migrate.stages.meter import PROCESS_METER, ByteMeter
from hdh_migrate.units import human_size


class JsonLinesReporter:
    """One JSON object per event on stdout, in the versioned envelope
    (``schema``, ``ts``, ``run_id``, ``seq``, ``event``, fields): docs/events.md."""

    def __init__(self, envelope: Envelope | None = None) -> None:
        self._lock = threading.Lock()
        self.envelope = envelope or Envelope()

    def event(self, name: str, /, **fields: Any) -> None:
        line = json.dumps(self.envelope.wrap(name, fields), ensure_ascii=False, default=str)
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


class RichReporter:
    """A bar per dataset and phase, moving by bytes (read from the process byte meter
    four times a second, so a multi-GB object moves its bar), and an overall bar with
    objects, retries and failures."""

    def __init__(self, meter: ByteMeter = PROCESS_METER) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            BinarySpeedColumn(),
            TextColumn("{task.fields[objects]}"),
            TimeRemainingColumn(),
            console=stderr,
            transient=False,
        )
        self.meter = meter
        self._tasks: dict[tuple[str, str], TaskID] = {}
        self._done: dict[tuple[str, str], list[int]] = {}  # objects, bytes of finished
        self._totals: dict[tuple[str, str], tuple[int, int]] = {}
        self._overall: TaskID | None = None
        self._counts = {"objects": 0, "retries": 0, "failed": 0}
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
        label = escape(f"{phase:<6} {dataset}")
        self._tasks[key] = self.progress.add_task(label, total=total, objects=f"0/{objects}")
        if phase == "copy" and self._overall is not None:
            overall = self.progress.tasks[self._overall].total or 0
            self.progress.update(self._overall, total=overall + total)

    def _finish(self, dataset: str, phase: str, size: int) -> None:
        key = (dataset, phase)
        if key in self._done:
            self._done[key][0] += 1
            self._done[key][1] += size

    def _refresh(self) -> None:
        with self._lock:
            moved_total = 0
            for key, task in self._tasks.items():
                objects, total = self._totals[key]
                done_objects, done_bytes = self._done[key]
                moved = min(total, max(done_bytes, self.meter.get(*key)))
                self.progress.update(task, completed=moved, objects=f"{done_objects}/{objects}")
                if key[1] == "copy":
                    moved_total += moved
            if self._overall is not None:
                c = self._counts
                text = f"{c['objects']} copied · {c['retries']} retries · {c['failed']} failed"
                self.progress.update(self._overall, completed=moved_total, objects=text)

    def _on_copy_start(self, dataset: str, objects: int, bytes: int, **_: Any) -> None:
        self._start(dataset, "copy", objects, bytes)

    def _on_verify_start(self, dataset: str, objects: int, bytes: int, **_: Any) -> None:
        self._start(dataset, "verify", objects, bytes)

    def _on_object_copied(self, dataset: str, bytes: int, **_: Any) -> None:
        self._counts["objects"] += 1
        self._finish(dataset, "copy", bytes)

    def _on_object_verified(self, dataset: str, **_: Any) -> None:
        self._finish(dataset, "verify", 0)

    def _on_object_retry(self, attempts: int = 1, **_: Any) -> None:
        self._counts["retries"] += attempts

    def _on_object_failed(self, dataset: str, key: str, reason: str, **_: Any) -> None:
        self._counts["failed"] += 1
        line = Text("failed ", style="red")
        line.append(f"{dataset}: {key}: {reason}")  # untrusted text: never markup
        self.progress.console.print(line, highlight=False)


def make_reporter(as_json: bool) -> Reporter | RichReporter:
    if as_json:
        return JsonLinesReporter()
    if stderr.is_terminal:
        return RichReporter()
    return NullReporter()

"""Reporters the CLI gives the engine: rich bars on a terminal, JSON lines for machines,
nothing when output is not a terminal (the final summary is printed either way)."""

from __future__ import annotations

import sys
import threading
from typing import Any

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from hdh_migrate.cli.render import stderr, term
from hdh_migrate.escaping import json_text
from hdh_migrate.events import NullReporter, Reporter
from hdh_migrate.redaction import redact


class JsonLinesReporter:
    """One JSON object per event on stdout: ``{"event": name, ...fields}``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def event(self, name: str, /, **fields: Any) -> None:
        line = redact(json_text({"event": name, **fields}, default=str))
        with self._lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()


class RichReporter:
    """A bar per dataset and phase: bytes, speed, ETA, objects done/total."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TextColumn("{task.fields[objects]}"),
            TimeRemainingColumn(),
            console=stderr,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._done: dict[str, int] = {}
        self._totals: dict[str, int] = {}

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def event(self, name: str, /, **fields: Any) -> None:
        handler = getattr(self, "_on_" + name.replace(".", "_"), None)
        if handler is not None:
            handler(**fields)

    def _start(self, label: str, objects: int, total: int) -> None:
        self._done[label], self._totals[label] = 0, objects
        self._tasks[label] = self.progress.add_task(
            term(label), total=total, objects=f"0/{objects}"
        )

    def _advance(self, label: str, size: int) -> None:
        if label in self._tasks:
            self._done[label] += 1
            count = f"{self._done[label]}/{self._totals[label]}"
            self.progress.update(self._tasks[label], advance=size, objects=count)

    def _on_copy_start(self, dataset: str, objects: int, bytes: int, **_: Any) -> None:
        self._start(f"copy   {dataset}", objects, bytes)

    def _on_verify_start(self, dataset: str, objects: int, bytes: int, **_: Any) -> None:
        self._start(f"verify {dataset}", objects, bytes)

    def _on_object_copied(self, dataset: str, bytes: int, **_: Any) -> None:
        self._advance(f"copy   {dataset}", bytes)

    def _on_object_verified(self, dataset: str, **_: Any) -> None:
        self._advance(f"verify {dataset}", 0)

    def _on_object_failed(self, dataset: str, key: str, reason: str, **_: Any) -> None:
        self.progress.console.print(
            f"[red]failed[/] {term(dataset)}: {term(key)}: {term(reason)}", highlight=False
        )


def make_reporter(as_json: bool) -> Reporter | RichReporter:
    if as_json:
        return JsonLinesReporter()
    if stderr.is_terminal:
        return RichReporter()
    return NullReporter()

"""``--log-file``: one record per object state change, retry, phase change and failure,
as JSON lines (the events envelope) or text, filtered by ``--log-level``.

Records hold what events hold: names, keys, counts, reasons — never secrets (the security
suite greps these files). Text records print untrusted values with ``repr``-style escaping
of control characters, so a key cannot forge a log line.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, TextIO

from hdh_migrate.observe.envelope import Envelope

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}

#: Event name → level; anything not named is ``info``.
EVENT_LEVELS = {
    "progress": "debug",
    "object.verified": "debug",
    "object.copied": "info",
    "object.retry": "warning",
    "object.not_carried": "debug",
    "dataset.not_carried": "warning",
    "verify.upgraded": "warning",
    "object.failed": "error",
    "run.interrupted": "warning",
}


class LogFile:
    """A ``Reporter`` writing to ``path`` (appended, created 0600)."""

    def __init__(
        self, path: Path, level: str = "info", fmt: str = "json", envelope: Envelope | None = None
    ) -> None:
        if level not in LEVELS:
            raise ValueError(f"log level {level!r}: use one of {', '.join(LEVELS)}")
        if fmt not in ("json", "text"):
            raise ValueError(f"log format {fmt!r}: use json or text")
        self.path, self.threshold, self.fmt = path, LEVELS[level], fmt
        self.envelope = envelope or Envelope()
        self._lock = threading.Lock()
        self._file: TextIO = _open_private(path)

    def event(self, name: str, /, **fields: Any) -> None:
        level = EVENT_LEVELS.get(name, "info")
        if LEVELS[level] < self.threshold:
            return
        record = self.envelope.wrap(name, fields)
        record["level"] = level
        line = json.dumps(record, ensure_ascii=False, default=str)
        if self.fmt == "text":
            line = _text(record)
        with self._lock:
            if self._file.closed:  # a command's last event (run.done) after the watch ended
                with _open_private(self.path) as late:
                    late.write(line + "\n")
                return
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def _text(record: dict[str, Any]) -> str:
    head = f"{record['ts']} {record['level'].upper():7} {record['event']}"
    skip = {"schema", "ts", "run_id", "seq", "event", "level"}
    rest = " ".join(f"{k}={_quote(v)}" for k, v in record.items() if k not in skip)
    return f"{head} {rest}".rstrip()


def _quote(value: Any) -> str:
    """JSON spelling: strings quoted with control characters escaped (no forged lines)."""
    return json.dumps(value, ensure_ascii=False, default=str)


def _open_private(path: Path) -> TextIO:
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    return os.fdopen(fd, "a", encoding="utf-8")

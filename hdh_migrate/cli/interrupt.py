"""Ctrl-C and SIGTERM during a run: the first stops taking new work (in-flight objects
finish and are journaled), the second exits at once — still safe, the journal is
crash-safe. Exit 130 for SIGINT, 143 for SIGTERM (128 + the signal number)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from hdh_migrate.engine.run.runner import Migration

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def interruptible(job: Migration) -> Iterator[list[int]]:
    """Install the handlers for the duration; yields the signals received (first first)."""
    received: list[int] = []

    def handle(signum: int, frame: FrameType | None) -> None:
        if received:
            sys.stderr.write("interrupted again: exiting now (run again to continue)\n")
            sys.stderr.flush()
            os._exit(128 + signum)
        received.append(signum)
        name = signal.Signals(signum).name
        sys.stderr.write(
            f"{name}: finishing the objects in flight, taking no new ones "
            "(send it again to exit at once)\n"
        )
        sys.stderr.flush()
        job.interrupt()

    previous = {sig: signal.signal(sig, handle) for sig in SIGNALS}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)

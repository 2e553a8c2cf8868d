"""Where work items run: a bounded window over a concurrent.futures executor."""

from hdh_migrate.execution.executors import (
    KINDS,
    DaskSettings,
    SerialExecutor,
    is_remote,
    make_executor,
    worker_count,
)
from hdh_migrate.execution.window import imap_batched, imap_unordered

__all__ = [
    "KINDS",
    "DaskSettings",
    "SerialExecutor",
    "imap_batched",
    "imap_unordered",
    "is_remote",
    "make_executor",
    "worker_count",
]

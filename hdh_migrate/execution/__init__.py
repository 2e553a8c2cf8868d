"""Where work items run: a bounded window over a concurrent.futures executor."""

from hdh_migrate.execution.executors import SerialExecutor, make_executor
from hdh_migrate.execution.window import imap_unordered

__all__ = ["SerialExecutor", "imap_unordered", "make_executor"]

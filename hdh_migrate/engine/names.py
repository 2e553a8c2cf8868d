"""Objects whose name the target cannot hold, or that would land on another object's name,
are refused by ``run`` one by one: named in the outcome (exit 5), journaled ``flagged`` with
the reason, never copied (``hdh_migrate.stages.names``)."""

from __future__ import annotations

from hdh_migrate.events import Reporter
from hdh_migrate.stages.inventory import Entry


def refuse_name(
    entry: Entry, failed: list[tuple[str, str]], reporter: Reporter, dataset: str
) -> None:
    """Count ``entry`` (flagged for its name) among the run's failures and report it."""
    reason = entry.flag or "name refused"
    failed.append((entry.info.key, reason))
    reporter.event("object.failed", dataset=dataset, key=entry.info.key, reason=reason)

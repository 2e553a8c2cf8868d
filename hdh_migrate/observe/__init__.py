"""Watching a long run: versioned event envelopes, run statistics, log files, metrics.

Everything here is a ``Reporter`` (``hdh_migrate.events``) or feeds one; the engine emits
plain events and never knows who listens. Nothing here imports typer or rich.
"""

from hdh_migrate.observe.envelope import EVENTS_SCHEMA, Envelope
from hdh_migrate.observe.fanout import Fanout
from hdh_migrate.observe.stats import RunStats

__all__ = ["EVENTS_SCHEMA", "Envelope", "Fanout", "RunStats"]

"""Process-wide CLI options (set by the root callback, read by the error boundary and by
the commands that watch a long run). Each has an ``HDH_MIGRATE_*`` environment variable
(README, "Environment variables")."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass
class CliState:
    debug: bool = os.environ.get("HDH_MIGRATE_DEBUG", "") not in ("", "0")
    verbose: bool = False
    log_file: Path | None = None
    log_level: str = "info"
    log_format: str = "json"
    stats_seconds: float = 60.0
    metrics_port: int | None = None
    metrics_file: Path | None = None


STATE = CliState()

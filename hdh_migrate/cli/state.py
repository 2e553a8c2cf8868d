"""Process-wide CLI options (set by the root callback, read by the error boundary)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class CliState:
    debug: bool = os.environ.get("HDH_MIGRATE_DEBUG", "") not in ("", "0")


STATE = CliState()

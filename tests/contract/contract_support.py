"""Shared by the contract factories (conftest.py) and the suite (test_contract.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hdh_migrate.backends.base import Backend

PAGE_SIZE = 7  # tiny pages: 3+ pages with a couple of dozen objects
MIB = 1024 * 1024
PART_SIZE = 5 * MIB  # S3's minimum part size, for realism
THRESHOLD = 5 * MIB  # multipart above this


@dataclass
class ContractTarget:
    """A fresh backend plus what the suite needs to know about how it was configured."""

    backend: Backend
    part_size: int = PART_SIZE
    threshold: int = THRESHOLD
    open_uploads: Callable[[], list[Any]] | None = None  # S3: multipart uploads left open
    sorted_listing: bool = True  # False: the service lists in its own order (a quirk)

    @property
    def edge_sizes(self) -> list[int]:
        """0, 1, threshold ±1, part size ±1, two parts ±1 (deduplicated, sorted)."""
        t, p = self.threshold, self.part_size
        return sorted({0, 1, t - 1, t, t + 1, p - 1, p, p + 1, 2 * p - 1, 2 * p + 1})

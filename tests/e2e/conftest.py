"""Fixtures for end-to-end runs on the local stack (helpers in stack_world.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from stack_world import make_world


@pytest.fixture
def world(stack: Any, tmp_path: Path, unique_name: str) -> Any:
    made = make_world(stack, tmp_path, unique_name)
    yield made
    made.source.delete_container()
    made.target.delete_bucket(force=True)

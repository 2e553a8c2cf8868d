"""Fixtures of the policy tests."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.policy.policy_helpers import BASE


@pytest.fixture
def write_plan(tmp_path: Path) -> Callable[..., Path]:
    """Write BASE changed by ``edit(plan_dict)`` to a file and return its path."""

    def write(edit: Callable[[dict[str, Any]], None] | None = None, name: str = "p.yaml") -> Path:
        data = copy.deepcopy(BASE)
        data["state_dir"] = str(tmp_path / "state")
        if edit:
            edit(data)
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
        return path

    return write

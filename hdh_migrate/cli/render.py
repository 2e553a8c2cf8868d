"""Rendering helpers shared by commands: JSON to stdout, rich tables, messages to stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


def emit_json(data: Any) -> None:
    """One JSON document on stdout, UTF-8, stable key order."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str))
    sys.stdout.write("\n")


def error(message: str) -> None:
    stderr.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)


def ok(message: str) -> None:
    stdout.print(f"[green]✓[/] {message}", markup=True, highlight=False)

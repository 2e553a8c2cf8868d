"""Sizes and rates written the way people write them: ``64MiB``, ``400MiB/s``, ``5%``."""

from __future__ import annotations

import re

MIB = 1024**2
#: Multipart part size and threshold when nothing sets them: the plan's defaults, the S3
#: backend's and a copy item's (one value, read by all three).
DEFAULT_PART_SIZE = 64 * MIB
DEFAULT_MULTIPART_THRESHOLD = 64 * MIB
DEFAULT_BUFFER_MEMORY = 160 * MIB

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "t": 1000**4,
    "tb": 1000**4,
    "tib": 1024**4,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str | int) -> int:
    """``"64MiB"`` → 67108864. Raises ValueError with what was expected."""
    if isinstance(text, int):
        if text < 0:
            raise ValueError("a size cannot be negative")
        return text
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else None
    if not match or unit not in _UNITS:
        raise ValueError(f"expected a size such as 64MiB, 5GB or 1048576, got {text!r}")
    return int(float(match.group(1)) * _UNITS[unit])


def parse_rate(text: str | int) -> int:
    """``"400MiB/s"`` → bytes per second."""
    if isinstance(text, str) and text.strip().lower().endswith("/s"):
        text = text.strip()[:-2]
    return parse_size(text)


def parse_percent(text: str | float | int) -> float:
    """``"5%"`` or ``5`` → 5.0 (a percentage between 0 and 100)."""
    value = float(text.strip().rstrip("%")) if isinstance(text, str) else float(text)
    if not 0 <= value <= 100:
        raise ValueError(f"expected a percentage between 0% and 100%, got {text!r}")
    return value


def human_size(n: int) -> str:
    """1536 → ``1.5 KiB``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")

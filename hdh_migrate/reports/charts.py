"""Inline SVG charts, drawn server-side: no script, no font or file fetched.

``histogram_svg`` — objects per log2 size bucket for one dataset (bars ``HIST_COLOUR``).
``waves_svg`` — bytes per wave: all selected bytes (``WAVE_COLOUR``) and, inside, the
bytes to move (``MOVE_COLOUR``). Every bar is a ``<rect class="bar">`` with a ``<title>``
and ``data-value``, so tests and screen readers can read the values back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from hdh_migrate.reports.model import Bucket
from hdh_migrate.units import human_size

HIST_COLOUR = "#1f6fd1"
WAVE_COLOUR = "#f08c00"
MOVE_COLOUR = "#a61e4d"
WIDTH, HEIGHT = 560, 220
LEFT, BOTTOM, TOP = 56, 46, 16
LABEL_WIDTH = 64


@dataclass(frozen=True)
class WaveBar:
    name: str
    bytes: int
    to_move: int


def histogram_svg(chart_id: str, title: str, buckets: list[Bucket]) -> str:
    """One bar per bucket, height ∝ object count."""
    values = [(f"≥{human_size(b.lower)}", b.count) for b in buckets]
    bars = _bars(values, HIST_COLOUR, lambda v: f"{v} objects")
    top = max((v for _, v in values), default=0)
    return _svg(chart_id, title, bars, [label for label, _ in values], f"{top} objects", top)


def waves_svg(chart_id: str, title: str, waves: list[WaveBar]) -> str:
    """One bar per wave (all bytes), with the bytes to move drawn inside it."""
    total = [(w.name, w.bytes) for w in waves]
    top = max((v for _, v in total), default=0)
    bars = _bars(total, WAVE_COLOUR, human_size) + _bars(
        [(w.name, w.to_move) for w in waves],
        MOVE_COLOUR,
        lambda v: f"{human_size(v)} to move",
        top=top,
        inset=0.3,
    )
    return _svg(chart_id, title, bars, [w.name for w in waves], max_label=human_size(top), top=top)


def bars_svg(
    chart_id: str, title: str, values: list[tuple[str, int]], colour: str, unit: str = ""
) -> str:
    """One bar per (label, value); ``unit`` ``bytes`` shows sizes, else counts + unit."""

    def describe(value: int) -> str:
        return human_size(value) if unit == "bytes" else f"{value} {unit}".strip()

    top = max((v for _, v in values), default=0)
    bars = _bars(values, colour, describe)
    return _svg(chart_id, title, bars, [label for label, _ in values], describe(top), top)


def _bars(
    values: list[tuple[str, int]],
    colour: str,
    describe: Callable[[int], str],
    top: int | None = None,
    inset: float = 0.0,
) -> list[str]:
    peak = top if top is not None else max((v for _, v in values), default=0)
    if not values or peak <= 0:
        return []
    slot = (WIDTH - LEFT - 8) / len(values)
    plot = HEIGHT - BOTTOM - TOP
    out = []
    for i, (label, value) in enumerate(values):
        height = max(1.0, plot * value / peak) if value > 0 else 0.0  # tiny ≠ nothing
        width = slot * 0.7 * (1 - inset)
        x = LEFT + i * slot + (slot - width) / 2
        text = describe(value)
        out.append(
            f'<rect class="bar" x="{x:.1f}" y="{TOP + plot - height:.1f}" width="{width:.1f}" '
            f'height="{height:.1f}" fill="{colour}" data-value="{value}">'
            f"<title>{escape(label)}: {escape(str(text))}</title></rect>"
        )
    return out


def _svg(
    chart_id: str, title: str, bars: list[str], labels: list[str], max_label: str, top: int
) -> str:
    slot = (WIDTH - LEFT - 8) / max(1, len(labels))
    every = max(1, round(LABEL_WIDTH / slot))  # label every n-th bar so labels never overlap
    ticks = [
        f'<text x="{LEFT + (i + 0.5) * slot:.1f}" y="{HEIGHT - BOTTOM + 14}" '
        f'text-anchor="middle" font-size="10">{escape(_short(label))}</text>'
        for i, label in enumerate(labels)
        if i % every == 0
    ]
    empty = (
        ""
        if bars
        else (f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no data</text>')
    )
    axis = (
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - 4}" y2="{HEIGHT - BOTTOM}" '
        f'stroke="#444"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" '
        f'stroke="#444"/><text x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end" '
        f'font-size="9">{escape(max_label if top else "0")}</text>'
    )
    return (
        f'<svg id="{escape(chart_id)}" class="chart" xmlns="http://www.w3.org/2000/svg" '
        f'role="img" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f"{axis}{''.join(bars)}{''.join(ticks)}{empty}</svg>"
    )


def _short(label: str) -> str:
    return label if len(label) <= 14 else label[:13] + "…"

"""The HTML audit report renders in headless Chromium (Debian ``chromium``, installed by
``tests/integration/chromium.py`` when missing): both charts are drawn, with non-zero bars,
in the DOM, in the screenshot's pixels and in the printed PDF (rasterised by ``pdftoppm``);
the page needs no network."""

from __future__ import annotations

import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hdh_migrate.reports import render_html
from hdh_migrate.reports.charts import HIST_COLOUR, MOVE_COLOUR, WAVE_COLOUR
from tests.integration.chromium import (
    dump_dom,
    ensure_chromium,
    ensure_pdftoppm,
    print_pdf,
    screenshot,
)
from tests.integration.png import Image, read_png
from tests.unit.reports.report_factory import sample_report

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def chromium() -> str:
    return ensure_chromium()  # installs Debian's chromium when missing; fails loudly if it cannot


@pytest.fixture
def page(tmp_path: Path) -> Path:
    path = tmp_path / "audit.html"
    path.write_text(render_html(sample_report(rehearsal=True)), "utf-8")
    return path


class Bars(HTMLParser):
    """Heights of ``rect.bar`` per enclosing svg id."""

    def __init__(self) -> None:
        super().__init__()
        self.svg: str | None = None
        self.bars: dict[str, list[float]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "svg":
            self.svg = found.get("id")
            self.bars.setdefault(self.svg or "", [])
        elif tag == "rect" and "bar" in (found.get("class") or "") and self.svg:
            self.bars[self.svg].append(float(found.get("height") or 0))


def rgb(colour: str) -> tuple[int, int, int]:
    value = int(colour.lstrip("#"), 16)
    return value >> 16, (value >> 8) & 0xFF, value & 0xFF


def box(image: Image, colour: tuple[int, int, int]) -> tuple[int, int, int, int, int]:
    """(pixels, min x, min y, max x, max y) of pixels within 6 of ``colour``."""
    count, xs, ys = 0, [], []
    for y in range(0, image.height, 2):
        row = image.rows[y]
        for x in range(0, image.width, 2):
            at = x * image.channels
            if all(abs(row[at + i] - colour[i]) <= 6 for i in range(3)):
                count += 1
                xs.append(x)
                ys.append(y)
    if not count:
        return 0, 0, 0, 0, 0
    return count, min(xs), min(ys), max(xs), max(ys)


def test_dom_holds_both_charts_with_non_zero_bars(chromium: str, page: Path) -> None:
    dom = dump_dom(chromium, page)
    parser = Bars()
    parser.feed(dom)
    histograms = [k for k in parser.bars if k.startswith("chart-sizes-")]
    assert histograms == ["chart-sizes-0", "chart-sizes-1"]
    assert all(any(h > 0 for h in parser.bars[k]) for k in histograms)
    assert len([h for h in parser.bars["chart-waves"] if h > 0]) == 4  # 2 waves × (all, to move)
    assert 'id="rehearsal-banner"' in dom
    assert "<script>alert(1)</script>" not in dom  # finding text is escaped


def test_screenshot_shows_both_charts_where_expected(
    chromium: str, page: Path, tmp_path: Path
) -> None:
    shot = tmp_path / "audit.png"
    screenshot(chromium, page, shot)
    image = read_png(shot)
    assert (image.width, image.height) == (1280, 2000)
    hist = box(image, rgb(HIST_COLOUR))
    waves = box(image, rgb(WAVE_COLOUR))
    moving = box(image, rgb(MOVE_COLOUR))
    banner = box(image, rgb("#ffd43b"))
    assert hist[0] > 200 and waves[0] > 200 and moving[0] > 50, (hist, waves, moving)
    assert banner[0] > 1000 and banner[2] < 150  # the REHEARSAL banner leads the page
    assert banner[4] < hist[2] and banner[4] < waves[2]  # charts come after the banner
    assert hist[4] < 1000 and waves[4] < 1000  # and are in the first screenful
    assert moving[1] >= waves[1] and moving[3] <= waves[3]  # to-move bars inside the wave chart


def test_page_is_self_contained(page: Path) -> None:
    text = page.read_text("utf-8")
    assert "<script" not in text.replace("&lt;script&gt;", "")
    assert not re.search(r"\b(src|href)\s*=", text)
    assert "@import" not in text and "url(" not in text
    assert re.findall(r"https?://[^\s\"'<>]+", text) == ["http://www.w3.org/2000/svg"] * 3


def test_printed_pdf_keeps_both_charts_bars(chromium: str, page: Path, tmp_path: Path) -> None:
    """Print CSS keeps the charts: the PDF, rasterised by pdftoppm, shows their bars."""
    pdf = tmp_path / "audit.pdf"
    print_pdf(chromium, page, pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    prefix = tmp_path / "audit"
    subprocess.run(
        [ensure_pdftoppm(), "-png", "-r", "60", "-f", "1", "-l", "2", str(pdf), str(prefix)],
        check=True,
        timeout=120,
    )
    pages = [read_png(png) for png in sorted(tmp_path.glob("audit-*.png"))]
    assert pages
    found = {
        name: sum(box(image, rgb(colour))[0] for image in pages)
        for name, colour in (("sizes", HIST_COLOUR), ("waves", WAVE_COLOUR))
    }
    assert found["sizes"] > 20 and found["waves"] > 20, found

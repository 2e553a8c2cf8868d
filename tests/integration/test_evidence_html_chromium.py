"""Run, cutover and audit reports in HTML, rendered by headless Chromium and printed to PDF
(checked with pdftoppm): the charts have non-zero bars where data exists and are absent
where it does not; a blocked plan shows its findings before anything else."""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.integration.chromium import dump_dom, ensure_chromium, ensure_pdftoppm, print_pdf
from tests.integration.png import read_png
from tests.integration.test_cutover import World, _ok, _seed, _teardown, make_world

pytestmark = [pytest.mark.stack, pytest.mark.slow]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class Page(HTMLParser):
    """Bar heights per svg id, element ids in document order, and the text."""

    def __init__(self) -> None:
        super().__init__()
        self.svg: str | None = None
        self.bars: dict[str, list[float]] = {}
        self.ids: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.append(str(found["id"]))
        if tag == "svg":
            self.svg = found.get("id")
            self.bars.setdefault(self.svg or "", [])
        elif tag == "rect" and "bar" in (found.get("class") or "") and self.svg:
            self.bars[self.svg].append(float(found.get("height") or 0))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _render(chromium: str, page: Path) -> Page:
    parsed = Page()
    parsed.feed(dump_dom(chromium, page))
    return parsed


def _pdf_pages(chromium: str, page: Path, tmp: Path) -> int:
    """Print to PDF, rasterise with pdftoppm; the number of pages with ink on them."""
    pdf = tmp / (page.stem + ".pdf")
    print_pdf(chromium, page, pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    prefix = tmp / page.stem
    subprocess.run(
        [ensure_pdftoppm(), "-png", "-r", "40", str(pdf), str(prefix)], check=True, timeout=120
    )
    inked = 0
    for png in sorted(tmp.glob(page.stem + "-*.png")):
        image = read_png(png)
        dark = sum(
            1
            for row in image.rows[::4]
            for x in range(0, image.width * image.channels, 4 * image.channels)
            if row[x] < 128
        )
        inked += dark > 20
    return inked


@pytest.fixture(scope="module")
def chromium() -> str:
    return ensure_chromium()


@pytest.fixture
def world(stack: Any, tmp_path: Path, unique_name: str) -> Any:
    made = make_world(stack, tmp_path, unique_name)
    yield made
    _teardown(made)


def test_run_and_cutover_reports_render_with_charts_and_print(
    world: World, chromium: str, tmp_path: Path
) -> None:
    _seed(world, 12, size=50_000)
    world.put("data/<img src=x onerror=alert(1)>.bin", b"hostile key")
    _ok(world.cli("run", str(world.plan)))
    _ok(world.cli("cutover", str(world.plan), "--wave", "w1", "--approve", "alice"))
    reports = world.state / "reports"
    run_html = next(reports.glob("run-*.html"))
    cut_html = next(reports.glob("cutover-w1-*.html"))

    run = _render(chromium, run_html)
    assert any(h > 0 for h in run.bars["chart-throughput"])
    split = run.bars["chart-verification"]
    assert len(split) == 3 and split[0] > 0 and split[1:] == [0.0, 0.0]  # all full, none else
    text = " ".join(run.text)
    assert "sha256:" in text and "Key custody" in text and "Timeline" in text
    assert "<img" not in run_html.read_text().replace("&lt;img", "")  # escaped, never markup
    assert run.ids.index("endpoints") < run.ids.index("findings")  # passing: findings last

    cut = _render(chromium, cut_html)
    assert "approvals" in cut.ids and "gates" in cut.ids and "timeline-w1" in cut.ids
    assert "alice" in " ".join(cut.text)
    for page in (run_html, cut_html):
        assert _pdf_pages(chromium, page, tmp_path) >= 1


def test_blocked_audit_shows_findings_first_and_draws_no_empty_chart(
    chromium: str, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text((EXAMPLES / "policy" / "ovh-public-cloud-gra.yaml").read_text())
    page = tmp_path / "audit.html"
    done = subprocess.run(
        [sys.executable, "-m", "hdh_migrate", "audit", str(plan), "--no-inventory",
         "--format", "html", "--out", str(page)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert page.exists(), done.stderr
    parsed = _render(chromium, page)
    assert parsed.ids.index("findings") < parsed.ids.index("datasets")
    assert not any(i.startswith("chart-") for i in parsed.ids)  # no data: no chart at all
    assert "no data" not in " ".join(parsed.text)
    assert _pdf_pages(chromium, page, tmp_path) >= 1


def test_a_run_without_objects_draws_no_chart_and_prints(
    world: World, chromium: str, tmp_path: Path
) -> None:
    _ok(world.cli("run", str(world.plan)))  # an empty source: nothing copied, nothing verified
    run_html = next((world.state / "reports").glob("run-*.html"))
    run = _render(chromium, run_html)
    assert not any(i.startswith("chart-") for i in run.ids)  # no data: no chart at all
    text = " ".join(run.text)
    assert "no data" not in text and "Key custody" in text and "Timeline" in text
    assert _pdf_pages(chromium, run_html, tmp_path) >= 1

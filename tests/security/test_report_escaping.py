"""Row 7 (and the principle behind it): a failing key or reason holding backticks, HTML,
Markdown or control characters reaches the run report as text, in Markdown, JSON and
HTML alike."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from markdown_it import MarkdownIt

from hdh_migrate.escaping import html_text, md_code, md_text
from hdh_migrate.reports.run_report import DatasetOutcome, RunReport, write_run_report

HOSTILE = [
    "a`<img src=x onerror=alert(1)>`b.csv",
    "``<script>alert(1)</script>``",
    "x|y</td><td>[click](javascript:alert(1))",
    "evil\x1b[2J\u202e\nnext line",
    "**bold** _em_ ![i](http://x/y.png) &amp; <b>",
]


def _html(markdown: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)


def _report(folder, dataset: str, wave: str, plan: str, key: str):
    start = datetime(2026, 12, 1, tzinfo=UTC)
    bad = DatasetOutcome(dataset, wave, listed=1, failed=[(key, f"reason {key}")])
    report = RunReport("run", plan, "run-1", start, start + timedelta(seconds=1), True, (bad,))
    return write_run_report(folder, report)


def _tags(html: str) -> Counter[str]:
    return Counter(re.findall(r"<([a-z0-9]+)", html))


@pytest.mark.parametrize("key", HOSTILE)
def test_the_markdown_run_report_renders_hostile_keys_as_text(tmp_path, key):
    _, benign = _report(tmp_path / "benign", "ds", "w1", "plan", "k.csv")
    as_json, as_md = _report(tmp_path / "hostile", "ds<b>", "w`1`", "plan<i>", key)
    rendered = _html(as_md.read_text())
    assert _tags(rendered) == _tags(_html(benign.read_text())), rendered
    assert "\x1b" not in as_md.read_text() and "\u202e" not in as_md.read_text()
    assert json.loads(as_json.read_text())["datasets"][0]["failed"][0]["key"] == key
    assert "\x1b" not in as_json.read_text()


@pytest.mark.parametrize("text", HOSTILE)
def test_each_format_helper_keeps_the_text(text):
    assert "<" not in _html(md_text(text)).replace("<p>", "").replace("</p>", "")
    code = _html(md_code(text))
    assert code.count("<code>") == 1 and "<img" not in code and "<script" not in code
    assert "<" not in html_text(text) and '"' not in html_text(text)

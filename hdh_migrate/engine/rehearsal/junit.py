"""A rehearsal's results as JUnit XML (one test case per step: what GitLab and GitHub show
natively) and as a Markdown summary (a CI job summary). Object keys, server messages and
plan text are data: XML escaping comes from ElementTree; Markdown escapes them here."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from hdh_migrate.engine.rehearsal.lifecycle import StepResult

SUITE = "hdh-migrate rehearse"
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def junit_xml(plan: str, results: Sequence[StepResult]) -> str:
    """One ``testsuite`` named after the plan; each step a ``testcase`` (failure/skipped)."""
    failures = sum(r.status == "failed" for r in results)
    skipped = sum(r.status == "skipped" for r in results)
    suite = ET.Element(
        "testsuite",
        name=f"{SUITE} {printable(plan)}",
        tests=str(len(results)),
        failures=str(failures),
        errors="0",
        skipped=str(skipped),
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    for result in results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=SUITE,
            name=printable(result.name),
            time=f"{result.seconds:.3f}",
        )
        if result.status == "failed":
            failure = ET.SubElement(case, "failure", message=printable(_failure_line(result)))
            failure.text = printable(_failure_line(result))
        elif result.status == "skipped":
            ET.SubElement(case, "skipped", message=printable(result.message))
        else:
            ET.SubElement(case, "system-out").text = printable(result.message)
    suites = ET.Element("testsuites", name=SUITE)
    suites.append(suite)
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


def markdown_summary(
    plan: str, results: Sequence[StepResult], notes: Sequence[str] = (), hooks: Sequence[str] = ()
) -> str:
    """A table of steps, then what the rehearsal plan changed and how hooks were sandboxed."""
    failed = next((r for r in results if r.status == "failed"), None)
    verdict = f"**FAILED** at step `{md(failed.name)}`" if failed else "**passed**"
    lines = [
        f"## hdh-migrate rehearse {md(plan)}: {verdict}",
        "",
        "| step | result | seconds | detail |",
        "|---|---|---|---|",
    ]
    icons = {"passed": "✅ passed", "failed": "❌ failed", "skipped": "⏭ skipped"}
    for r in results:
        detail = _failure_line(r) if r.status == "failed" else r.message
        lines.append(f"| {md(r.name)} | {icons[r.status]} | {r.seconds:.1f} | {md(detail)} |")
    for title, items in (("Rehearsal plan vs the plan", notes), ("Hooks", hooks)):
        if items:
            lines += ["", f"### {title}", "", *(f"- {md(item)}" for item in items)]
    return "\n".join(lines) + "\n"


def md(text: str) -> str:
    """``text`` as literal Markdown (table-safe, one line, no HTML)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(printable(text).split()))


def _failure_line(result: StepResult) -> str:
    where = f" (object: {result.key})" if result.key is not None else ""
    return f"step {result.name} failed{where}: {result.message}"


def printable(text: str) -> str:
    """``text`` with control characters (terminal escapes, NUL) replaced by ``?``."""
    return _CONTROL.sub("?", text)

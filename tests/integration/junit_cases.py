"""Reading a rehearsal's JUnit report in tests: each step's status and failure message."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

LIFECYCLE = [
    "derive",
    "validate",
    "seed",
    "target",
    "audit",
    "probe",
    "run",
    "rerun",
    "verify-full",
    "manifest-verify",
    "restore-sample",
]
"""The steps every rehearsal runs before its cutovers."""


def step_statuses(junit: Path) -> dict[str, str]:
    """Step name → passed | failed | skipped, in report order."""
    return {name: status(case) for name, case in cases(junit).items()}


def cases(junit: Path) -> dict[str, ET.Element]:
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    return {str(c.get("name")): c for c in suite.findall("testcase")}


def status(case: ET.Element) -> str:
    if case.find("failure") is not None:
        return "failed"
    return "skipped" if case.find("skipped") is not None else "passed"

"""docs/audit.md documents every rule and every top-level field of the JSON schema."""

from __future__ import annotations

from hdh_migrate.policy import all_rules
from tests.unit.policy.policy_helpers import REPO
from tests.unit.reports.test_reports import TOP_LEVEL

DOC = (REPO / "docs" / "audit.md").read_text("utf-8")


def test_every_rule_is_documented_with_its_default() -> None:
    for rule in all_rules():
        row = next((line for line in DOC.splitlines() if line.startswith(f"| {rule.id} |")), "")
        assert row, rule.id
        assert f"| {rule.default}" in row, rule.id
    assert "without SOV-11" in DOC


def test_every_json_field_is_documented() -> None:
    for name in TOP_LEVEL:
        assert f"| `{name}` |" in DOC, name

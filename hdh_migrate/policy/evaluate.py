"""Evaluate every registered rule on a plan and resolve each finding's severity.

Severity of a violation: ``policy.severity[rule]`` if the plan sets it, else the profile's
(``hdh`` makes SOV-09 blocking; so does ``require_client_side_encryption: true`` written
in the plan; outside ``hdh``, ``require_verification: false`` lowers SOV-12 to warn), else
the rule's default. Notices keep the severity their rule gave them.
Changes to the policy itself are reported under the pseudo-rule ``POLICY``, long-lived
shared keys on sources under ``CREDENTIALS`` (``policy/credentials.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

from hdh_migrate.policy.context import PolicyInput
from hdh_migrate.policy.credentials import (
    CREDENTIALS_RULE,
    CREDENTIALS_TITLE,
    credential_findings,
)
from hdh_migrate.policy.findings import Finding, Severity
from hdh_migrate.policy.registry import MISSING_RULES, Raised, Rule, all_rules

POLICY_RULE = "POLICY"
POLICY_TITLE = "policy settings"


def evaluate(inp: PolicyInput) -> list[Finding]:
    """Every finding, most severe first, then in file order."""
    findings = [_finding(inp, rule, raised) for rule in all_rules() for raised in rule.check(inp)]
    findings += [_policy_finding(inp, r) for r in policy_notes(inp)]
    findings += [
        _pseudo_finding(inp, r, CREDENTIALS_RULE, CREDENTIALS_TITLE)
        for r in credential_findings(inp)
    ]
    return sorted(findings, key=Finding.sort_key)


def severity_of(inp: PolicyInput, rule: Rule) -> Severity:
    """The severity a violation of ``rule`` gets in this plan."""
    policy = inp.plan.policy
    if rule.id in policy.severity:
        return policy.severity[rule.id]
    if rule.id == "SOV-09" and _explicit_cse(inp):
        return "block"
    if rule.id == "SOV-12" and policy.profile != "hdh" and not policy.require_verification:
        return "warn"
    return inp.profile.severities.get(rule.id, rule.default)


def _explicit_cse(inp: PolicyInput) -> bool:
    policy = inp.plan.policy
    return "require_client_side_encryption" in policy.model_fields_set and (
        policy.require_client_side_encryption
    )


def _finding(inp: PolicyInput, rule: Rule, raised: Raised) -> Finding:
    severity = raised.severity or severity_of(inp, rule)
    location = inp.at(raised.path, key=raised.at_key)
    return Finding(rule.id, severity, rule.title, location, raised.why, raised.fix, raised.subject)


def _policy_finding(inp: PolicyInput, raised: Raised) -> Finding:
    return _pseudo_finding(inp, raised, POLICY_RULE, POLICY_TITLE)


def _pseudo_finding(inp: PolicyInput, raised: Raised, rule: str, title: str) -> Finding:
    location = inp.at(raised.path, key=raised.at_key)
    severity = raised.severity or "warn"
    return Finding(rule, severity, title, location, raised.why, raised.fix, raised.subject)


def policy_notes(inp: PolicyInput) -> Iterator[Raised]:
    """What the policy section itself changes: overrides, ignored switches, REHEARSAL."""
    rules = {rule.id: rule for rule in all_rules()}
    policy = inp.plan.policy
    for rule_id, severity in policy.severity.items():
        path = ("policy", "severity", rule_id)
        if rule_id not in rules:
            what = (
                "does not exist (PROVIDERS.md has no SOV-11)"
                if rule_id in MISSING_RULES
                else "is not a known rule"
            )
            yield Raised(
                path,
                f"{rule_id} {what}: the override has no effect",
                "remove it or fix the rule id",
                rule_id,
                at_key=True,
            )
            continue
        default = inp.profile.severities.get(rule_id, rules[rule_id].default)
        if _rank(severity) > _rank(default):
            yield Raised(
                path,
                f"{rule_id} lowered from {default} to {severity} by the plan",
                "make sure a reviewer approved this exception",
                rule_id,
                at_key=True,
            )
    yield from _switch_notes(inp)


def _switch_notes(inp: PolicyInput) -> Iterator[Raised]:
    policy = inp.plan.policy
    if policy.profile == "hdh":
        if not policy.require_client_side_encryption:
            yield Raised(
                ("policy", "require_client_side_encryption"),
                "profile hdh requires client-side encryption: this switch is ignored",
                "remove it (SOV-09 still blocks)",
            )
        if not policy.require_verification:
            yield Raised(
                ("policy", "require_verification"),
                "profile hdh requires verification: this switch is ignored",
                "remove it",
            )
        if policy.rehearsal:
            yield Raised(
                ("policy", "rehearsal"),
                "rehearsal: true is ignored under profile hdh: no target is exempt",
                "use profile: rehearsal for a rehearsal",
            )
    elif not policy.rehearsal:
        yield Raised(
            ("policy", "profile"),
            "profile rehearsal without rehearsal: true: local "
            "targets are not exempt from the service rules",
            "add rehearsal: true under policy",
        )
    if inp.rehearsal:
        yield Raised(
            ("policy", "profile"),
            "REHEARSAL plan: nothing here is sovereign; do not put real health data through it",
            "use a production plan (profile hdh) for real data",
            severity="info",
        )


def _rank(severity: Severity) -> int:
    return ("block", "warn", "info").index(severity)

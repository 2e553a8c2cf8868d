"""Sovereignty policy: rules SOV-01 … SOV-16 (no SOV-11) evaluated on a plan, the provider
registry (with dated evidence), the probe cache and the journal's dataset states.

    source = read_plan("plan.yaml")
    findings = evaluate(PolicyInput(source.plan, source.file, source.locations, today))
    enforce(findings, override=None)       # PolicyError (exit 3) on a blocking finding

Modules: ``findings`` (Finding, Location, severities), ``profiles`` (hdh, rehearsal),
``registry`` (the rule registry), ``rules/`` (one function per rule), ``context``
(PolicyInput), ``targets`` (facts about a target), ``evaluate`` (severity resolution),
``enforce`` (the run gate), ``source`` (plan + positions).
"""

from __future__ import annotations

from hdh_migrate.policy.context import PolicyInput
from hdh_migrate.policy.enforce import Override, enforce
from hdh_migrate.policy.evaluate import POLICY_RULE, POLICY_TITLE, evaluate, severity_of
from hdh_migrate.policy.findings import SEVERITIES, Finding, Location, Severity, blocking, worst
from hdh_migrate.policy.profiles import PROFILES, Profile
from hdh_migrate.policy.registry import MISSING_RULES, RULES, Rule, all_rules
from hdh_migrate.policy.source import PlanSource, read_plan

__all__ = [
    "MISSING_RULES",
    "POLICY_RULE",
    "POLICY_TITLE",
    "PROFILES",
    "RULES",
    "SEVERITIES",
    "Finding",
    "Location",
    "Override",
    "PlanSource",
    "PolicyInput",
    "Profile",
    "Rule",
    "Severity",
    "all_rules",
    "blocking",
    "enforce",
    "evaluate",
    "read_plan",
    "severity_of",
    "worst",
]

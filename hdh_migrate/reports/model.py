"""The audit report: plain, typed, JSON-ready data (schema ``hdh-migrate/audit/v1``).

Built by ``hdh_migrate.engine.audit``; rendered by ``json_report``, ``markdown``, ``html``,
``sarif``. Every number is bytes or a count; every date ISO 8601. Field meanings are
documented in docs/audit.md (keep both in step; bump the schema version on any change that
is not a pure addition).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA = "hdh-migrate/audit/v1"


@dataclass(frozen=True)
class FindingRow:
    """One policy finding (see hdh_migrate.policy.Finding)."""

    rule: str
    severity: str
    title: str
    subject: str
    file: str
    line: int
    column: int
    path: str
    why: str
    fix: str


@dataclass(frozen=True)
class RuleRow:
    """A rule as evaluated: its effective severity for this plan and how many findings."""

    id: str
    title: str
    severity: str
    summary: str
    findings: int


@dataclass(frozen=True)
class Bucket:
    """Objects whose size is in [lower, upper) — log2 buckets; the first is [0, 1)."""

    lower: int
    upper: int
    count: int
    bytes: int


@dataclass(frozen=True)
class ObjectRow:
    key: str
    size: int
    note: str = ""


@dataclass
class Sample:
    """A count with the first few examples (bounded)."""

    count: int = 0
    bytes: int = 0
    examples: list[ObjectRow] = field(default_factory=list)


@dataclass
class Inventory:
    """What the dataset's source holds under its selection."""

    objects: int = 0
    bytes: int = 0
    histogram: list[Bucket] = field(default_factory=list)
    largest: list[ObjectRow] = field(default_factory=list)
    over_limit: Sample = field(default_factory=Sample)
    archive_tier: Sample = field(default_factory=Sample)
    bad_names: Sample = field(default_factory=Sample)
    metadata_not_carried: dict[str, int] = field(default_factory=dict)
    objects_losing_metadata: int = 0


@dataclass
class Diff:
    """Source selection against the target (and the journal)."""

    new: Sample = field(default_factory=Sample)
    changed: Sample = field(default_factory=Sample)
    identical: Sample = field(default_factory=Sample)
    identical_by_journal: int = 0
    identical_by_target: int = 0
    extra_on_target: Sample = field(default_factory=Sample)
    journal_disagrees: int = 0
    target_listed: bool = True
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Estimate:
    """What moving the new and changed objects costs: ``scope`` is a wave name or total."""

    scope: str
    objects: int
    bytes: int
    stored_bytes: int
    seconds: float | None
    bandwidth: int | None
    bandwidth_source: str
    puts: int
    gets: int
    heads: int
    lists: int
    egress_cost: float | None
    request_cost: float | None
    currency: str | None


@dataclass
class DatasetReport:
    """One dataset: where it reads and writes, and (when listed) inventory and diff."""

    name: str
    wave: str
    source: str
    target: str
    target_prefix: str
    status: str  # listed | skipped | unreachable | failed
    note: str = ""
    inventory: Inventory | None = None
    diff: Diff | None = None


@dataclass(frozen=True)
class PlanInfo:
    name: str
    file: str
    sha256: str
    profile: str
    rehearsal: bool
    state_dir: str


@dataclass
class AuditReport:
    """The whole audit. ``verdict``: block (exit 3), warn, pass (exit 0)."""

    tool_version: str
    generated_at: str
    as_of: str
    plan: PlanInfo
    verdict: str
    exit_code: int
    findings: list[FindingRow]
    rules: list[RuleRow]
    inventory_mode: str  # full | skipped
    datasets: list[DatasetReport]
    waves: list[Estimate]
    total: Estimate | None
    notes: list[str] = field(default_factory=list)
    schema: str = SCHEMA

    @property
    def rehearsal(self) -> bool:
        return self.plan.rehearsal

    def counts(self) -> dict[str, int]:
        """Findings per severity."""
        found = {"block": 0, "warn": 0, "info": 0}
        for row in self.findings:
            found[row.severity] = found.get(row.severity, 0) + 1
        return found

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["findings_by_severity"] = self.counts()
        return {"schema": self.schema, **{k: v for k, v in data.items() if k != "schema"}}

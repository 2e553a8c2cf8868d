"""Read a plan file and validate it completely: YAML, secrets, shapes, cross-references.

``check_plan(path)`` returns every error and warning with its position; ``load_plan(path)``
returns the typed ``Plan`` or raises ``InvalidPlan`` (a ``PlanError``, exit 2) whose
one-line message is the first error in file order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hdh_migrate.errors import PlanError, UsageError
from hdh_migrate.plan.errors import InvalidPlan, issues_from_validation, to_plan_error, type_label
from hdh_migrate.plan.issues import Issue, dotted
from hdh_migrate.plan.loader import Document, LoadProblem, Locations, load_document
from hdh_migrate.plan.model import Plan
from hdh_migrate.plan.portable import resolve_public
from hdh_migrate.plan.references import check_references
from hdh_migrate.plan.secrets_scan import scan

MAX_PLAN_BYTES = 4 * 1024**2


@dataclass(frozen=True)
class CheckResult:
    """The outcome of validating one plan file."""

    file: str
    plan: Plan | None
    errors: list[PlanError] = field(default_factory=list)
    warnings: list[PlanError] = field(default_factory=list)
    locations: Locations = field(default_factory=Locations)  # where each value is written

    @property
    def valid(self) -> bool:
        return self.plan is not None and not self.errors


def load_plan(path: str | Path) -> Plan:
    """The validated plan, or InvalidPlan naming the first error (file:line:column)."""
    result = check_plan(path)
    if result.errors or result.plan is None:
        raise InvalidPlan(result.errors)
    return result.plan


def check_plan(path: str | Path) -> CheckResult:
    """Validate a plan file. Raises UsageError only when the file cannot be read at all."""
    file = str(path)
    result = check_text(read_plan_text(Path(path)), file)
    if result.plan is not None:
        result.plan.anchored(Path(path))  # state_dir is taken from the plan file's directory
    return result


def read_plan_text(path: Path) -> str:
    """The file as text. Missing, unreadable, too large → UsageError; binary → PlanError."""
    try:
        if path.is_dir():
            raise UsageError(f"{path} is a directory, not a plan file", hint="name a .yaml file")
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"plan file not found: {path}", hint="check the path") from None
    except PermissionError:
        raise UsageError(f"plan file not readable: {path}", hint="check permissions") from None
    except OSError as exc:
        raise UsageError(f"cannot read plan file {path}: {exc.strerror}") from None
    if len(data) > MAX_PLAN_BYTES:
        raise UsageError(f"plan file {path} is larger than 4 MiB", hint="is it really a plan?")
    return _decode(data, str(path))


def _decode(data: bytes, file: str) -> str:
    try:
        if b"\x00" in data:
            raise UnicodeDecodeError("utf-8", data, 0, 1, "NUL byte")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidPlan(
            [
                PlanError(
                    "not a text file (binary or not UTF-8)",
                    file=file,
                    line=1,
                    column=1,
                    hint="a plan is a UTF-8 YAML file",
                )
            ]
        ) from None


def check_text(text: str, file: str = "<plan>") -> CheckResult:
    """Validate plan text; ``file`` is used in positions."""
    try:
        document = load_document(text)
    except LoadProblem as exc:
        error = PlanError(exc.message, file=file, line=exc.line, column=exc.column,
                          path=dotted(exc.path), hint=exc.hint)  # fmt: skip
        return CheckResult(file, None, [error])
    shape = _shape_issue(document.data)
    if shape is not None:
        error = to_plan_error(shape, file, document.locations)
        return CheckResult(file, None, [error], locations=document.locations)
    return _check_document(document, file)


def _shape_issue(data: Any) -> Issue | None:
    if data is None:
        return Issue((), "the plan is empty", "start with version: 1, name:, sources:, …")
    if not isinstance(data, dict):
        return Issue(
            (),
            f"the plan must be a mapping, got {type_label(data)}",
            "start with version: 1, name:, sources:, targets:, waves:",
        )
    return None


def _check_document(document: Document, file: str) -> CheckResult:
    issues = scan(document.data)
    resolved = resolve_public(document.data)  # ${env:…} in endpoints, buckets, ports
    issues += resolved.issues
    plan: Plan | None = None
    try:
        plan = Plan.model_validate(resolved.data)
    except ValidationError as exc:
        issues += issues_from_validation(exc, resolved.data, Plan)
    if plan is not None:
        issues += check_references(plan)
    issues = resolved.annotate(issues)
    errors = _place(_unique(i for i in issues if i.severity == "error"), file, document.locations)
    warnings = _place([i for i in issues if i.severity == "warning"], file, document.locations)
    valid = plan if not errors else None
    return CheckResult(file, valid, errors, warnings, document.locations)


def _unique(issues: Any) -> list[Issue]:
    """One issue per path (the first found: a secret finding wins over a type error)."""
    seen: dict[tuple[Any, ...], Issue] = {}
    for issue in issues:
        seen.setdefault(issue.path, issue)
    return list(seen.values())


def _place(issues: list[Issue], file: str, locations: Locations) -> list[PlanError]:
    errors = [to_plan_error(issue, file, locations) for issue in issues]
    return sorted(errors, key=lambda e: (e.line, e.column))

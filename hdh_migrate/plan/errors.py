"""Pydantic validation errors → plan issues with data paths; issues → ``PlanError``.

Messages say what is wrong and what was expected, never the offending value (it may be a
secret); they name the type found instead ("expected an integer, got a string").
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from hdh_migrate.errors import PlanError
from hdh_migrate.plan.issues import Issue, choice_hint, did_you_mean, dotted, reference_hint
from hdh_migrate.plan.loader import DataPath, Locations
from hdh_migrate.plan.types import (
    BUCKET_PATTERN,
    CONTAINER_PATTERN,
    NAME_PATTERN,
    REFERENCE_REQUIRED,
    RULE_PATTERN,
)

Loc = tuple[int | str, ...]

_PATTERNS = {
    NAME_PATTERN: "expected a name of letters, digits, '.', '_' or '-' (at most 63, "
    "starting with a letter or digit)",
    BUCKET_PATTERN: "expected an S3 bucket name: 3–63 lowercase letters, digits, '.' and '-'",
    CONTAINER_PATTERN: "expected an Azure container name: 3–63 lowercase letters, digits and "
    "single hyphens",
    RULE_PATTERN: "expected a rule id such as SOV-09",
    r"^[A-Z]{3}$": "expected a three-letter ISO 4217 currency code such as EUR",
}


_EXPECTED = (
    ("int_", "an integer"),
    ("bool_", "true or false"),
    ("float_", "a number"),
    ("string_type", "a string"),
    ("list_", "a list"),
    ("dict_", "a mapping"),
    ("model_", "a mapping"),
    ("date_", "a date such as 2026-03-01"),
)


# Errors raised by the plan's own value types for an input of the wrong YAML type.
_CUSTOM_TYPE_ERRORS = frozenset(
    {"secret_type", "text_type", "size_type", "rate_type", "percent_type", "url_type"}
)


class InvalidPlan(PlanError):
    """A plan with one or more errors. Shows the first (and how many more); ``errors``
    holds them all, in file order."""

    def __init__(self, errors: list[PlanError]) -> None:
        first = errors[0]
        super().__init__(
            first.message,
            file=first.file,
            line=first.line,
            column=first.column,
            path=first.path,
            hint=first.hint,
        )
        self.errors = tuple(errors)

    def one_line(self) -> str:
        more = len(self.errors) - 1
        suffix = f" [+{more} more error{'s' if more > 1 else ''}: validate --json]" if more else ""
        return self.errors[0].one_line() + suffix


def to_plan_error(issue: Issue, file: str, locations: Locations) -> PlanError:
    """Place an issue in the file."""
    line, column = locations.of(issue.path, key=issue.at_key)
    return PlanError(
        issue.message,
        file=file,
        line=line,
        column=column,
        path=dotted(issue.path),
        hint=issue.hint,
    )


def issues_from_validation(exc: ValidationError, data: Any, model: type[BaseModel]) -> list[Issue]:
    """One issue per pydantic error, with paths expressed in the document's terms. A missing
    key is left out when a misspelling of it is reported in the same mapping."""
    issues = [_issue(error, data, model) for error in exc.errors(include_url=False)]
    unknown = {(i.path[:-1], str(i.path[-1])) for i in issues if i.at_key and i.path}
    return [i for i in issues if not _misspelled(i, unknown)]


def _misspelled(issue: Issue, unknown: set[tuple[DataPath, str]]) -> bool:
    if not issue.message.startswith("missing required key") or not issue.path:
        return False
    parent, name = issue.path[:-1], str(issue.path[-1])
    return any(p == parent and did_you_mean(u, [name]) for p, u in unknown)


def _issue(error: ErrorDetails, data: Any, model: type[BaseModel]) -> Issue:
    loc = tuple(error["loc"])
    path, value, at_key = _data_path(loc, data)
    kind = error["type"]
    if kind == "missing":
        return Issue(path, f"missing required key {path[-1]!r}", f"add {path[-1]}: here")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        return Issue(path, f"unknown key {path[-1]!r}", _keys_hint(str(path[-1]), allowed), True)
    if kind == REFERENCE_REQUIRED:
        return Issue(path, "literal secret", reference_hint(path))
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _tag_issue(error, path, value, model, loc)
    hint = _hint(kind, path) or _description(model, loc)
    return Issue(path, _message(error, value, path), hint, at_key)


def _data_path(loc: Loc, data: Any) -> tuple[DataPath, Any, bool]:
    """Map a pydantic location to the document path: drop discriminator tags, note keys."""
    path: list[str | int] = []
    current, at_key = data, False
    for segment in loc:
        if segment == "[key]":
            at_key = True
        elif _has(current, segment):
            path.append(segment)
            current = current[segment]
        elif not (isinstance(current, dict) and current.get("kind") == segment):
            path.append(segment)
            current = None
    return tuple(path), current, at_key


def _has(container: Any, segment: int | str) -> bool:
    if isinstance(container, dict):
        return segment in container
    return isinstance(container, list) and isinstance(segment, int) and segment < len(container)


def _keys_hint(name: str, allowed: list[str]) -> str:
    return choice_hint(name, allowed, "valid keys here") if allowed else "remove it"


def _tag_issue(
    error: ErrorDetails, path: DataPath, value: Any, model: type[BaseModel], loc: Loc
) -> Issue:
    tags = _union_tags(_annotation_at(model, loc))
    if error["type"] == "union_tag_not_found":
        return Issue((*path, "kind"), "missing required key 'kind'", _kinds(tags))
    given = str(value.get("kind")) if isinstance(value, dict) else ""
    return Issue((*path, "kind"), "unknown kind", choice_hint(given, tags, "expected one of"))


def _kinds(tags: list[str]) -> str:
    return "add kind: " + " | ".join(tags) if tags else "add kind:"


def _message(error: ErrorDetails, value: Any, path: DataPath) -> str:
    kind, msg = error["type"], error["msg"]
    if path == ("version",):
        return "unsupported plan version: this tool reads version 1"
    if kind == "string_pattern_mismatch":
        return _PATTERNS.get(str((error.get("ctx") or {}).get("pattern")), "invalid format")
    if kind in ("too_short",) and isinstance(value, list | dict):
        return "must not be empty"
    expected = next((e for prefix, e in _EXPECTED if kind.startswith(prefix)), None)
    if expected is not None:
        return f"expected {expected}, got {type_label(value)}"
    if kind in _CUSTOM_TYPE_ERRORS:
        return f"{msg}, got {type_label(value)}"
    text = msg.removeprefix("Value error, ")
    return text.replace("Input should be", "expected").replace("Input should", "expected to")


def _hint(kind: str, path: DataPath) -> str | None:
    if kind == "too_short" and path:
        return f"add at least one entry under {path[-1]}"
    if path == ("version",):
        return "write version: 1"
    return None


def type_label(value: Any) -> str:
    """What kind of YAML value this is, without showing it."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true/false"
    labels = {dict: "a mapping", list: "a list", str: "a string", int: "a number"}
    return next((v for t, v in labels.items() if isinstance(value, t)), "a number")


# --- walking the model's annotations along a pydantic location ---------------------------


def _description(model: type[BaseModel], loc: Loc) -> str | None:
    """The description of the field at ``loc`` (what it is for), when there is one."""
    if not loc or not isinstance(loc[-1], str):
        return None
    parent = _unwrap(_annotation_at(model, loc[:-1]))
    field = parent.model_fields.get(loc[-1]) if _is_model(parent) else None
    return field.description if field else None


def _allowed_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    target = _unwrap(_annotation_at(model, loc))
    return list(target.model_fields) if _is_model(target) else []


def _annotation_at(model: type[BaseModel], loc: Loc) -> Any:
    current: Any = model
    for segment in loc:
        if current is None:
            return None
        current = _step(current, segment)
    return current


def _step(annotation: Any, segment: int | str) -> Any:
    current = _unwrap(annotation)
    if _is_model(current):
        field = current.model_fields.get(str(segment))
        return field.annotation if field else None
    origin, args = typing.get_origin(current), typing.get_args(current)
    if origin is list and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    members = _members(current)
    return next((m for m in members if _tag_of(m) == segment), None) if members else None


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated and Optional until a model, a container or a real union remains."""
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        members = [m for m in _members(annotation) if m is not type(None)]
        if _members(annotation) and len(members) == 1:
            annotation = members[0]
            continue
        return annotation


def _members(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return list(typing.get_args(annotation))
    return []


def _is_model(annotation: Any) -> bool:
    return inspect.isclass(annotation) and issubclass(annotation, BaseModel)


def _tag_of(annotation: Any) -> str | None:
    member = _unwrap(annotation)
    field = member.model_fields.get("kind") if _is_model(member) else None
    args = typing.get_args(field.annotation) if field else ()
    return str(args[0]) if args else None


def _union_tags(annotation: Any) -> list[str]:
    members = _members(_unwrap(annotation))
    return [tag for tag in (_tag_of(m) for m in members) if tag]

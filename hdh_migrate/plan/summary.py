"""What ``validate`` reports about a valid plan, as plain data (the CLI renders it).

Secrets appear as their references (``${env:NAME}``), which name where the value lives,
never the value.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from hdh_migrate.errors import PlanError, UsageError
from hdh_migrate.plan.model import Plan
from hdh_migrate.plan.targets import S3Target
from hdh_migrate.providers import get_preset
from hdh_migrate.secrets import SecretRef


def summarize(plan: Plan, warnings: list[PlanError] | None = None) -> dict[str, Any]:
    """Counts and names of everything in the plan, the secrets it references, warnings."""
    return {
        "name": plan.name,
        "version": plan.version,
        "profile": plan.policy.profile,
        "rehearsal": plan.policy.rehearsal,
        "state_dir": str(plan.state_path),
        "sources": {name: source.kind for name, source in plan.sources.items()},
        "targets": {name: _target(plan, name) for name in plan.targets},
        "keys": {name: key.kind for name, key in plan.keys.items()},
        "waves": [_wave(plan, index) for index in range(len(plan.waves))],
        "counts": {
            "waves": len(plan.waves),
            "datasets": sum(len(wave.datasets) for wave in plan.waves),
            "sources": len(plan.sources),
            "targets": len(plan.targets),
            "keys": len(plan.keys),
        },
        "secrets": sorted({str(ref) for _, ref in secret_refs(plan)}),
        "warnings": [_warning(w) for w in warnings or []],
    }


def _target(plan: Plan, name: str) -> dict[str, Any]:
    target = plan.targets[name]
    if not isinstance(target, S3Target):
        return {"kind": target.kind, "location": target.location}
    return {
        "provider": target.provider,
        "region": target.region,
        "bucket": target.bucket,
        "endpoint": target.endpoint or _preset_endpoint(target),
        "explicit_endpoint": target.endpoint is not None,
    }


def _preset_endpoint(target: S3Target) -> str | None:
    """The preset's endpoint for the target's region (None when it cannot be derived)."""
    extra = {"namespace": target.namespace} if target.namespace else {}
    try:
        return get_preset(target.provider).endpoint(target.region, **extra)
    except UsageError:
        return None


def _wave(plan: Plan, index: int) -> dict[str, Any]:
    wave = plan.waves[index]
    return {
        "name": wave.name,
        "depends_on": list(wave.depends_on),
        "cutover": wave.cutover is not None,
        "datasets": [_dataset(plan, d.name) for d in wave.datasets],
    }


def _dataset(plan: Plan, name: str) -> dict[str, Any]:
    effective = plan.effective(name)
    return {
        "name": name,
        "source": effective.dataset.source,
        "location": effective.location,
        "prefix": effective.dataset.prefix,
        "target": effective.dataset.target,
        "target_prefix": effective.dataset.target_prefix,
        "key": effective.key_name,
        "verify": str(effective.verify),
    }


def _warning(warning: PlanError) -> dict[str, Any]:
    return {
        "file": warning.file,
        "line": warning.line,
        "column": warning.column,
        "path": warning.path,
        "message": warning.message,
        "hint": warning.hint,
    }


def secret_refs(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, SecretRef]]:
    """Every secret reference in a model tree, with its dotted path."""
    for name in type(model).model_fields:
        yield from _refs_in(getattr(model, name), f"{prefix}{name}")


def _refs_in(value: Any, path: str) -> Iterator[tuple[str, SecretRef]]:
    if isinstance(value, SecretRef):
        yield path, value
    elif isinstance(value, BaseModel):
        yield from secret_refs(value, path + ".")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _refs_in(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _refs_in(item, f"{path}[{index}]")

"""``whoami``: for each source and target of a plan, the identity that would be used and
whether it may do what the plan needs — a dry run of permissions before a wave.

Sources: ``list`` (one page under the first dataset's prefix) and ``read`` (the first
byte of the first object listed). Targets: ``list`` and ``write`` (an empty object under
the first dataset's target prefix, deleted at once). Nothing else is written. A refusal
is a result, not an exception: the caller decides the exit code.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from hdh_migrate.backends.registry import open_spec, redact_url
from hdh_migrate.backends.s3_config import S3Settings
from hdh_migrate.engine.credential_kinds import describe_source, describe_target
from hdh_migrate.engine.specs import source_spec, target_spec
from hdh_migrate.errors import AuthError, HdhError
from hdh_migrate.plan import EffectiveDataset, Plan
from hdh_migrate.stages.items import Spec


@dataclass(frozen=True)
class Check:
    """One action tried: ``outcome`` is ok, refused or failed, ``detail`` says why."""

    action: str
    outcome: str
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"action": self.action, "outcome": self.outcome, "detail": self.detail}


@dataclass(frozen=True)
class Access:
    """An endpoint of the plan, the identity it is reached with, and what it may do."""

    role: str
    name: str
    identity: str
    checks: tuple[Check, ...]

    @property
    def refused(self) -> list[Check]:
        return [c for c in self.checks if c.outcome != "ok"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "name": self.name,
            "identity": self.identity,
            "checks": [c.to_dict() for c in self.checks],
        }


def whoami(plan: Plan) -> list[Access]:
    """Every source a dataset reads and every target of the plan, checked."""
    return [*_sources(plan), *_targets(plan)]


def _sources(plan: Plan) -> Iterator[Access]:
    seen: set[str] = set()
    for eff in _datasets(plan):
        name = eff.dataset.source
        if name in seen:
            continue
        seen.add(name)
        checks = _source_checks(source_spec(eff), eff.dataset.prefix)
        yield Access("source", name, describe_source(plan.sources[name]), checks)


def _targets(plan: Plan) -> Iterator[Access]:
    for name, target in plan.targets.items():
        writes = (e.dataset.target_prefix for e in _datasets(plan) if e.dataset.target == name)
        prefix = next(writes, "")
        spec = target_spec(plan, name)
        identity = describe_target(target) + _key_id(spec)
        yield Access("target", name, identity, _target_checks(spec, prefix))


def _datasets(plan: Plan) -> Iterator[EffectiveDataset]:
    return (plan.effective(ds) for _, ds in plan.iter_datasets())


def _source_checks(spec: Spec, prefix: str) -> tuple[Check, ...]:
    backend = _open(spec)
    if isinstance(backend, Check):
        return (backend,)
    first: list[str] = []
    listed = _try("list", lambda: first.extend(i.key for i in islice(backend.list(prefix), 1)))
    if listed.outcome != "ok":
        return (listed,)
    if not first:
        return (listed, Check("read", "ok", "nothing to read under the prefix yet"))
    return (listed, _try("read", lambda: _read_one_byte(backend, first[0])))


def _target_checks(spec: Spec, prefix: str) -> tuple[Check, ...]:
    backend = _open(spec)
    if isinstance(backend, Check):
        return (backend,)
    listed = _try("list", lambda: list(islice(backend.list(prefix), 1)))
    key = f"{prefix}.hdh-whoami-{secrets.token_hex(6)}"
    written = _try("write", lambda: _write_and_delete(backend, key))
    return (listed, written)


def _open(spec: Spec) -> Any:
    try:
        return open_spec(spec.backend_spec)
    except HdhError as exc:
        return _failed("connect", exc)


def _read_one_byte(backend: Any, key: str) -> None:
    with backend.open_read(key, range=(0, 0)) as stream:
        stream.read(1)


def _write_and_delete(backend: Any, key: str) -> None:
    backend.write(key, io.BytesIO(b""), 0)
    backend.delete(key)


def _try(action: str, fn: Callable[[], object]) -> Check:
    try:
        fn()
    except HdhError as exc:
        return _failed(action, exc)
    return Check(action, "ok")


def _failed(action: str, exc: HdhError) -> Check:
    outcome = "refused" if isinstance(exc, AuthError) else "failed"
    return Check(action, outcome, exc.one_line())


def _key_id(spec: Spec) -> str:
    """`` (key AKIA…)``: the first characters of a static access key id, never more."""
    config = spec.config
    if not isinstance(config, S3Settings):
        return ""
    access = config.access_key
    try:
        value = access.reveal() if access is not None else ""
    except HdhError:
        return " (key not set here)"
    where = redact_url(str(config.endpoint_url or "aws"))
    return f" (key {value[:4]}…) at {where}" if value else f" at {where}"

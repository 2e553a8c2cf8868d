"""Portable plans: public fields written as ``${env:NAME}`` or ``${env:NAME:-default}``.

Endpoints, bucket and container names, hosts and ports may come from the environment, so
one plan runs against the devstack on any port offset, a CI service or a laptop. The
references are resolved when the plan is loaded, *before* validation: the resolved value
goes through the same checks as a written one (URL rules, bucket-name rules, port range).
An error about a resolved value names the reference, never the value.

Only ``env`` references are resolved here; secrets stay ``SecretRef``s until a client is
built (``hdh_migrate.secrets``), and ``${file:…}`` in a ``host`` keeps its use-time meaning.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from hdh_migrate.plan.issues import Issue
from hdh_migrate.plan.loader import DataPath
from hdh_migrate.secrets import SecretRef, is_reference

PUBLIC_FIELDS = frozenset({"endpoint", "account_url", "bucket", "container", "host", "port"})
"""Keys whose ``${env:…}`` value is resolved at load time (anywhere in the plan)."""


@dataclass
class Resolved:
    """The document with public references replaced, where each came from, what failed."""

    data: Any
    origins: dict[DataPath, str] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)

    def annotate(self, issues: list[Issue]) -> list[Issue]:
        """Add "the value comes from ${env:NAME}" to the hint of issues about resolved values."""
        return [self._annotated(issue) for issue in issues]

    def _annotated(self, issue: Issue) -> Issue:
        ref = self.origins.get(issue.path)
        if ref is None:
            return issue
        note = f"the value comes from {ref} (resolved, not shown)"
        return replace(issue, hint=f"{issue.hint.rstrip('.')}; {note}" if issue.hint else note)


def resolve_public(data: Any) -> Resolved:
    """A copy of ``data`` with every public-field ``${env:…}`` reference resolved."""
    resolved = Resolved(None)
    resolved.data = _walk(data, (), resolved)
    return resolved


def _walk(value: Any, path: DataPath, out: Resolved) -> Any:
    if isinstance(value, dict):
        return {k: _entry(k, v, (*path, k), out) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(item, (*path, i), out) for i, item in enumerate(value)]
    return value


def _entry(key: str, value: Any, path: DataPath, out: Resolved) -> Any:
    if key not in PUBLIC_FIELDS or not isinstance(value, str) or not is_reference(value):
        return _walk(value, path, out)
    ref = SecretRef.parse(value)
    if ref.scheme != "env":
        return value
    text = os.environ.get(ref.name) or ref.default
    if text is None:
        out.issues.append(
            Issue(
                path,
                f"environment variable {ref.name} is not set",
                f'export {ref.name}=… (the devstack: eval "$(python -m devstack env)"), or '
                f"write ${{env:{ref.name}:-default}}",
            )
        )
        return value
    out.origins[path] = str(ref)
    text = text.strip()
    return int(text) if key == "port" and text.isdigit() else text

"""The gate ``run`` passes before a byte moves: blocking findings stop it (exit 3) unless
the operator gives an explicit reason, which the caller must record and print."""

from __future__ import annotations

from dataclasses import dataclass

from hdh_migrate.errors import PolicyError
from hdh_migrate.policy.findings import Finding, blocking

MIN_REASON_CHARS = 8


@dataclass(frozen=True)
class Override:
    """A recorded decision to run despite blocking findings."""

    reason: str
    rules: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {"reason": self.reason, "rules": list(self.rules)}

    def line(self) -> str:
        return f"POLICY OVERRIDE ({', '.join(self.rules)}): {self.reason}"


def enforce(findings: list[Finding], override: str | None) -> Override | None:
    """None when nothing blocks; an Override when blocks are overridden; else PolicyError
    naming the first blocking finding (file:line:column) and how many there are."""
    blocks = blocking(findings)
    if not blocks:
        return None
    if override is None:
        first = blocks[0]
        more = f" (+{len(blocks) - 1} more)" if len(blocks) > 1 else ""
        raise PolicyError(
            f"{first.location}: {first.rule} {first.why}{more}",
            hint="see `hdh-migrate audit PLAN`; fix the plan, or run with "
            "--override-policy REASON (recorded)",
        )
    reason = " ".join(override.split())
    if len(reason) < MIN_REASON_CHARS:
        raise PolicyError(
            "--override-policy needs a real reason (who decided, why)",
            hint='e.g. --override-policy "DPO approval 2026-11-29, ticket SEC-42"',
        )
    return Override(reason, tuple(sorted({f.rule for f in blocks})))

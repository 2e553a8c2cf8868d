"""Cutover gates: the conditions a wave must meet before its readers are switched.

Each gate is evaluated into a ``GateResult`` (what was measured, and what would satisfy
it); ``enforce`` raises GateRefusedError (exit 6) naming the first refused gate. Gates:

- ``depends_on``: every wave this one depends on is finalized;
- ``verified``: the share of the wave's objects verified at the target (objects deleted at
  the source excepted; flagged objects count as not verified);
- ``freeze``: every dataset's freeze probe was refused by the source;
- ``max_delta_objects``: the residual delta (objects still changing after the delta sync,
  i.e. while frozen) is at most this;
- ``approvals``: approvals recorded since the last rollback (with ``allowed_signers``: only
  verified SSH-signed ones, see approvals.py);
- ``roles``: every role of ``gates.roles`` signed by at least one of its principals;
- ``two_person``: at least two distinct approvers, none of them the operator;
- ``full_readback`` (``require_full_readback: true``): every object verified by a full
  read-back, not a sample or the target's checksum (the ``verified`` gate states the share
  in any case);
- ``window``: now is inside the window, e.g. ``Sat 22:00-Sun 06:00 Europe/Paris``
  (days optional: ``22:00-06:00 Europe/Paris`` is every night).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hdh_migrate.engine.approvals import roles_met
from hdh_migrate.errors import GateRefusedError
from hdh_migrate.plan.cutover import WINDOW_PATTERN, Gates

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY, _WEEK = 1440, 7 * 1440


@dataclass(frozen=True)
class GateResult:
    """One gate: passed or not, what was measured, and what would satisfy it."""

    name: str
    passed: bool
    measured: str
    fix: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "gate": self.name,
            "passed": self.passed,
            "measured": self.measured,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class GateInputs:
    """What the gates look at, measured by the cutover engine."""

    verified_pct: float
    residual: int
    freeze_held: bool
    approvers: Sequence[str]
    operator: str
    now: datetime
    freeze_detail: str = ""
    unverified: dict[str, int] = field(default_factory=dict)
    full_readback_pct: float = 100.0  # share of the objects verified by full read-back
    principals: Sequence[Sequence[str]] = ()


def evaluate(gates: Gates, inputs: GateInputs, switching: bool = True) -> list[GateResult]:
    """Every gate of ``gates``; measured gates (verified, freeze, residual) only when
    ``switching`` (before the freeze they are not known yet)."""
    results = [approvals_gate(gates, inputs.approvers)]
    if gates.roles:
        results.append(roles_gate(gates.roles, inputs.principals))
    if gates.two_person:
        results.append(two_person_gate(inputs.approvers, inputs.operator))
    if gates.window:
        results.append(window_gate(gates.window, inputs.now))
    if switching:
        if gates.require_full_readback:
            results.insert(0, full_readback_gate(inputs.full_readback_pct))
        results = [
            verified_gate(
                gates.verified, inputs.verified_pct, inputs.unverified, inputs.full_readback_pct
            ),
            freeze_gate(inputs.freeze_held, inputs.freeze_detail),
            residual_gate(gates.max_delta_objects, inputs.residual),
            *results,
        ]
    return results


def enforce(results: Sequence[GateResult]) -> None:
    """Raise GateRefusedError naming the first refused gate (and how many others)."""
    refused = [r for r in results if not r.passed]
    if not refused:
        return
    first = refused[0]
    others = f" (and {len(refused) - 1} other gate(s): {', '.join(r.name for r in refused[1:])})"
    raise GateRefusedError(
        f"gate {first.name} refused: {first.measured}" + (others if len(refused) > 1 else ""),
        hint=first.fix or None,
    )


def verified_gate(
    required: float, measured: float, unverified: dict[str, int], full: float = 100.0
) -> GateResult:
    detail = ", ".join(f"{state} {n}" for state, n in sorted(unverified.items()) if n)
    text = f"{measured:.3f}% verified ({full:.3f}% by full read-back), {required:g}% required" + (
        f" ({detail})" if detail else ""
    )
    fix = "run `hdh-migrate run` (then `status`) until every object is verified"
    return GateResult("verified", measured + 1e-9 >= required, text, fix)


def full_readback_gate(full: float) -> GateResult:
    text = f"{full:.3f}% of the objects verified by full read-back, 100% required"
    fix = "run `hdh-migrate verify PLAN --mode full`, then the cutover again"
    return GateResult("full_readback", full + 1e-9 >= 100.0, text, fix)


def freeze_gate(held: bool, detail: str) -> GateResult:
    text = "the freeze probe was refused by the source" if held else f"freeze not proven: {detail}"
    return GateResult("freeze", held, text, "fix the freeze, or `hdh-migrate rollback`")


def residual_gate(maximum: int, residual: int) -> GateResult:
    text = f"{residual} object(s) changed at the source while frozen, at most {maximum} accepted"
    fix = "find who still writes to the source and stop them; the objects were synced"
    return GateResult("max_delta_objects", residual <= maximum, text, fix)


def approvals_gate(gates: Gates, approvers: Sequence[str]) -> GateResult:
    names = ", ".join(approvers) or "none"
    text = f"{len(approvers)} of {gates.approvals} approval(s) recorded ({names})"
    fix = "add --approve NAME (once per approver; approvals are kept in the journal)"
    if gates.allowed_signers is not None:
        fix = "add --approval FILE.sig signed by an allowed signer (`hdh-migrate approve`)"
    return GateResult("approvals", len(approvers) >= gates.approvals, text, fix)


def roles_gate(roles: dict[str, list[str]], principals: Sequence[Sequence[str]]) -> GateResult:
    covered, missing = roles_met(roles, principals)
    text = f"roles signed: {', '.join(covered) or 'none'}; missing: {', '.join(missing) or 'none'}"
    fix = f"a holder of each role ({', '.join(missing)}) signs an approval (--approval FILE.sig)"
    return GateResult("roles", not missing, text, fix)


def two_person_gate(approvers: Sequence[str], operator: str) -> GateResult:
    others = sorted({a for a in approvers if a != operator})
    text = f"{len(others)} approver(s) other than the operator {operator!r}: {others or 'none'}"
    fix = f"two distinct people other than {operator!r} must approve (--approve NAME)"
    return GateResult("two_person", len(others) >= 2, text, fix)


def window_gate(window: str, now: datetime) -> GateResult:
    inside, opens = in_window(window, now)
    zone = ZoneInfo(parse_window(window).zone)
    local = now.astimezone(zone).strftime("%a %Y-%m-%d %H:%M")
    text = f"now is {local} {zone.key}, outside {window!r}"
    fix = f"re-run in the window (next opening {opens.astimezone(zone):%a %Y-%m-%d %H:%M})"
    return GateResult(
        "window", inside, f"now is {local} {zone.key}, inside" if inside else text, fix
    )


@dataclass(frozen=True)
class Window:
    """A window in minutes: of the week when a day is named, else of the day."""

    start: int
    end: int
    period: int
    zone: str


def parse_window(text: str) -> Window:
    """``[Day ]HH:MM-[Day ]HH:MM Zone`` → Window. ValueError when malformed."""
    match = re.match(WINDOW_PATTERN, text.strip())
    if match is None:
        raise ValueError(f"not a window: {text!r}")
    d1, h1, m1, d2, h2, m2, zone = match.groups()
    start, end = int(h1) * 60 + int(m1), int(h2) * 60 + int(m2)
    if d1 is None and d2 is None:
        return Window(start, end, _DAY, zone)
    first = DAYS.index(d1) if d1 else DAYS.index(d2) - (1 if end <= start else 0)
    last = DAYS.index(d2) if d2 else first + (1 if end <= start else 0)
    return Window(first % 7 * _DAY + start, last % 7 * _DAY + end, _WEEK, zone)


def in_window(text: str, now: datetime) -> tuple[bool, datetime]:
    """Whether ``now`` (aware) is inside the window, and when it next opens (or opened)."""
    window = parse_window(text)
    local = now.astimezone(ZoneInfo(window.zone))
    minute = local.hour * 60 + local.minute
    if window.period == _WEEK:
        minute += local.weekday() * _DAY
    inside = (minute - window.start) % window.period < (window.end - window.start) % window.period
    wait = (window.start - minute) % window.period
    opens = local.replace(second=0, microsecond=0) + timedelta(minutes=wait)
    return inside, opens

"""Gates: window arithmetic, approvals, two-person rule, the refusal message."""

from datetime import UTC, datetime

import pytest

from hdh_migrate.engine.gates import (
    GateInputs,
    enforce,
    evaluate,
    in_window,
    parse_window,
    two_person_gate,
)
from hdh_migrate.errors import GateRefusedError
from hdh_migrate.plan.cutover import Gates

# 2026-11-28 is a Saturday
SAT_23H_PARIS = datetime(2026, 11, 28, 22, 0, tzinfo=UTC)  # 23:00 in Paris (UTC+1)
SUN_05H_PARIS = datetime(2026, 11, 29, 4, 30, tzinfo=UTC)  # 05:30
SUN_07H_PARIS = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)  # 07:00
FRI_23H_PARIS = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "inside"),
    [(SAT_23H_PARIS, True), (SUN_05H_PARIS, True), (SUN_07H_PARIS, False), (FRI_23H_PARIS, False)],
)
def test_weekly_window_across_midnight(now: datetime, inside: bool) -> None:
    assert in_window("Sat 22:00-Sun 06:00 Europe/Paris", now)[0] is inside


def test_daily_window_and_next_opening() -> None:
    assert in_window("22:00-06:00 Europe/Paris", FRI_23H_PARIS)[0]
    ok, opens = in_window("22:00-06:00 Europe/Paris", SUN_07H_PARIS)
    assert not ok
    assert (opens.hour, opens.minute, opens.day) == (22, 0, 29)


def test_weekly_window_next_opening_is_next_saturday() -> None:
    ok, opens = in_window("Sat 22:00-Sun 06:00 Europe/Paris", SUN_07H_PARIS)
    assert not ok and opens.strftime("%a %H:%M") == "Sat 22:00" and opens.day == 5


def test_window_with_one_day_named() -> None:
    window = parse_window("Sat 22:00-06:00 UTC")
    assert (window.start, window.end) == (5 * 1440 + 22 * 60, 6 * 1440 + 6 * 60)
    assert in_window("Sat 22:00-06:00 UTC", datetime(2026, 11, 29, 5, 0, tzinfo=UTC))[0]
    assert not in_window("Sat 22:00-06:00 UTC", datetime(2026, 11, 30, 5, 0, tzinfo=UTC))[0]


def test_sunday_to_monday_wraps_the_week() -> None:
    monday_1am = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    assert in_window("Sun 23:00-Mon 02:00 UTC", monday_1am)[0]


def _inputs(approvers: list[str], **kw: object) -> GateInputs:
    values = {
        "verified_pct": 100.0,
        "residual": 0,
        "freeze_held": True,
        "approvers": approvers,
        "operator": "op",
        "now": SAT_23H_PARIS,
    } | kw
    return GateInputs(**values)  # type: ignore[arg-type]


def test_approvals_refused_names_the_gate_and_the_fix() -> None:
    results = evaluate(Gates(approvals=2), _inputs(["alice"]), switching=False)
    with pytest.raises(GateRefusedError) as raised:
        enforce(results)
    assert raised.value.exit_code == 6
    assert "gate approvals refused: 1 of 2 approval(s) recorded (alice)" in str(raised.value)
    assert "--approve NAME" in (raised.value.hint or "")


def test_two_person_rule_excludes_the_operator() -> None:
    assert not two_person_gate(["op", "alice"], "op").passed
    assert not two_person_gate(["alice"], "op").passed
    assert two_person_gate(["alice", "bob"], "op").passed


def test_switching_gates_measure_verified_residual_and_freeze() -> None:
    gates = Gates(verified=100, max_delta_objects=2)
    results = evaluate(gates, _inputs([], verified_pct=99.5, residual=3, freeze_held=False))
    refused = [r.name for r in results if not r.passed]
    assert refused == ["verified", "freeze", "max_delta_objects"]
    with pytest.raises(GateRefusedError, match=r"gate verified refused.*2 other gate"):
        enforce(results)
    passing = evaluate(gates, _inputs([], residual=2))
    enforce(passing)  # no exception
    assert all(r.passed for r in passing)


def test_window_gate_in_evaluate() -> None:
    gates = Gates(window="Sat 22:00-Sun 06:00 Europe/Paris")
    enforce(evaluate(gates, _inputs([], now=SAT_23H_PARIS), switching=False))
    with pytest.raises(GateRefusedError, match="gate window refused: now is Sun 2026-11-29 07:00"):
        enforce(evaluate(gates, _inputs([], now=SUN_07H_PARIS), switching=False))


def test_verified_gate_states_the_share_fully_read_back() -> None:
    results = evaluate(Gates(), _inputs([], full_readback_pct=12.5))
    (verified,) = [r for r in results if r.name == "verified"]
    assert verified.passed and "(12.500% by full read-back)" in verified.measured
    assert "full_readback" not in [r.name for r in results]  # not required by default


def test_require_full_readback_refuses_a_sampled_wave_until_a_full_verify() -> None:
    gates = Gates(require_full_readback=True)
    with pytest.raises(GateRefusedError, match=r"gate full_readback refused: 12\.500%") as raised:
        enforce(evaluate(gates, _inputs([], full_readback_pct=12.5)))
    assert "verify PLAN --mode full" in (raised.value.hint or "")
    enforce(evaluate(gates, _inputs([], full_readback_pct=100.0)))
    # before the freeze the measured gates are not evaluated
    enforce(evaluate(gates, _inputs([], full_readback_pct=0.0), switching=False))

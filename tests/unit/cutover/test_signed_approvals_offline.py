"""Signed approvals in the cutover engine, offline (local source, in-memory target):
``approval_max_age`` is read from the plan, and a statement for another plan, wave or
manifest checkpoint is refused (exit 6), before anything is frozen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.engine.approvals import Statement, sign_statement
from hdh_migrate.errors import GateRefusedError, UsageError
from hdh_migrate.integrity import sshsig
from hdh_migrate.journal import DatasetState
from tests.unit.cutover.test_engine_hooks import World, _plan, env  # noqa: F401 — fixture

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def _key(tmp: Path) -> tuple[Path, str]:
    from cryptography.hazmat.primitives import serialization

    private = sshsig.Ed25519PrivateKey.generate()
    path = tmp / "id_ed25519"
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    line = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return path, line.decode()


def _world(env: dict[str, Any], max_age: str) -> tuple[World, Path]:  # noqa: F811
    key, public = _key(env["tmp"])
    allowed = env["tmp"] / "allowed_signers"
    allowed.write_text(f"alice@hdh {public}\n")
    inner = f"approvals: 1, allowed_signers: '{allowed}', approval_max_age: {max_age}"
    gates = f"      gates: {{{inner}}}\n"
    plan = _plan(env, "hook", switch_extra=gates)
    return World(env, plan), key


def _sign(world: World, key: Path, **changes: Any) -> Path:
    statement: Statement = world.do("statement", "w1", clock=lambda: T0)
    statement = Statement(**{**statement.__dict__, **changes})
    return sign_statement(statement, key, world.env["tmp"] / f"s{len(changes)}.json")


@pytest.mark.parametrize(("max_age", "passes"), [("1h", False), ("3h", True)])
def test_approval_max_age_is_read_from_the_plan(
    env: dict[str, Any],  # noqa: F811
    max_age: str,
    passes: bool,
) -> None:
    world, key = _world(env, max_age)
    world.do("run")
    sig = _sign(world, key)
    later = lambda: T0 + timedelta(hours=2)  # noqa: E731
    if passes:
        world.do("cutover", "w1", (), [sig], clock=later)
        assert world.state_of() is DatasetState.SWITCHED
    else:
        with pytest.raises(GateRefusedError, match="older than approval_max_age"):
            world.do("cutover", "w1", (), [sig], clock=later)
        assert world.state_of() is DatasetState.VERIFIED  # refused before the freeze


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"plan_digest": "sha256:" + "0" * 64}, "another plan"),
        ({"wave": "w2"}, "signed for wave 'w2'"),
        ({"root": "00" * 32}, "checkpoint it approves is not in this manifest"),
        ({"timestamp": "2026-12-03T09:00:00Z"}, "in the future"),
    ],
)
def test_a_statement_for_something_else_is_refused(
    env: dict[str, Any],  # noqa: F811
    change: dict[str, Any],
    message: str,
) -> None:
    world, key = _world(env, "1h")
    world.do("run")
    sig = _sign(world, key, **change)
    with pytest.raises(GateRefusedError, match=message):
        world.do("cutover", "w1", (), [sig], clock=lambda: T0)


def test_nothing_to_approve_before_a_run(env: dict[str, Any]) -> None:  # noqa: F811
    world, _ = _world(env, "1h")
    with pytest.raises(UsageError, match="nothing to approve yet"):
        world.do("statement", "w1")

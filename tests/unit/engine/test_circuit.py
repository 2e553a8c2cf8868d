"""Circuit breakers: a dead endpoint stops the run soon, names the endpoint (exit 8), and the
next run resumes without re-uploading what was recorded (issue 18 item 2)."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import pytest

from hdh_migrate.backends.memory import drop_store
from hdh_migrate.circuit import CIRCUITS, Circuits, sleep_watching
from hdh_migrate.engine.run.runner import Migration, plan_digest
from hdh_migrate.errors import CircuitOpenError, ConnectionFailedError, RetryableError
from hdh_migrate.events import ListReporter
from hdh_migrate.execution import make_executor
from hdh_migrate.integrity import Ed25519FileSigner, ManifestWriter
from hdh_migrate.journal import ItemState, Journal
from hdh_migrate.stages.retry import RetryPolicy
from tests.offline_plan import MemoryTargetClients, one_dataset, parse_offline_plan


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_streak_of_connection_failures_opens_the_circuit_after_open_after_seconds():
    clock = Clock()
    circuits = Circuits(open_after=20, min_failures=3, clock=clock)
    circuits.failure("s3://b")
    clock.now = 10
    circuits.failure("s3://b")
    circuits.failure("s3://b")
    assert circuits.open_endpoint() is None  # three failures, but only 10 s
    clock.now = 21
    found = circuits.open_endpoint()
    assert found is not None and found[0] == "s3://b"
    with pytest.raises(CircuitOpenError, match="s3://b stopped answering") as info:
        circuits.check()
    assert info.value.exit_code == 8 and info.value.endpoint == "s3://b"


def test_a_success_ends_the_streak_and_endpoints_are_independent():
    clock = Clock()
    circuits = Circuits(open_after=5, min_failures=2, clock=clock)
    for _ in range(3):
        circuits.failure("a")
    circuits.success("a")
    circuits.failure("a")
    circuits.failure("b")
    clock.now = 6
    circuits.failure("b")
    assert circuits.open_endpoint() is not None
    assert circuits.open_endpoint()[0] == "b"  # type: ignore[index]
    circuits.check("a")  # a's streak restarted: not open, and b is not asked about
    circuits.reset()
    assert circuits.open_endpoint() is None


def test_a_retry_sleeping_when_the_circuit_opens_gives_up_at_once():
    circuits = Circuits(open_after=0.2, min_failures=1)
    circuits.failure("x")
    started = time.monotonic()
    with pytest.raises(CircuitOpenError):
        sleep_watching(30, circuits, step=0.05)
    assert time.monotonic() - started < 2


def test_one_object_never_sleeps_longer_than_max_wait_in_back_offs():
    policy = RetryPolicy(attempts=1000, initial=0.05, maximum=0.05, max_wait=0.3)
    calls = []

    def always_failing() -> None:
        calls.append(time.monotonic())
        raise RetryableError("reset")

    started = time.monotonic()
    with pytest.raises(RetryableError):
        policy.run(always_failing, lambda n, e: None)
    assert time.monotonic() - started < 1.0
    assert 2 <= len(calls) < 50  # bounded by the wait budget, not by the 1000 attempts


# ---------------------------------------------------------------------------- the run


class DyingTarget(MemoryTargetClients):
    """The in-memory target stops accepting connections after ``alive_writes`` uploads (as
    a killed server: every call fails to connect), until ``revive()``."""

    def __init__(self, store: str, alive_writes: int) -> None:
        super().__init__(store)
        self.alive_writes, self.dead = alive_writes, False
        for name in ("write", "stat", "open_read", "delete", "list"):
            setattr(self.target, name, self._guarded(name, getattr(self.target, name)))

    def _guarded(self, name: str, call: Any) -> Any:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if self.dead:
                CIRCUITS.failure("mem-endpoint")  # what S3Backend._translate does
                raise ConnectionFailedError("mem: cannot connect", endpoint="mem-endpoint")
            if name == "write" and self.puts >= self.alive_writes:
                self.dead = True
                return guarded(*args, **kwargs)
            return call(*args, **kwargs)

        return guarded

    def revive(self) -> None:
        self.dead, self.alive_writes = False, 10**9


@pytest.fixture
def env(tmp_path):
    src = tmp_path / "src" / "data"
    src.mkdir(parents=True)
    for i in range(40):
        (src / f"f{i:02}.bin").write_bytes(os.urandom(2000))
    store = f"t-{uuid.uuid4().hex}"
    yield {"tmp": tmp_path, "store": store, "signer": Ed25519FileSigner.generate("unit")}
    drop_store(store)


def run_once(env, clients) -> tuple[Any, dict[ItemState, int]]:
    rest = one_dataset(
        env["tmp"] / "kek.key", env["tmp"] / "state", defaults="circuit_open_after: 1s"
    )
    plan = parse_offline_plan("circuit", env["tmp"] / "src", rest, store=env["store"])
    state = env["tmp"] / "state"
    state.mkdir(exist_ok=True)
    with (
        Journal(state / "journal.sqlite") as journal,
        ManifestWriter(state / "manifest.jsonl", env["signer"], "hdh-migrate/unit") as manifest,
        make_executor("threads", 4) as executor,
    ):
        migration = Migration(
            plan,
            plan_digest(b"plan"),
            journal=journal,
            manifest=manifest,
            executor=executor,
            clients=clients,
            reporter=ListReporter(),
            window=8,
        )
        try:
            result: Any = migration.run()
        except CircuitOpenError as exc:
            result = exc
        return result, {c.state: c.count for c in journal.counts("ds")}


def test_a_target_dying_mid_run_stops_the_run_fast_and_the_next_run_resumes(env):
    clients = DyingTarget(env["store"], alive_writes=10)
    started = time.monotonic()
    outcome, counts = run_once(env, clients)
    elapsed = time.monotonic() - started
    assert isinstance(outcome, CircuitOpenError), outcome
    assert "mem-endpoint" in outcome.one_line() and outcome.exit_code == 8
    assert elapsed < 10, elapsed  # open_after 1 s; without a breaker: retries × 30 objects
    copied = counts.get(ItemState.COPIED, 0)  # what was copied before the death is recorded
    assert 5 <= copied <= 10  # (a write racing the death may lose its confirming HEAD)
    assert counts.get(ItemState.PENDING, 0) + counts.get(ItemState.FAILED, 0) == 40 - copied

    clients.revive()
    puts_before = clients.puts
    outcome, counts = run_once(env, clients)
    assert not isinstance(outcome, Exception), outcome
    assert counts == {ItemState.VERIFIED: 40}
    assert clients.puts - puts_before == 40 - copied  # recorded copies not uploaded again

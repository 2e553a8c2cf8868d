"""The plan's retry policy, applied as a wrapper around every backend operation."""

import io
import uuid

import pytest

from hdh_migrate.backends.memory import MemoryBackend, drop_store
from hdh_migrate.backends.specs import MemorySpec
from hdh_migrate.errors import NotFoundError, PermanentError, RetryableError, ThrottledError
from hdh_migrate.stages.clients import Clients
from hdh_migrate.stages.items import Spec
from hdh_migrate.stages.retry import RetryingBackend, RetryPolicy

FAST = RetryPolicy(attempts=3, initial=0.001, maximum=0.001, throttle_initial=0.001)


@pytest.fixture
def store():
    name = f"r-{uuid.uuid4().hex}"
    backend = MemoryBackend(name)
    for key in ("a", "b"):
        backend.write(key, io.BytesIO(b"data"), 4)
    yield name, backend
    drop_store(name)


def test_a_spec_with_a_policy_gives_a_retrying_backend(store):
    name, raw = store
    clients = Clients()
    wrapped = clients.backend(Spec(MemorySpec(name), "w", FAST))
    plain = clients.backend(Spec(MemorySpec(name), "p"))
    assert isinstance(wrapped, RetryingBackend) and not isinstance(plain, RetryingBackend)
    wrapped.inner.fail_on("stat", ThrottledError("slow down"), times=2)
    wrapped.inner.fail_on("open_read", RetryableError("reset"), times=2)
    wrapped.inner.fail_on("delete", RetryableError("reset"), times=2)
    wrapped.inner.fail_on("list", RetryableError("reset"), times=2)
    assert wrapped.stat("a").size == 4
    assert wrapped.open_read("a").read() == b"data"
    assert [i.key for i in wrapped.list()] == ["a", "b"]
    wrapped.delete("b")
    assert [i.key for i in raw.list()] == ["a"]


def test_attempts_come_from_the_plan_and_the_last_error_escapes_spent(store):
    _, raw = store
    policy = RetryPolicy.from_plan(retries=1)
    assert policy.attempts == 2
    backend = RetryingBackend(raw, RetryPolicy(2, 0.001, 0.001, 0.001))
    raw.fail_on("stat", RetryableError("reset"), times=2)
    with pytest.raises(RetryableError) as caught:
        backend.stat("a")
    assert caught.value.spent
    assert backend.stat("a").size == 4  # the two faults were both used by the two attempts


def test_an_outer_policy_does_not_multiply_the_attempts(store):
    _, raw = store
    raw.fail_on("stat", RetryableError("reset"), times=100)
    backend = RetryingBackend(raw, FAST)
    with pytest.raises(RetryableError):
        FAST.run(lambda: backend.stat("a"))  # e.g. a whole copy retried around its stats
    assert [f.times for f in raw._faults] == [97]  # 3 calls, not 3 × 3


@pytest.mark.parametrize("error", [NotFoundError("gone"), PermanentError("no")])
def test_errors_that_will_not_change_are_not_retried(store, error):
    _, raw = store
    raw.fail_on("stat", error, times=5)
    with pytest.raises(type(error)):
        RetryingBackend(raw, FAST).stat("a")
    assert [f.times for f in raw._faults] == [4]

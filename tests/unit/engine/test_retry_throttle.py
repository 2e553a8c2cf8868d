import pytest

from hdh_migrate.errors import AuthError, NotFoundError, RetryableError, ThrottledError
from hdh_migrate.stages.retry import RetryPolicy
from hdh_migrate.stages.throttle import Bandwidth

FAST = RetryPolicy(attempts=4, initial=0.001, maximum=0.002, throttle_initial=0.001)


def flaky(errors):
    calls = []

    def fn():
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return "ok"

    return fn, calls


def test_retryable_and_throttled_errors_are_retried():
    fn, calls = flaky([ThrottledError("slow down"), RetryableError("reset")])
    seen = []
    assert FAST.run(fn, lambda n, e: seen.append(type(e).__name__)) == "ok"
    assert len(calls) == 3
    assert seen == ["ThrottledError", "RetryableError"]


@pytest.mark.parametrize("error", [AuthError("denied"), NotFoundError("gone")])
def test_fatal_errors_are_not_retried(error):
    fn, calls = flaky([error])
    with pytest.raises(type(error)):
        FAST.run(fn, lambda n, e: None)
    assert len(calls) == 1


def test_attempts_run_out_with_the_last_error():
    fn, calls = flaky([RetryableError(str(i)) for i in range(10)])
    with pytest.raises(RetryableError, match="3"):
        FAST.run(fn, lambda n, e: None)
    assert len(calls) == 4


def test_bandwidth_charges_debt_as_sleep(monkeypatch):
    now = [0.0]
    slept = []
    monkeypatch.setattr("hdh_migrate.stages.throttle.time.sleep", slept.append)
    bw = Bandwidth(rate=100, burst=100, clock=lambda: now[0])
    bw.take(100)  # the burst
    assert slept == []
    bw.take(50)  # 50 bytes of debt at 100 B/s
    assert slept == [pytest.approx(0.5)]
    Bandwidth(rate=0).take(10**9)  # unlimited never sleeps
    assert len(slept) == 1

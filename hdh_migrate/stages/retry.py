"""Retries by error class (tenacity).

Throttling (503 SlowDown, 429) backs off exponentially with full jitter; other retryable
errors (resets, 5xx, timeouts) back off too; not-found, auth, precondition and permanent
errors are never retried here: the caller decides (a changed source restarts the object).
Every attempt re-runs the whole callable, which must re-open its source stream (STYLE 12).

One object never waits longer than ``max_wait`` seconds in the tool's back-offs, on top of
the SDK's own retries inside each attempt (botocore ``sdk_attempts``, Azure
``sdk_retries``; see docs/reliability.md for the bound they make together). Back-offs sleep
in slices watching the circuit breakers (``hdh_migrate.circuit``): once an endpoint's
circuit opens, a sleeping retry gives up at once with ``CircuitOpenError``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
)
from tenacity.stop import stop_base

from hdh_migrate.circuit import sleep_watching
from hdh_migrate.errors import RetryableError, ThrottledError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    initial: float = 0.5  # seconds
    maximum: float = 30.0
    throttle_initial: float = 2.0
    max_wait: float = 60.0  # seconds slept in back-offs per object, all attempts together

    def run(self, fn: Callable[[], T], on_retry: Callable[[int, BaseException], None]) -> T:
        """Call ``fn`` until it succeeds, a non-retryable error escapes, or attempts run out
        (the last error is re-raised as is)."""
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts) | _StopWhen(self._out_of_budget),
            wait=self._wait,
            retry=retry_if_exception_type(RetryableError),
            reraise=True,
            before_sleep=lambda state: _notify(state, on_retry),
            sleep=sleep_watching,
        )
        return retrying(fn)

    def _out_of_budget(self, state: RetryCallState) -> bool:
        return state.idle_for + (state.upcoming_sleep or 0.0) > self.max_wait

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        initial = self.throttle_initial if isinstance(exc, ThrottledError) else self.initial
        ceiling = min(self.maximum, initial * 2 ** (state.attempt_number - 1))
        return random.uniform(initial / 2, ceiling)  # noqa: S311 — jitter, not a secret


class _StopWhen(stop_base):
    """Stop when ``predicate(state)`` holds (tenacity combines ``stop_base`` with ``|``)."""

    def __init__(self, predicate: Callable[[RetryCallState], bool]) -> None:
        self.predicate = predicate

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.predicate(retry_state)


def _notify(state: RetryCallState, on_retry: Callable[[int, BaseException], None]) -> None:
    exc = state.outcome.exception() if state.outcome else None
    if exc is not None:
        on_retry(state.attempt_number, exc)

"""Retries by error class (tenacity).

Throttling (503 SlowDown, 429) backs off exponentially with full jitter; other retryable
errors (resets, 5xx, timeouts) back off too; not-found, auth, precondition and permanent
errors are never retried here: the caller decides (a changed source restarts the object).
Every attempt re-runs the whole callable, which must re-open its source stream (STYLE 12).
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

from hdh_migrate.errors import RetryableError, ThrottledError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    initial: float = 0.5  # seconds
    maximum: float = 30.0
    throttle_initial: float = 2.0

    def run(self, fn: Callable[[], T], on_retry: Callable[[int, BaseException], None]) -> T:
        """Call ``fn`` until it succeeds, a non-retryable error escapes, or attempts run out
        (the last error is re-raised as is)."""
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=retry_if_exception_type(RetryableError),
            reraise=True,
            before_sleep=lambda state: _notify(state, on_retry),
        )
        return retrying(fn)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        initial = self.throttle_initial if isinstance(exc, ThrottledError) else self.initial
        ceiling = min(self.maximum, initial * 2 ** (state.attempt_number - 1))
        return random.uniform(initial / 2, ceiling)  # noqa: S311 — jitter, not a secret


def _notify(state: RetryCallState, on_retry: Callable[[int, BaseException], None]) -> None:
    exc = state.outcome.exception() if state.outcome else None
    if exc is not None:
        on_retry(state.attempt_number, exc)

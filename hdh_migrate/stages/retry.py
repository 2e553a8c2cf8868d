"""Retries by error class (tenacity), built once from the plan and applied everywhere.

Throttling (503 SlowDown, 429) backs off exponentially with full jitter; other retryable
errors (resets, 5xx, timeouts) back off too; not-found, auth, precondition and permanent
errors are never retried here: the caller decides (a changed source restarts the object).

One policy per plan (``RetryPolicy.from_plan``: ``defaults.retries`` attempts after the
first). It travels inside every ``Spec``, so each backend a ``Clients`` cache builds is
wrapped in a ``RetryingBackend`` — listing, stat, reads and deletes of every caller
(inventory, copy, verification, cutover, restore) are retried the same way, in whatever
process runs them. Writes consume their stream, so they are retried one level up, by the
copy, which re-opens the source and rebuilds the whole pipeline (STYLE 12). An error a
policy gave up on is marked ``spent``: the outer level does not retry it again.

One object never waits longer than ``max_wait`` seconds in the tool's back-offs, on top of
the SDK's own retries inside each attempt (botocore ``sdk_attempts``, Azure
``sdk_retries``; see docs/reliability.md for the bound they make together). Back-offs sleep
in slices watching the circuit breakers (``hdh_migrate.circuit``): once an endpoint's
circuit opens, a sleeping retry gives up at once with ``CircuitOpenError``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, BinaryIO, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
)
from tenacity.stop import stop_base

from hdh_migrate.backends.base import Backend, Capabilities, ObjectInfo, WriteOptions
from hdh_migrate.circuit import sleep_watching
from hdh_migrate.errors import RetryableError, ThrottledError

T = TypeVar("T")


def _ignore(attempt: int, error: BaseException) -> None:
    return None


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # the plan's default: defaults.retries 5, after the first attempt
    initial: float = 0.5  # seconds
    maximum: float = 30.0
    throttle_initial: float = 2.0
    max_wait: float = 60.0  # seconds slept in back-offs per object, all attempts together

    @classmethod
    def from_plan(cls, retries: int) -> RetryPolicy:
        """The plan's policy: ``defaults.retries`` attempts after the first."""
        return cls(attempts=retries + 1)

    def run(
        self,
        fn: Callable[[], T],
        on_retry: Callable[[int, BaseException], None] = _ignore,
    ) -> T:
        """Call ``fn`` until it succeeds, a non-retryable error escapes, or attempts run out
        (the last error is re-raised as is, marked ``spent``)."""
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts) | _StopWhen(self._out_of_budget),
            wait=self._wait,
            retry=retry_if_exception(_worth_retrying),
            reraise=True,
            sleep=sleep_watching,
            before_sleep=lambda state: _notify(state, on_retry),
        )
        try:
            return retrying(fn)
        except RetryableError as exc:
            exc.spent = True
            raise

    def _out_of_budget(self, state: RetryCallState) -> bool:
        return state.idle_for + (state.upcoming_sleep or 0.0) > self.max_wait

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        initial = self.throttle_initial if isinstance(exc, ThrottledError) else self.initial
        ceiling = min(self.maximum, initial * 2 ** (state.attempt_number - 1))
        return random.uniform(initial / 2, ceiling)  # noqa: S311 — jitter, not a secret


#: The policy of a plan that sets nothing (``defaults.retries: 5``).
DEFAULT_RETRY = RetryPolicy()


def _worth_retrying(exc: BaseException) -> bool:
    return isinstance(exc, RetryableError) and not exc.spent


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


class RetryingBackend:
    """A backend whose idempotent operations are retried by ``policy``. ``write`` is not
    (its stream is consumed: the copy retries it whole); a listing is retried until its
    first object arrives (after that, an error escapes: the inventory is re-run)."""

    def __init__(self, inner: Backend, policy: RetryPolicy) -> None:
        self.inner, self.policy = inner, policy
        self.name = inner.name

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        listing, first = self.policy.run(partial(_started, self.inner, prefix))
        if first is not None:
            yield first
            yield from listing

    def stat(self, key: str) -> ObjectInfo:
        return self.policy.run(partial(self.inner.stat, key))

    def open_read(
        self, key: str, range: tuple[int, int] | None = None, if_match: str | None = None
    ) -> BinaryIO:
        return self.policy.run(partial(self.inner.open_read, key, range=range, if_match=if_match))

    def write(
        self, key: str, stream: BinaryIO, size: int, options: WriteOptions | None = None
    ) -> ObjectInfo:
        return self.inner.write(key, stream, size, options)

    def delete(self, key: str, **options: Any) -> None:
        """Retried like a read (idempotent); backend options pass through (an Azure
        ``lease_id`` for a leased blob)."""
        self.policy.run(partial(self.inner.delete, key, **options))

    def capabilities(self) -> Capabilities:
        return self.inner.capabilities()

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> object:
        """Backend-specific helpers (multipart listing, leases) pass through unretried."""
        return getattr(self.inner, name)


def _started(inner: Backend, prefix: str) -> tuple[Iterator[ObjectInfo], ObjectInfo | None]:
    """A fresh listing and its first object (None when empty): what a retry starts over."""
    listing = inner.list(prefix)
    return listing, next(listing, None)

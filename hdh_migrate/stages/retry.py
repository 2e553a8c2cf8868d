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

Each retry's cause is classified (``retry_cause``: a fixed vocabulary, never a server's
text) and noted in the work unit's ``recording_retries`` log, whatever level retried it:
the unit's result carries the causes back to the coordinator, which reports them
(``object.retry``, metrics, logs).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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
from hdh_migrate.errors import ConnectionFailedError, RetryableError, ThrottledError

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
        _note(exc)
        on_retry(state.attempt_number, exc)


# ---------------------------------------------------------------------- retry causes

#: Why an attempt was retried: what ``object.retry`` events, logs and the
#: ``hdh_migrate_retries_total{cause}`` metric say. A fixed set (bounded label values; a
#: server's text, which may hold anything, never becomes a cause).
CAUSES = (
    "throttled",  # 503 SlowDown, 429, Azure ServerBusy
    "connect_failed",  # no connection could be opened (refused, unreachable)
    "connection_reset",  # a connection dropped mid-request or mid-body
    "timeout",  # a read or request timed out (408 included)
    "server_error",  # another 5xx
    "mismatch",  # the target did not hold what was written (size, another writer)
    "other",
)
MAX_NOTED = 64  # causes kept per work unit (attempts are bounded anyway; this bounds memory)

_DROPPED = re.compile(
    r"ConnectionClosed|IncompleteRead|ResponseStreaming|ProtocolError|ServiceResponse"
    r"|RemoteDisconnected|ChunkedEncoding|ConnectionReset|ConnectionAborted|BrokenPipe"
    r"|connection (dropped|lost|failed|reset)"
)
_TIMEOUT = re.compile(r"Timeout|timed out", re.IGNORECASE)
_MISMATCH = re.compile(r"target holds \d+ bytes|another writer replaced")
_HTTP = re.compile(r"\(HTTP (\d{3})\)$")
_NOTED: ContextVar[list[str] | None] = ContextVar("hdh_retry_causes", default=None)


def retry_cause(exc: BaseException) -> str:
    """The cause of one retried error, one of ``CAUSES``: from its class, then from the SDK
    error it was translated from (kept as ``__context__``), then from our own message."""
    if isinstance(exc, ThrottledError):
        return "throttled"
    if isinstance(exc, ConnectionFailedError):
        return "connect_failed"
    for link in _chain(exc):
        cause = _cause_of(link)
        if cause is not None:
            return cause
    return "other"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen and len(seen) < 8:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def _cause_of(link: BaseException) -> str | None:
    status = _status(link)
    if status in (429, 503):
        return "throttled"
    if status == 408 or isinstance(link, TimeoutError):
        return "timeout"
    text = f"{type(link).__name__} {_own_text(link)}"
    if _TIMEOUT.search(text):
        return "timeout"
    if isinstance(link, ConnectionError) or _DROPPED.search(text):
        return "connection_reset"
    if status is not None and status >= 500:
        return "server_error"
    if _MISMATCH.search(text):
        return "mismatch"
    return None


def _own_text(link: BaseException) -> str:
    """Our own messages only (an SDK's may quote the server): matched, never reported."""
    return str(getattr(link, "message", "")) if isinstance(link, RetryableError) else ""


def _status(link: BaseException) -> int | None:
    """An HTTP status: Azure errors' ``status_code``, botocore's response metadata, or the
    ``(HTTP 503)`` our S3 backend ends its messages with."""
    code = getattr(link, "status_code", None)
    if isinstance(code, int):
        return code
    response = getattr(link, "response", None)
    if isinstance(response, dict):
        meta = response.get("ResponseMetadata") or {}
        if isinstance(meta.get("HTTPStatusCode"), int):
            return int(meta["HTTPStatusCode"])
    found = _HTTP.search(_own_text(link))
    return int(found.group(1)) if found else None


@contextmanager
def recording_retries() -> Iterator[list[str]]:
    """Collect the cause of every retry made in this context (this thread or task), by any
    policy at any level: what a work unit hands back in its result."""
    causes: list[str] = []
    token = _NOTED.set(causes)
    try:
        yield causes
    finally:
        _NOTED.reset(token)


def _note(exc: BaseException) -> None:
    causes = _NOTED.get()
    if causes is not None and len(causes) < MAX_NOTED:
        causes.append(retry_cause(exc))


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

"""Each retry's cause (issue 15): classified from the error into a fixed vocabulary — never a
server's text — noted by whichever policy retried, carried back in the work unit's result."""

from __future__ import annotations

import io
import os
import uuid
from typing import Any

import pytest

from hdh_migrate.backends.memory import MemoryBackend, drop_store
from hdh_migrate.backends.specs import MemorySpec
from hdh_migrate.errors import (
    ConnectionFailedError,
    PermanentError,
    RetryableError,
    ThrottledError,
)
from hdh_migrate.keys import FileKeySpec, generate_key_file
from hdh_migrate.stages.clients import Clients
from hdh_migrate.stages.copy import copy_object
from hdh_migrate.stages.items import CopyItem, Spec, VerifyItem
from hdh_migrate.stages.retry import (
    CAUSES,
    MAX_NOTED,
    RetryPolicy,
    recording_retries,
    retry_cause,
)
from hdh_migrate.stages.verify import verify_object

FAST = RetryPolicy(attempts=4, initial=0.001, maximum=0.001, throttle_initial=0.001)


def translated(sdk: BaseException, ours: RetryableError) -> RetryableError:
    """How the backends translate: ``raise ours from None`` inside ``except sdk``."""
    try:
        try:
            raise sdk
        except BaseException:
            raise ours from None
    except RetryableError as caught:
        return caught


class ReadTimeoutError(Exception):
    """Named like botocore's / urllib3's."""


class ClientError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.response = {"ResponseMetadata": {"HTTPStatusCode": status}, "Error": {}}


class HttpResponseError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status_code = status


SECRET_TEXT = "<Error><Message>sig=AbCdSecret\x1b[31m</Message></Error>"


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (ThrottledError("t: read 'k': SlowDown (HTTP 503)"), "throttled"),
        (ConnectionFailedError("t: cannot connect", endpoint="t"), "connect_failed"),
        (translated(ConnectionResetError(104, "reset"), RetryableError("x")), "connection_reset"),
        (RetryableError("az: read 'k': connection dropped"), "connection_reset"),
        (RetryableError("s3: read 'k': connection failed (ReadTimeoutError)"), "timeout"),
        (translated(ReadTimeoutError(SECRET_TEXT), RetryableError("x")), "timeout"),
        (translated(TimeoutError(), RetryableError("x")), "timeout"),
        (RetryableError("s3: put 'k': InternalError (HTTP 500)"), "server_error"),
        (translated(ClientError(502, SECRET_TEXT), RetryableError("x")), "server_error"),
        (translated(HttpResponseError(503, SECRET_TEXT), RetryableError("x")), "throttled"),
        (translated(HttpResponseError(408, SECRET_TEXT), RetryableError("x")), "timeout"),
        (RetryableError("target holds 12 bytes, expected 40"), "mismatch"),
        (RetryableError(SECRET_TEXT), "other"),
        (PermanentError("whatever"), "other"),
    ],
)
def test_a_retried_error_is_classified_into_the_fixed_vocabulary(
    error: BaseException, cause: str
) -> None:
    assert retry_cause(error) == cause
    assert cause in CAUSES  # a label value, an event field: never a server's text


def test_every_policy_in_a_unit_notes_its_retries_and_the_notes_are_bounded() -> None:
    errors = [ThrottledError("slow"), RetryableError("connection dropped")]

    def inner() -> str:
        if errors:
            raise errors.pop(0)
        return "ok"

    outer_errors = [RetryableError("target holds 1 bytes, expected 2")]

    def outer() -> str:
        value = FAST.run(inner)  # a retried backend call inside a retried unit
        if outer_errors:
            raise outer_errors.pop(0)
        return value

    with recording_retries() as causes:
        assert FAST.run(outer) == "ok"
    assert causes == ["throttled", "connection_reset", "mismatch"]
    FAST.run(inner)  # outside a recording: nothing noted, nothing fails
    many = RetryPolicy(attempts=MAX_NOTED + 10, initial=0, maximum=0, max_wait=1e9)
    left = [RetryableError("x") for _ in range(MAX_NOTED + 5)]

    def flaky() -> None:
        if left:
            raise left.pop()

    with recording_retries() as causes:
        many.run(flaky)
    assert len(causes) == MAX_NOTED


@pytest.fixture
def world(tmp_path: Any) -> Any:
    names = (f"src-{uuid.uuid4().hex}", f"dst-{uuid.uuid4().hex}")
    generate_key_file(tmp_path / "kek")
    yield {
        "source": Spec(MemorySpec(names[0]), names[0]),
        "target": Spec(MemorySpec(names[1]), names[1]),
        "kek": Spec(FileKeySpec(path=str(tmp_path / "kek")), "kek"),
        "clients": Clients(),
    }
    for name in names:
        drop_store(name)


def test_copy_and_verify_results_carry_their_retry_causes(world: Any) -> None:
    data = os.urandom(3000)
    info = MemoryBackend(world["source"].ident).write("x", io.BytesIO(data), len(data))
    item = CopyItem(
        dataset="ds",
        key="x",
        size=len(data),
        etag=info.etag,
        object_id="ds/x",
        target_key="enc/x",
        source=world["source"],
        target=world["target"],
        kek=world["kek"],
        segment_size=1024,
        min_part_size=4096,
    )
    clients = world["clients"]
    clients.backend(world["source"]).fail_on("open_read", ThrottledError("slow"), times=1)
    clients.backend(world["target"]).fail_on(
        "write", translated(ConnectionResetError(), RetryableError("reset")), times=1
    )
    copied = copy_object(item, clients, FAST)
    assert copied.state == "copied"
    assert copied.retries == ("throttled", "connection_reset")
    clients.backend(world["target"]).fail_on("open_read", RetryableError("(HTTP 500)"), times=1)
    check = VerifyItem(
        dataset="ds",
        key="x",
        object_id="ds/x",
        target_key="enc/x",
        target=world["target"],
        kek=world["kek"],
        mode="full",
        plaintext_sha256=copied.plaintext_sha256,
        plaintext_size=copied.size,
        ciphertext_size=copied.target_size,
        retry=FAST,
    )
    verified = verify_object(check, clients)
    assert verified.ok and verified.retries == ("server_error",)
    assert copy_object(item, clients, FAST).retries == ()  # a clean copy notes nothing

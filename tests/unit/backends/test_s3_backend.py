"""S3 backend error paths and wire details, against moto (no server) plus injected answers.

Injected answers use botocore's ``before-call`` event: a handler returning
``(http_response, parsed)`` replaces the call, so a 503 SlowDown or a 403 is exactly what
botocore would have parsed from the wire. Headers are captured on ``before-sign``.
"""

from __future__ import annotations

import io
import os
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from urllib3.exceptions import ProtocolError

from hdh_migrate.backends.base import WriteOptions
from hdh_migrate.backends.checksums import checksum_b64
from hdh_migrate.backends.s3 import S3Backend, translate_client_error
from hdh_migrate.backends.s3_config import settings_from_config
from hdh_migrate.errors import (
    AuthError,
    NotFoundError,
    PermanentError,
    PreconditionFailedError,
    RetryableError,
    ThrottledError,
    UnreachableError,
    UsageError,
)

MIB = 1024 * 1024
ACCESS, SECRET = "AKIAEXAMPLEACCESS", "s3cr3t-value-never-shown"
SSE_KEY = bytes(range(32))


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


def make(**config: Any) -> S3Backend:
    base = {
        "bucket": "hdh-unit",
        "access_key": ACCESS,
        "secret_key": SECRET,
        "multipart_threshold": "5MiB",
        "part_size": "5MiB",
        "sdk_attempts": 1,
    }
    backend = S3Backend.from_config(base | config)
    backend.ensure_bucket()
    return backend


class FakeHttp:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}


def inject(backend: S3Backend, operation: str, code: str, status: int) -> None:
    """Every call of ``operation`` answers ``code``/``status``."""

    def answer(**_: Any) -> tuple[FakeHttp, dict[str, Any]]:
        parsed = {
            "Error": {"Code": code, "Message": f"injected {code} {SECRET[:0]}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return FakeHttp(status), parsed

    backend.client.meta.events.register(f"before-call.s3.{operation}", answer)


def capture(backend: S3Backend) -> list[tuple[str, dict[str, str]]]:
    """(operation, headers) of every request signed from now on."""
    seen: list[tuple[str, dict[str, str]]] = []

    def grab(request: Any, operation_name: str, **_: Any) -> None:
        seen.append((operation_name, {k.lower(): str(v) for k, v in request.headers.items()}))

    backend.client.meta.events.register("before-sign.s3", grab)
    return seen


def put(backend: S3Backend, key: str, data: bytes, **opts: Any) -> None:
    backend.write(key, io.BytesIO(data), len(data), WriteOptions(**opts))


# -- error translation --------------------------------------------------------------------


@pytest.mark.parametrize(
    "code,status,expected",
    [
        ("NoSuchKey", 404, NotFoundError),
        ("404", 404, NotFoundError),
        ("PreconditionFailed", 412, PreconditionFailedError),
        ("SlowDown", 503, ThrottledError),
        ("TooManyRequests", 429, ThrottledError),
        ("RequestLimitExceeded", 400, ThrottledError),
        ("InternalError", 500, RetryableError),
        ("502", 502, RetryableError),
        ("504", 504, RetryableError),
        ("AccessDenied", 403, AuthError),
        ("InvalidAccessKeyId", 403, AuthError),
        ("SignatureDoesNotMatch", 403, AuthError),
        ("BadDigest", 400, PermanentError),
        ("XAmzContentSHA256Mismatch", 400, PermanentError),
        ("InvalidRange", 416, PermanentError),
        ("NoSuchBucket", 404, PermanentError),
        ("MalformedXML", 400, PermanentError),
    ],
)
def test_client_errors_map_to_our_tree(code: str, status: int, expected: type) -> None:
    exc = ClientError(
        {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutObject",
    )
    error = translate_client_error(exc, "s3://b", "k")
    assert type(error) is expected
    assert code in error.one_line()
    if code in ("BadDigest", "XAmzContentSHA256Mismatch"):
        assert "checksum refused" in error.one_line()


def test_slowdown_is_throttled(aws: None) -> None:
    b = make()
    inject(b, "PutObject", "SlowDown", 503)
    with pytest.raises(ThrottledError, match="SlowDown"):
        put(b, "k", b"abc")


def test_forbidden_is_an_auth_error_without_secrets(aws: None) -> None:
    b = make()
    inject(b, "HeadObject", "403", 403)
    with pytest.raises(AuthError) as info:
        b.stat("k")
    assert info.value.exit_code == 7
    text = info.value.one_line() + b.name + repr(b.settings)
    assert SECRET not in text and ACCESS not in text


def test_stale_etag_is_a_precondition_failure(aws: None) -> None:
    b = make()
    put(b, "k", b"one")
    old = b.stat("k").etag
    put(b, "k", b"two!")
    with pytest.raises(PreconditionFailedError):
        b.open_read("k", if_match=old)
    inject(b, "GetObject", "PreconditionFailed", 412)
    with pytest.raises(PreconditionFailedError):
        b.open_read("k", if_match=b.stat("k").etag)


def test_missing_key_is_not_found(aws: None) -> None:
    b = make()
    with pytest.raises(NotFoundError):
        b.stat("nope")
    with pytest.raises(NotFoundError):
        b.open_read("nope")
    b.delete("nope")


class FailingBody:
    def __init__(self) -> None:
        self.sent = False

    def read(self, n: int = -1) -> bytes:
        if not self.sent:
            self.sent = True
            return b"x" * 10
        raise ProtocolError("Connection broken: reset by peer")

    def close(self) -> None:
        pass


def test_connection_dropped_mid_body_is_retryable(aws: None) -> None:
    b = make()
    b.client.meta.events.register(
        "before-call.s3.GetObject",
        lambda **_: (FakeHttp(200), {"Body": FailingBody(), "ResponseMetadata": {}}),
    )
    stream = b.open_read("k")
    assert stream.read(10) == b"x" * 10
    with pytest.raises(RetryableError, match="ProtocolError"):
        stream.read()


def test_closed_port_is_unreachable_then_retryable(aws: None) -> None:
    b = S3Backend.from_config(
        {
            "bucket": "hdh-unit",
            "endpoint_url": "http://127.0.0.1:9",
            "access_key": ACCESS,
            "secret_key": SECRET,
            "sdk_attempts": 1,
            "connect_timeout": 2,
        }
    )
    with pytest.raises(UnreachableError) as info:
        b.stat("k")
    assert info.value.exit_code == 8 and "127.0.0.1:9" in info.value.one_line()
    b._reached = True  # once the server answered, a refused connection is transient
    with pytest.raises(RetryableError):
        b.stat("k")


# -- multipart: abort on every failure, bounded memory -------------------------------------


def test_failed_part_aborts_the_upload(aws: None) -> None:
    b = make()
    calls: list[str] = []
    b.client.meta.events.register(
        "before-call.s3.AbortMultipartUpload", lambda **_: calls.append("abort")
    )
    inject(b, "UploadPart", "InternalError", 500)
    with pytest.raises(RetryableError):
        put(b, "big", os.urandom(11 * MIB))
    assert calls == ["abort"]
    assert list(b.list_multipart_uploads()) == []
    with pytest.raises(NotFoundError):
        b.stat("big")


def test_wrong_whole_stream_checksum_aborts_before_complete(aws: None) -> None:
    b = make(checksum_algorithms=["sha256", "crc32c"])
    data = os.urandom(11 * MIB)
    with pytest.raises(PermanentError, match="checksum refused"):
        put(b, "big", data, checksums={"sha256": checksum_b64("sha256", b"other")})
    assert list(b.list_multipart_uploads()) == []
    with pytest.raises(NotFoundError):
        b.stat("big")


class Zeros(io.RawIOBase):
    """``size`` bytes generated on the fly (nothing held), in 1 MiB reads."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left, MIB)
        buffer[:n] = b"\x5a" * n
        self.left -= n
        return n


def fake_multipart(b: S3Backend, delay: float) -> dict[str, int]:
    """Replace the multipart calls by instant answers; track parts in flight."""
    state = {"in_flight": 0, "max_in_flight": 0, "parts": 0}
    lock = threading.Lock()

    def part(**_: Any) -> tuple[FakeHttp, dict[str, Any]]:
        with lock:
            state["in_flight"] += 1
            state["parts"] += 1
            state["max_in_flight"] = max(state["max_in_flight"], state["in_flight"])
        time.sleep(delay)
        with lock:
            state["in_flight"] -= 1
        return FakeHttp(200), {"ETag": '"p"', "ResponseMetadata": {}}

    events = b.client.meta.events
    events.register(
        "before-call.s3.CreateMultipartUpload",
        lambda **_: (FakeHttp(200), {"UploadId": "u1", "ResponseMetadata": {}}),
    )
    events.register("before-call.s3.UploadPart", part)
    events.register(
        "before-call.s3.CompleteMultipartUpload",
        lambda **_: (FakeHttp(200), {"ETag": '"x-12"', "ResponseMetadata": {}}),
    )
    return state


def test_multipart_memory_is_bounded_by_workers_and_part_size(aws: None) -> None:
    workers, part = 2, 5 * MIB
    b = make(max_concurrency=workers, checksum_algorithms=[])
    state = fake_multipart(b, delay=0.02)
    size = 12 * part + 3
    tracemalloc.start()
    try:
        info = b.write("big", Zeros(size), size)  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.size == size and state["parts"] == 13
    assert state["max_in_flight"] <= workers
    assert peak <= (workers + 1) * part, f"peak {peak / MIB:.1f} MiB"


# -- wire details: SSE-C, checksums, TLS -----------------------------------------------------


def test_sse_c_headers_on_every_object_call(aws: None) -> None:
    b = make(sse_c_key=SSE_KEY.hex()[:32])  # 32 ASCII bytes is a valid raw key
    seen = capture(b)
    put(b, "small", b"abc")
    put(b, "big", os.urandom(6 * MIB))
    b.stat("small")
    b.open_read("small").read()
    ops = {op for op, headers in seen if "x-amz-server-side-encryption-customer-key" in headers}
    assert ops >= {
        "PutObject",
        "HeadObject",
        "GetObject",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
    }
    assert all(
        h.get("x-amz-server-side-encryption-customer-algorithm") == "AES256"
        for op, h in seen
        if op in ops
    )


def test_sse_c_key_must_be_32_bytes(aws: None) -> None:
    with pytest.raises(UsageError, match="32 bytes"):
        make(sse_c_key="too-short")


def test_checksums_sent_follow_the_configured_algorithms(aws: None) -> None:
    data = b"payload"
    sums = {name: checksum_b64(name, data) for name in ("md5", "sha256")}
    quiet = make()  # default: md5 only, botocore checksums when_required
    seen = capture(quiet)
    put(quiet, "k", data, checksums=sums)
    headers = seen[-1][1]
    assert headers["content-md5"] == sums["md5"]
    assert not any(h.startswith("x-amz-checksum-") for h in headers)
    assert "x-amz-trailer" not in headers

    full = make(checksum_algorithms=["md5", "sha256", "crc32c"])
    seen = capture(full)
    put(full, "k", data, checksums=sums)
    headers = seen[-1][1]
    assert headers["x-amz-checksum-sha256"] == sums["sha256"]
    assert "x-amz-checksum-crc32c" not in headers  # one flexible checksum per request
    put(full, "k2", data)
    assert seen[-1][1]["x-amz-checksum-crc32c"] == checksum_b64("crc32c", data)


def test_when_supported_lets_botocore_add_its_own_checksum(aws: None) -> None:
    b = make(checksum_mode="when_supported")
    seen = capture(b)
    put(b, "k", b"abc")
    headers = seen[-1][1]
    assert any(h.startswith("x-amz-checksum-") or h == "x-amz-trailer" for h in headers)


def test_parts_carry_crc32c(aws: None) -> None:
    b = make(checksum_algorithms=["crc32c"])
    seen = capture(b)
    data = os.urandom(6 * MIB)
    put(b, "big", data)
    parts = [h for op, h in seen if op == "UploadPart"]
    assert sorted(h["x-amz-checksum-crc32c"] for h in parts) == sorted(
        [checksum_b64("crc32c", data[: 5 * MIB]), checksum_b64("crc32c", data[5 * MIB :])]
    )
    assert b.open_read("big").read() == data


def test_local_copy_of_a_wrong_checksum_is_refused_before_sending(aws: None) -> None:
    b = make()
    seen = capture(b)
    with pytest.raises(PermanentError, match="checksum refused"):
        put(b, "k", b"abc", checksums={"sha256": checksum_b64("sha256", b"xyz")})
    assert [op for op, _ in seen] == []


def test_verify_tls_false_only_for_loopback() -> None:
    with pytest.raises(UsageError, match="verify_tls"):
        settings_from_config(
            {"bucket": "b", "endpoint_url": "https://s3.example.net", "verify_tls": False}
        )
    for url in ("http://127.0.0.1:8333", "http://localhost:9000", "http://[::1]:9000"):
        assert not settings_from_config(
            {"bucket": "b", "endpoint_url": url, "verify_tls": False}
        ).verify_tls
    backend = S3Backend.from_config(
        {
            "bucket": "b",
            "endpoint_url": "https://s3.example.net",
            "access_key": "a",
            "secret_key": "s",
        }
    )
    assert backend.client._endpoint.http_session._verify is True


def test_list_pages_follow_page_size(aws: None) -> None:
    b = make(page_size=4)
    seen = capture(b)
    for i in range(10):
        put(b, f"p/{i}", b"x")
    seen.clear()
    assert [i.key for i in b.list("p/")] == [f"p/{i}" for i in range(10)]
    assert [op for op, _ in seen] == ["ListObjectsV2"] * 3


def test_stale_multipart_uploads_can_be_listed_and_aborted(aws: None) -> None:
    b = make()
    upload = b.client.create_multipart_upload(Bucket="hdh-unit", Key="stale/k")["UploadId"]
    found = list(b.list_multipart_uploads("stale/"))
    assert [(u.key, u.upload_id) for u in found] == [("stale/k", upload)]
    b.abort_multipart("stale/k", upload)
    b.abort_multipart("stale/k", upload)  # idempotent
    assert list(b.list_multipart_uploads("stale/")) == []


def test_a_part_is_read_once_into_one_buffer_and_hashed_in_the_same_loop() -> None:
    import hashlib

    from hdh_migrate.backends.parts import read_part

    data = os.urandom(3 * MIB + 7)
    offered: list[int] = []

    class Segments(io.RawIOBase):  # like EncryptingReader: at most one segment per call
        def __init__(self) -> None:
            self.at = 0

        def readinto(self, buffer: Any) -> int:
            offered.append(len(buffer))
            n = min(len(buffer), MIB, len(data) - self.at)
            buffer[:n] = data[self.at : self.at + n]
            self.at += n
            return n

    part = read_part(Segments(), len(data), "k")
    assert offered[0] == len(data) and len(offered) == 4  # the whole rest, in place
    assert part.sha256_hex == hashlib.sha256(data).hexdigest() and len(part) == len(data)
    assert part.read(5) == data[:5] and part.seek(0) == 0 and part.read() == data  # rewinds
    with pytest.raises(PermanentError, match="ended 7 bytes early"):
        read_part(io.BytesIO(data[:-7]), len(data), "k")


@pytest.mark.parametrize(
    ("url", "md5", "expected"),
    [
        ("http", False, "given"),
        ("http", True, "given"),  # over http botocore signs every payload
        ("https", False, "given"),  # https without a checksum header: signed too (parts)
        ("https", True, "UNSIGNED-PAYLOAD"),  # https + Content-MD5 + a stream body
    ],
)
def test_sigv4_signs_the_hash_taken_while_reading_instead_of_hashing_again(
    url: str, md5: bool, expected: str
) -> None:
    """Where botocore signs the payload, the hash is the one ``read_hashed`` took (the body
    is not read again); where it does not, nothing changes; any other body is hashed."""
    import hashlib

    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials

    from hdh_migrate.backends import s3  # noqa: F401  (installs the payload hook)
    from hdh_migrate.backends.parts import read_hashed

    def signed(body: Any) -> str:
        creds = botocore.credentials.Credentials("AKIDEXAMPLE", "secret")
        headers = {"Content-MD5": checksum_b64("md5", b"abc")} if md5 else {}
        request = botocore.awsrequest.AWSRequest(
            "PUT", f"{url}://127.0.0.1:9/b/k", data=body, headers=headers
        )
        request.context["has_streaming_input"] = True
        botocore.auth.S3SigV4Auth(creds, "s3", "us-east-1").add_auth(request)
        return str(request.headers["X-Amz-Content-SHA256"])

    body = read_hashed(io.BytesIO(b"abc"), 3, "k")
    body.sha256_hex = "0" * 64  # were the bytes hashed again, the real hash would show
    other = signed(io.BytesIO(b"abc"))
    if expected == "given":
        assert signed(body) == "0" * 64 and other == hashlib.sha256(b"abc").hexdigest()
    else:
        assert signed(body) == other == expected


def test_first_part_size_then_part_size(aws: None) -> None:
    b = make(checksum_algorithms=[])
    seen = capture(b)
    data = os.urandom(17 * MIB + 5)
    opts = WriteOptions(part_size=5 * MIB, first_part_size=6 * MIB + 7)
    b.write("aligned", io.BytesIO(data), len(data), opts)
    lengths = sorted(int(h["content-length"]) for op, h in seen if op == "UploadPart")
    assert lengths == sorted([6 * MIB + 7, 5 * MIB, 5 * MIB, 1 * MIB - 2])
    assert b.open_read("aligned").read() == data


def test_delete_bucket_force_on_a_missing_bucket_is_a_no_op(aws: None) -> None:
    """A fresh machine's rehearsal empties a bucket that was never created (issue 10)."""
    config = {"bucket": "hdh-never-created", "access_key": ACCESS, "secret_key": SECRET}
    backend = S3Backend.from_config(config | {"sdk_attempts": 1})
    backend.delete_bucket(force=True)
    backend.delete_bucket()
    backend.ensure_bucket()
    backend.write("k", io.BytesIO(b"x"), 1)
    backend.delete_bucket(force=True)
    with pytest.raises(NotFoundError):
        backend.head_bucket()


def test_a_resumable_write_to_a_server_that_cannot_list_uploads_starts_fresh(aws: None) -> None:
    """``WriteOptions.resume`` on a server without ListMultipartUploads: nothing to
    resume, the upload goes ahead as before (never a failed write)."""
    b = make(max_concurrency=2, checksum_algorithms=[])
    state = fake_multipart(b, delay=0)
    inject(b, "ListMultipartUploads", "NotImplemented", 501)
    size = 2 * 5 * MIB + 3
    info = b.write("big", Zeros(size), size, WriteOptions(resume=True))  # type: ignore[arg-type]
    assert info.size == size and state["parts"] == 3
    assert (info.extra["parts_reused"], info.extra["parts_uploaded"]) == ("0", "3")

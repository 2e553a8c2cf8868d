"""S3 and S3-compatible stores (boto3): the only module importing boto3 / botocore.

Config (plain values; secrets as ``SecretRef``, ``${env:…}``/``${file:…}`` strings, or a
plain string in tests)::

    bucket: NAME                         required
    endpoint_url: https://…              omitted = AWS
    region: us-east-1
    access_key, secret_key, session_token: SECRET   omitted = the default AWS chain
    addressing_style: path | virtual | auto         default path with an endpoint_url
    signature_version: s3v4
    checksum_mode: when_required | when_supported   botocore's automatic checksums
    checksum_algorithms: [md5]           which of md5/sha256/crc32c are *sent* to the server
    verify_tls: true                     false is accepted only for loopback endpoints
    ca_bundle: PATH                      a private CA for verify_tls
    sse_c_key: SECRET                    32 raw bytes (or their base64): SSE-C on every call
    storage_class: STANDARD              sent with every PUT (never derived from Azure tiers)
    multipart_threshold: 64MiB           multipart above this size
    part_size: 16MiB                     WriteOptions.part_size (and first_part_size) win
    max_concurrency: 4                   parts in flight per upload
    page_size: 1000                      ListObjectsV2 MaxKeys
    connect_timeout: 10, read_timeout: 60   seconds
    sdk_attempts: 2                      botocore's own attempts; the caller retries by class

Contracts, beyond ``base.Backend``:

- ``checksum_mode`` defaults to ``when_required``: boto3 ≥ 1.36 otherwise adds CRC
  trailers that OVH, S3NS and Scality-based stores reject. Checksums the caller passes in
  ``WriteOptions.checksums`` are always checked here against the bytes read, and sent to
  the server too when listed in ``checksum_algorithms`` (Content-MD5, plus one of
  x-amz-checksum-sha256 / -crc32c: S3 accepts a single flexible checksum per request).
  Multipart parts carry a CRC32C each when ``crc32c`` is listed.
- ``write`` sends one PutObject up to ``multipart_threshold``; above, parts of exactly the
  part size are read sequentially and uploaded by ``max_concurrency`` threads, memory at
  most ``(max_concurrency + 1) × part_size``. Any failure, a short or long stream, or a
  checksum mismatch aborts the upload: nothing becomes visible.
- Errors: NoSuchKey/404 → NotFoundError; 412 → PreconditionFailedError; SlowDown, 503,
  429, throttling codes → ThrottledError; 500/502/504, timeouts, connections dropped →
  RetryableError; 401/403 and refused credentials → AuthError; BadDigest & co →
  PermanentError "checksum refused"; a connection that cannot be opened →
  UnreachableError until this backend once reached the server, RetryableError after.
  Messages carry the operation, key, error code and status only — never SDK text.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import contextlib
import io
import ipaddress
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, Self, cast
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from urllib3.exceptions import HTTPError as Urllib3Error

from hdh_migrate.backends.base import CONTENT_HEADERS, Capabilities, ObjectInfo, WriteOptions
from hdh_migrate.backends.checksums import (
    CHUNK,
    MultiHasher,
    check_expected,
    checksum_b64,
    read_exact,
)
from hdh_migrate.backends.config_values import Secret, count, required, secret, size
from hdh_migrate.backends.registry import redact_url
from hdh_migrate.errors import (
    AuthError,
    HdhError,
    NotFoundError,
    PermanentError,
    PreconditionFailedError,
    RetryableError,
    ThrottledError,
    UnreachableError,
    UsageError,
)

MIB = 1024 * 1024
MIN_PART = 5 * MIB
MAX_PARTS = 10_000
KIND = "s3"

#: our content header name → boto3 parameter / response field
_CONTENT_PARAMS = {
    "content_type": "ContentType",
    "content_encoding": "ContentEncoding",
    "content_language": "ContentLanguage",
    "content_disposition": "ContentDisposition",
    "cache_control": "CacheControl",
}
_FLEXIBLE = {"sha256": "ChecksumSHA256", "crc32c": "ChecksumCRC32C"}

_NOT_FOUND = {"NoSuchKey", "NotFound", "404"}
_PRECONDITION = {"PreconditionFailed", "412", "ConditionalRequestConflict"}
_THROTTLED = {
    "SlowDown", "503", "429", "RequestLimitExceeded", "Throttling", "ThrottlingException",
    "TooManyRequests", "TooManyRequestsException", "RequestThrottled", "ServiceUnavailable",
}  # fmt: skip
_RETRYABLE = {"500", "502", "504", "InternalError", "RequestTimeout", "RequestTimeTooSkewed"}
_AUTH = {
    "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "401", "403",
    "ExpiredToken", "InvalidToken", "TokenRefreshRequired", "AllAccessDisabled",
}  # fmt: skip
_DIGEST = {"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "InvalidChecksum"}
_NETWORK = (
    ConnectionClosedError,
    ReadTimeoutError,
    IncompleteReadError,
    ResponseStreamingError,
    Urllib3Error,
    ConnectionError,
    TimeoutError,
)


@dataclass(frozen=True)
class S3Settings:
    """Everything needed to build a client; secrets stay references until ``client()``."""

    bucket: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key: Secret | None = None
    secret_key: Secret | None = None
    session_token: Secret | None = None
    addressing_style: str = "auto"
    signature_version: str = "s3v4"
    checksum_mode: str = "when_required"
    checksum_algorithms: tuple[str, ...] = ("md5",)
    verify_tls: bool = True
    ca_bundle: str | None = None
    sse_c_key: Secret | None = None
    storage_class: str | None = None
    multipart_threshold: int = 64 * MIB
    part_size: int = 16 * MIB
    max_concurrency: int = 4
    page_size: int = 1000
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    sdk_attempts: int = 2


@dataclass(frozen=True)
class OpenUpload:
    """A multipart upload still open on the server (stale ones are aborted on resume)."""

    key: str
    upload_id: str
    initiated: datetime | None


@dataclass(frozen=True)
class S3Reply:
    """A raw answer for the capability probe: ``code`` is None on success."""

    status: int
    code: str | None
    data: Mapping[str, Any]
    body: bytes = b""


def is_loopback(endpoint_url: str | None) -> bool:
    """True when the endpoint's host is localhost or a loopback address."""
    host = urlsplit(endpoint_url or "").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def settings_from_config(config: Mapping[str, Any]) -> S3Settings:
    """Validate plain config into S3Settings (UsageError names the bad key)."""
    endpoint = config.get("endpoint_url") or None
    algorithms = tuple(str(a).lower() for a in config.get("checksum_algorithms", ("md5",)))
    for name in algorithms:
        if name not in ("md5", "sha256", "crc32c"):
            raise UsageError(f"s3 backend: unknown checksum algorithm {name!r}")
    mode = str(config.get("checksum_mode", "when_required"))
    if mode not in ("when_required", "when_supported"):
        raise UsageError("s3 backend: checksum_mode must be when_required or when_supported")
    verify = bool(config.get("verify_tls", True))
    if not verify and not is_loopback(endpoint):
        raise UsageError(
            "s3 backend: verify_tls: false is refused for a non-loopback endpoint",
            hint="give the endpoint's CA with ca_bundle: instead",
        )
    part = size(config, "part_size", 16 * MIB, KIND)
    return S3Settings(
        bucket=required(config, "bucket", KIND),
        endpoint_url=endpoint,
        region=str(config.get("region") or "us-east-1"),
        access_key=secret(config, "access_key"),
        secret_key=secret(config, "secret_key"),
        session_token=secret(config, "session_token"),
        addressing_style=str(config.get("addressing_style") or ("path" if endpoint else "auto")),
        signature_version=str(config.get("signature_version") or "s3v4"),
        checksum_mode=mode,
        checksum_algorithms=algorithms,
        verify_tls=verify,
        ca_bundle=config.get("ca_bundle") or None,
        sse_c_key=secret(config, "sse_c_key"),
        storage_class=config.get("storage_class") or None,
        multipart_threshold=size(config, "multipart_threshold", 64 * MIB, KIND),
        part_size=part,
        max_concurrency=count(config, "max_concurrency", 4, KIND),
        page_size=count(config, "page_size", 1000, KIND),
        connect_timeout=float(config.get("connect_timeout", 10)),
        read_timeout=float(config.get("read_timeout", 60)),
        sdk_attempts=count(config, "sdk_attempts", 2, KIND),
    )


def sse_c_key_bytes(ref: Secret) -> bytes:
    """The 32-byte SSE-C key from its secret: raw bytes, or base64 of them."""
    raw = ref.reveal_bytes().strip()
    if len(raw) == 32:
        return raw
    with contextlib.suppress(binascii.Error, ValueError):
        decoded = base64.b64decode(raw, validate=True)
        if len(decoded) == 32:
            return decoded
    raise UsageError(f"sse_c_key {ref} must be 32 bytes (or their base64)")


def build_client(settings: S3Settings) -> Any:
    """A boto3 S3 client for ``settings`` (secrets revealed here, and only here)."""
    mode: Any = settings.checksum_mode  # validated by settings_from_config
    config = Config(
        region_name=settings.region,
        signature_version=settings.signature_version,
        s3=cast(Any, {"addressing_style": settings.addressing_style}),
        request_checksum_calculation=mode,
        response_checksum_validation=mode,
        retries={"mode": "standard", "total_max_attempts": settings.sdk_attempts},
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        max_pool_connections=max(10, 2 * settings.max_concurrency + 2),
        user_agent_extra="hdh-migrate",
    )
    verify: bool | str = settings.ca_bundle or True
    if not settings.verify_tls and is_loopback(settings.endpoint_url):
        verify = False
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=settings.endpoint_url,
        aws_access_key_id=_reveal(settings.access_key),
        aws_secret_access_key=_reveal(settings.secret_key),
        aws_session_token=_reveal(settings.session_token),
        verify=verify,
        config=config,
    )


def _reveal(ref: Secret | None) -> str | None:
    return ref.reveal() if ref is not None else None


class S3Backend:
    """One bucket of an S3-compatible store."""

    def __init__(self, settings: S3Settings, client: Any | None = None) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        where = redact_url(settings.endpoint_url) if settings.endpoint_url else "aws"
        self.name = f"s3://{settings.bucket} at {where}"
        self._sse = self._sse_params(settings.sse_c_key)
        self.client = client if client is not None else build_client(settings)
        self._reached = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        return cls(settings_from_config(config))

    @staticmethod
    def _sse_params(ref: Secret | None) -> dict[str, Any]:
        if ref is None:
            return {}
        return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": sse_c_key_bytes(ref)}

    # -- calling the SDK ----------------------------------------------------------------------

    def _call(self, op: str, key: str | None = None, **params: Any) -> Any:
        """``client.<op>(Bucket=…, **params)`` with every SDK error translated."""
        try:
            response = getattr(self.client, op)(Bucket=self.bucket, **params)
        except (ClientError, BotoCoreError, *_NETWORK) as exc:
            raise self._translate(exc, op, key) from None
        self._reached = True
        return response

    def _translate(self, exc: BaseException, op: str, key: str | None) -> HdhError:
        if isinstance(exc, ClientError):
            self._reached = True
            return translate_client_error(exc, f"{self.name}: {op}", key)
        where = f"{self.name}: {op}" + (f" {key!r}" if key else "")
        if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
            if not self._reached:
                return UnreachableError(
                    f"{self.name} does not answer", hint="check endpoint_url and that it is up"
                )
            return RetryableError(f"{where}: cannot connect", key=key)
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return AuthError(
                f"{self.name}: no usable credentials", hint="set access_key/secret_key"
            )
        if isinstance(exc, _NETWORK):
            return RetryableError(f"{where}: connection failed ({type(exc).__name__})", key=key)
        return PermanentError(f"{where} failed ({type(exc).__name__})", key=key)

    # -- listing and reading ------------------------------------------------------------------

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """ListObjectsV2 page by page (``page_size`` keys per request), in key order."""
        token: str | None = None
        while True:
            params: dict[str, Any] = {"Prefix": prefix, "MaxKeys": self.settings.page_size}
            if token:
                params["ContinuationToken"] = token
            page = self._call("list_objects_v2", **params)
            for entry in page.get("Contents", ()):
                yield _listed_info(entry)
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    def stat(self, key: str) -> ObjectInfo:
        params = self._head_params()
        return _head_info(key, self._call("head_object", key, Key=key, **params))

    def _head_params(self) -> dict[str, Any]:
        params = dict(self._sse)
        if set(self.settings.checksum_algorithms) & set(_FLEXIBLE):
            params["ChecksumMode"] = "ENABLED"
        return params

    def open_read(
        self, key: str, range: tuple[int, int] | None = None, if_match: str | None = None
    ) -> BinaryIO:
        """GetObject (Range, IfMatch) whose body translates read errors into our tree."""
        params: dict[str, Any] = dict(self._sse)
        if range is not None:
            start, end = range
            if start < 0 or end < start:
                raise ValueError(f"invalid range {range}: expected 0 <= start <= end")
            params["Range"] = f"bytes={start}-{end}"
        if if_match is not None:
            params["IfMatch"] = if_match
        response = self._call("get_object", key, Key=key, **params)
        body = _Body(response["Body"], lambda exc: self._translate(exc, "read", key))
        return io.BufferedReader(body, buffer_size=256 * 1024)

    # -- writing ------------------------------------------------------------------------------

    def write(
        self, key: str, stream: BinaryIO, size: int, options: WriteOptions | None = None
    ) -> ObjectInfo:
        """PutObject up to the threshold, else a bounded parallel multipart upload."""
        opts = options or WriteOptions()
        unknown = set(opts.checksums) - {"md5", "sha256", "crc32c"}
        if unknown:
            raise PermanentError(f"unsupported checksum algorithm(s) {sorted(unknown)}", key=key)
        if size <= self.settings.multipart_threshold:
            return self._put(key, stream, size, opts)
        return self._multipart(key, stream, size, opts)

    def _put(self, key: str, stream: BinaryIO, size: int, opts: WriteOptions) -> ObjectInfo:
        data = b"".join(read_exact(stream, size, key=key))
        check_expected(opts.checksums, _digests(opts.checksums, data), key=key)
        params = self._object_params(opts) | self._put_checksums(opts.checksums, data)
        if opts.if_none_match:
            params["IfNoneMatch"] = "*"
        response = self._call("put_object", key, Key=key, Body=data, ContentLength=size, **params)
        return _written_info(key, size, opts, response)

    def _object_params(self, opts: WriteOptions) -> dict[str, Any]:
        params: dict[str, Any] = dict(self._sse)
        for name, value in opts.content.items():
            if name in _CONTENT_PARAMS:
                params[_CONTENT_PARAMS[name]] = value
        if opts.metadata:
            params["Metadata"] = dict(opts.metadata)
        if self.settings.storage_class:
            params["StorageClass"] = self.settings.storage_class
        return params

    def _put_checksums(self, expected: Mapping[str, str], data: bytes) -> dict[str, str]:
        """Content-MD5 and one flexible checksum, for the algorithms this target takes."""
        sent = self.settings.checksum_algorithms
        params: dict[str, str] = {}
        if "md5" in sent and "md5" in expected:
            params["ContentMD5"] = expected["md5"]
        for name in ("sha256", "crc32c"):
            if name in sent and name in expected:
                params[_FLEXIBLE[name]] = expected[name]
                return params
        if "crc32c" in sent:  # nothing given: a free transport check
            params["ChecksumCRC32C"] = checksum_b64("crc32c", data)
        return params

    def _multipart(self, key: str, stream: BinaryIO, size: int, opts: WriteOptions) -> ObjectInfo:
        lengths = self._part_lengths(key, size, opts)
        create = self._object_params(opts)
        if "crc32c" in self.settings.checksum_algorithms:
            create["ChecksumAlgorithm"] = "CRC32C"
        upload_id = self._call("create_multipart_upload", key, Key=key, **create)["UploadId"]
        try:
            parts = self._upload_parts(key, upload_id, stream, size, lengths, opts)
            response = self._complete(key, upload_id, parts, opts)
        except BaseException:
            self.abort_multipart(key, upload_id, quiet=True)
            raise
        return _written_info(key, size, opts, response)

    def _part_lengths(self, key: str, size: int, opts: WriteOptions) -> builtins.list[int]:
        """Part sizes: ``first_part_size`` (when set) then ``part_size``; the last shorter."""
        part_size = opts.part_size or self.settings.part_size
        first = min(opts.first_part_size or part_size, size)
        rest = size - first
        lengths = [first] + [part_size] * (rest // part_size)
        if rest % part_size:
            lengths.append(rest % part_size)
        if len(lengths) > MAX_PARTS:
            raise PermanentError(
                f"{size} bytes in parts of {part_size} would exceed {MAX_PARTS} parts",
                key=key,
                hint="raise part_size",
            )
        return lengths

    def _upload_parts(
        self,
        key: str,
        upload_id: str,
        stream: BinaryIO,
        size: int,
        lengths: builtins.list[int],
        opts: WriteOptions,
    ) -> builtins.list[dict[str, Any]]:
        """Read parts sequentially, upload them on a bounded pool, check the stream's digests.

        At most ``max_concurrency`` parts are in flight plus the one being read.
        """
        workers = self.settings.max_concurrency
        hasher = MultiHasher(opts.checksums)
        parts: builtins.list[dict[str, Any]] = []
        pending: deque[Future[dict[str, Any]]] = deque()
        with ThreadPoolExecutor(workers, thread_name_prefix="hdh-s3-part") as pool:
            try:
                for number, length in enumerate(lengths, start=1):
                    while len(pending) >= workers:  # a free slot before reading more
                        parts.append(pending.popleft().result())
                    data = _read_part(stream, length, key)
                    for chunk in data.chunks:
                        hasher.update(chunk)
                    pending.append(pool.submit(self._upload_part, key, upload_id, number, data))
                    del data
                _check_exhausted(stream, size, key)
                while pending:
                    parts.append(pending.popleft().result())
            finally:
                for future in pending:
                    future.cancel()
        check_expected(opts.checksums, hasher.b64(), key=key)
        return parts

    def _upload_part(self, key: str, upload_id: str, number: int, data: _Part) -> dict[str, Any]:
        params: dict[str, Any] = dict(self._sse)
        part: dict[str, Any] = {"PartNumber": number}
        if "crc32c" in self.settings.checksum_algorithms:
            part["ChecksumCRC32C"] = params["ChecksumCRC32C"] = data.checksum("crc32c")
        response = self._call(
            "upload_part",
            key,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=data,
            ContentLength=data.length,
            **params,
        )
        part["ETag"] = response["ETag"]
        return part

    def _complete(
        self, key: str, upload_id: str, parts: builtins.list[dict[str, Any]], opts: WriteOptions
    ) -> Any:
        params: dict[str, Any] = dict(self._sse)
        if opts.if_none_match:
            params["IfNoneMatch"] = "*"
        return self._call(
            "complete_multipart_upload",
            key,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
            **params,
        )

    def delete(self, key: str) -> None:
        """DeleteObject; a missing key is not an error (S3 answers 204 either way)."""
        with contextlib.suppress(NotFoundError):
            self._call("delete_object", key, Key=key)

    def capabilities(self) -> Capabilities:
        return Capabilities(
            multipart=True,
            conditional_read=True,
            conditional_write=True,
            checksum_algorithms=self.settings.checksum_algorithms,
            sse_c=bool(self._sse),
            max_object_size=5 * 1024**4,
            min_part_size=MIN_PART,
            max_part_size=5 * 1024**3,
            max_part_count=MAX_PARTS,
            max_key_length=1024,
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()

    # -- helpers the engine and the rehearsal need -------------------------------------------

    def list_multipart_uploads(self, prefix: str = "") -> Iterator[OpenUpload]:
        """Open multipart uploads under ``prefix``, page by page."""
        markers: dict[str, str] = {}
        while True:
            page = self._call("list_multipart_uploads", Prefix=prefix, **markers)
            for upload in page.get("Uploads", ()):
                yield OpenUpload(upload["Key"], upload["UploadId"], upload.get("Initiated"))
            if not page.get("IsTruncated"):
                return
            markers = {
                "KeyMarker": page.get("NextKeyMarker", ""),
                "UploadIdMarker": page.get("NextUploadIdMarker", ""),
            }

    def abort_multipart(self, key: str, upload_id: str, *, quiet: bool = False) -> None:
        """Abort one upload; an upload already gone is not an error. ``quiet`` swallows all."""
        try:
            self._call("abort_multipart_upload", key, Key=key, UploadId=upload_id)
        except NotFoundError:
            pass
        except HdhError:
            if not quiet:
                raise

    def head_bucket(self) -> None:
        """Raises NotFoundError (no such bucket), AuthError, UnreachableError."""
        try:
            self._call("head_bucket")
        except NotFoundError:
            raise NotFoundError(f"{self.name}: no such bucket", hint="create it first") from None

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (rehearsals and tests)."""
        try:
            self.head_bucket()
            return
        except NotFoundError:
            pass
        params: dict[str, Any] = {}
        if self.settings.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.settings.region}
        try:
            self._call("create_bucket", **params)
        except PermanentError as exc:  # created meanwhile by a concurrent caller
            if "BucketAlreadyOwnedByYou" not in exc.message:
                raise

    def delete_bucket(self, *, force: bool = False) -> None:
        """Delete the bucket; with ``force``, first its objects and open uploads (tests)."""
        if force:
            for upload in self.list_multipart_uploads():
                self.abort_multipart(upload.key, upload.upload_id, quiet=True)
            for info in self.list():
                self.delete(info.key)
        self._call("delete_bucket")

    def try_call(self, op: str, *, bucket: str | None = None, **params: Any) -> S3Reply:
        """A raw call for the capability probe: server refusals come back as an S3Reply
        (with ``code``), never raised; a body is read whole (probe objects are tiny).
        ``bucket`` overrides this backend's bucket (the probe's scratch bucket).
        Connection problems raise UnreachableError/RetryableError."""
        try:
            response = getattr(self.client, op)(Bucket=bucket or self.bucket, **params)
        except ClientError as exc:
            self._reached = True
            code, status = _code_status(exc)
            return S3Reply(status, code or str(status), {})
        except (BotoCoreError, *_NETWORK) as exc:
            raise self._translate(exc, op, params.get("Key")) from None
        self._reached = True
        body = response.pop("Body", None)
        data = body.read() if body is not None else b""
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 200))
        return S3Reply(status, None, response, data)


# -- translating and converting -------------------------------------------------------------


def _code_status(exc: ClientError) -> tuple[str, int]:
    error = exc.response.get("Error", {})
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return str(error.get("Code", "") or status), status


def translate_client_error(exc: ClientError, where: str, key: str | None) -> HdhError:
    """One ClientError → our tree, by error code first, HTTP status second."""
    code, status = _code_status(exc)
    text = f"{where}" + (f" {key!r}" if key else "") + f": {code} (HTTP {status})"
    codes = {code, str(status)}
    if codes & _DIGEST:
        return PermanentError(f"checksum refused by the server: {text}", key=key)
    if code in _NOT_FOUND or (status == 404 and code not in ("NoSuchBucket", "NoSuchUpload")):
        return NotFoundError(text, key=key)
    if code == "NoSuchUpload":
        return NotFoundError(text, key=key)
    if codes & _PRECONDITION:
        return PreconditionFailedError(text, key=key)
    if codes & _THROTTLED:
        return ThrottledError(text, key=key)
    if codes & _RETRYABLE:
        return RetryableError(text, key=key)
    if codes & _AUTH:
        return AuthError(text, hint="check the access key, secret key and bucket policy")
    return PermanentError(text, key=key)


def _digests(expected: Mapping[str, str], data: bytes) -> dict[str, str]:
    return {name: checksum_b64(name, data) for name in expected}


def _read_part(stream: BinaryIO, length: int, key: str) -> _Part:
    """Exactly ``length`` bytes as a list of chunks (never joined: no second copy)."""
    chunks: builtins.list[bytes] = []
    filled = 0
    while filled < length:
        chunk = stream.read(min(CHUNK, length - filled))
        if not chunk:
            raise PermanentError(f"stream ended {length - filled} bytes early", key=key)
        chunks.append(bytes(chunk))
        filled += len(chunk)
    return _Part(chunks, length)


def _check_exhausted(stream: BinaryIO, size: int, key: str) -> None:
    if stream.read(1):
        raise PermanentError(f"stream holds more than the announced {size} bytes", key=key)


def _content(response: Mapping[str, Any]) -> dict[str, str]:
    return {
        name: response[param]
        for name, param in _CONTENT_PARAMS.items()
        if response.get(param) and name in CONTENT_HEADERS
    }


def _extra(response: Mapping[str, Any]) -> dict[str, str]:
    fields = {
        "version_id": "VersionId",
        "checksum_sha256": "ChecksumSHA256",
        "checksum_crc32c": "ChecksumCRC32C",
        "checksum_type": "ChecksumType",
        "storage_class": "StorageClass",
        "sse_customer_algorithm": "SSECustomerAlgorithm",
        "server_side_encryption": "ServerSideEncryption",
    }
    return {name: str(response[f]) for name, f in fields.items() if response.get(f)}


def _listed_info(entry: Mapping[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        key=entry["Key"],
        size=int(entry.get("Size", 0)),
        etag=entry.get("ETag"),
        last_modified=entry.get("LastModified"),
        extra={"storage_class": entry["StorageClass"]} if entry.get("StorageClass") else {},
    )


def _head_info(key: str, response: Mapping[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=int(response.get("ContentLength", 0)),
        etag=response.get("ETag"),
        last_modified=response.get("LastModified"),
        content=_content(response),
        metadata=dict(response.get("Metadata") or {}),
        extra=_extra(response),
    )


def _written_info(
    key: str, size: int, opts: WriteOptions, response: Mapping[str, Any]
) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=size,
        etag=response.get("ETag"),
        content=dict(opts.content),
        metadata=dict(opts.metadata),
        extra=_extra(response),
    )


class _Body(io.RawIOBase):
    """A StreamingBody whose read errors become our errors (RetryableError mostly)."""

    def __init__(self, body: Any, translate: Callable[[BaseException], HdhError]) -> None:
        self._body = body
        self._translate = translate

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._body.read(len(view))
        except (BotoCoreError, *_NETWORK) as exc:
            raise self._translate(exc) from None
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(Exception):
                self._body.close()
        super().close()


class _Part(io.RawIOBase):
    """One part held as the chunks it was read in: a seekable stream botocore can send
    (and rewind on its own retry) without ever joining the chunks into a second copy."""

    def __init__(self, chunks: builtins.list[bytes], length: int) -> None:
        self.chunks = chunks
        self.length = length
        self._pos = self._index = self._inner = 0  # position, as (chunk index, offset)

    def checksum(self, algorithm: str) -> str:
        digest = MultiHasher([algorithm])
        for chunk in self.chunks:
            digest.update(chunk)
        return digest.b64()[algorithm]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.length}[whence]
        self._pos = max(0, min(self.length, base + offset))
        self._index, self._inner = 0, self._pos
        while self._index < len(self.chunks) and self._inner >= len(self.chunks[self._index]):
            self._inner -= len(self.chunks[self._index])
            self._index += 1
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        written = 0
        while written < len(view) and self._index < len(self.chunks):
            chunk = self.chunks[self._index]
            piece = chunk[self._inner : self._inner + len(view) - written]
            view[written : written + len(piece)] = piece
            written += len(piece)
            self._inner += len(piece)
            if self._inner >= len(chunk):
                self._index, self._inner = self._index + 1, 0
        self._pos += written
        return written

    def __len__(self) -> int:
        return self.length

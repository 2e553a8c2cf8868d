"""S3 and S3-compatible stores (boto3): the only module importing boto3 / botocore.

Config (plain values; secrets as ``SecretRef``, ``${env:…}``/``${file:…}`` strings, or a
plain string in tests)::

    bucket: NAME                         required
    endpoint_url: https://…              omitted = AWS
    region: us-east-1
    access_key, secret_key, session_token: SECRET   omitted = the default AWS chain
    profile: NAME                        a profile of the AWS config/credentials files
                                         (keys, SSO, credential_process, assumed role)
    addressing_style: path | virtual | auto         default path with an endpoint_url
    signature_version: s3v4
    checksum_mode: when_required | when_supported   botocore's automatic checksums
    checksum_algorithms: [md5]           which of md5/sha256/crc32c are *sent* to the server
    verify_tls: true                     false is accepted only for loopback endpoints
    ca_bundle: PATH                      the CA(s) that verify the server instead of the
                                         system store (checked at build: exists, PEM)
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
  checksum mismatch aborts the upload: nothing becomes visible. With
  ``WriteOptions.resume`` an open upload of the key whose parts match the bytes (size and
  MD5) is reused, only the missing parts are sent, and a retryable failure keeps it open.
- Errors: NoSuchKey/404 → NotFoundError; 412 → PreconditionFailedError; SlowDown, 503,
  429, throttling codes → ThrottledError; 500/502/504, timeouts, connections dropped →
  RetryableError; 401/403 and refused credentials → AuthError; a server certificate that
  fails verification → CertificateError (never retried, see ``tls``); BadDigest & co →
  PermanentError "checksum refused"; a connection that cannot be opened →
  UnreachableError until this backend once reached the server, RetryableError after.
  Messages carry the operation, key, error code and status only — never SDK text.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import io
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any, BinaryIO, Self, cast

import boto3
import botocore.auth
import botocore.handlers
import botocore.utils
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    ResponseStreamingError,
)
from urllib3.exceptions import HTTPError as Urllib3Error

from hdh_migrate.backends import tls
from hdh_migrate.backends.base import Capabilities, ObjectInfo, WriteOptions
from hdh_migrate.backends.checksums import MultiHasher, check_expected, checksum_b64
from hdh_migrate.backends.parts import (
    MAX_PARTS,
    HashedBody,
    check_exhausted,
    part_lengths,
    read_hashed,
    read_part,
)
from hdh_migrate.backends.registry import redact_url
from hdh_migrate.backends.s3_config import (
    MIN_PART,
    OpenUpload,
    S3Reply,
    S3Settings,
    checked,
    is_loopback,
    settings_from_config,
    sse_c_key_bytes,
)
from hdh_migrate.backends.s3_mapping import (
    CONTENT_PARAMS,
    FLEXIBLE,
    classify,
    head_info,
    listed_info,
    written_info,
)
from hdh_migrate.circuit import CIRCUITS
from hdh_migrate.config_values import Secret
from hdh_migrate.errors import (
    AuthError,
    ConnectionFailedError,
    HdhError,
    NotFoundError,
    PermanentError,
    RetryableError,
    StorageError,
    UnreachableError,
    UsageError,
)

__all__ = [
    "OpenUpload",
    "S3Backend",
    "S3Reply",
    "S3Settings",
    "build_client",
    "settings_from_config",
    "translate_client_error",
]

_NETWORK = (
    ConnectionClosedError,
    ReadTimeoutError,
    IncompleteReadError,
    ResponseStreamingError,
    Urllib3Error,
    ConnectionError,
    TimeoutError,
)


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
    session = _session(settings.profile)
    try:
        client = session.client(
            "s3",
            endpoint_url=settings.endpoint_url,
            aws_access_key_id=_reveal(settings.access_key),
            aws_secret_access_key=_reveal(settings.secret_key),
            aws_session_token=_reveal(settings.session_token),
            verify=verify,
            config=config,
        )
    except CredentialRetrievalError as exc:  # a credential_process or SSO login at build time
        raise _provider_failed("s3 backend", exc) from None
    expect_continue_for_large_bodies(client)
    return client


def _provider_failed(where: str, exc: CredentialRetrievalError) -> AuthError:
    """Its name only: the provider's own message may quote what it printed (tokens)."""
    return AuthError(
        f"{where}: the AWS credential provider failed ({exc.kwargs.get('provider')})",
        hint="run the profile's login or credential_process by hand to see why",
    )


#: Bodies at least this large are sent with ``Expect: 100-continue``.
EXPECT_CONTINUE_MIN = 1 << 20


def expect_continue_for_large_bodies(client: Any) -> None:
    """Replace botocore's ``Expect: 100-continue`` on every PUT/POST with a file-like body
    (one more round trip, and up to 1 s of waiting, per small object: docs/benchmarks.md)
    by the same header on large bodies only: there a server can still refuse (auth,
    storage class, quota) before the body is sent, which is what the header is for."""
    events = client.meta.events
    events.unregister("before-call.s3", botocore.handlers.add_expect_header)
    events.register("before-call.s3", _expect_for_large_bodies)


def _expect_for_large_bodies(model: Any, params: dict[str, Any], **_: Any) -> None:
    if model.http.get("method", "") not in ("PUT", "POST") or "body" not in params:
        return
    length = params["headers"].get("Content-Length")
    if length is None:
        length = botocore.utils.determine_content_length(params["body"])
    if length is None or int(length) >= EXPECT_CONTINUE_MIN:
        params["headers"]["Expect"] = "100-continue"


_SIGV4_PAYLOAD = botocore.auth.SigV4Auth.payload


def _known_payload_hash(self: Any, request: Any) -> str:
    """SigV4's payload hash for S3, without reading the body again when it is one of our
    ``HashedBody`` (hashed in the loop that read it: ``parts.read_hashed``). Over http
    botocore always signs the payload — a third SHA-256 pass over every byte, plus 1 MiB
    copies, 15 % of the client's samples on large objects (docs/benchmarks.md); the server
    still checks the body against the signed hash. Over https botocore sends
    UNSIGNED-PAYLOAD either way (TLS protects the body), and this changes nothing."""
    body = request.body
    streaming = getattr(self, "_is_streaming_checksum_payload", None)
    if (
        isinstance(body, HashedBody)
        and body.sha256_hex
        and not (streaming is not None and streaming(request))
        and self._should_sha256_sign_payload(request)
    ):
        return body.sha256_hex
    return _SIGV4_PAYLOAD(self, request)


# S3 requests only (SigV4Auth itself, other services, is untouched); idempotent.
botocore.auth.S3SigV4Auth.payload = _known_payload_hash  # type: ignore[method-assign]


def _session(profile: str | None) -> Any:
    """A boto3 session on ``profile`` (None: the default chain). Temporary credentials it
    yields (SSO, credential_process, assumed roles, web identity, instance and container
    roles) are refreshed by botocore before they expire."""
    try:
        return boto3.session.Session(profile_name=profile)
    except ProfileNotFound:
        raise UsageError(
            f"s3 backend: AWS profile {profile!r} not found",
            hint="check its name and AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE",
        ) from None


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

    @classmethod
    def from_spec(cls, spec: S3Settings) -> Self:
        """The backend of a plan's typed spec, as it is (after the cross-field checks)."""
        return cls(checked(spec))

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
        CIRCUITS.success(self.name)
        return response

    def _translate(self, exc: BaseException, op: str, key: str | None) -> HdhError:
        if isinstance(exc, ClientError):
            self._reached = True
            CIRCUITS.success(self.name)
            return translate_client_error(exc, f"{self.name}: {op}", key)
        where = f"{self.name}: {op}" + (f" {key!r}" if key else "")
        handshake = tls.handshake_error(exc, where, reached=self._reached, key=key)
        if handshake is not None:
            return handshake
        if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
            CIRCUITS.failure(self.name)
            if not self._reached:
                return UnreachableError(
                    f"{self.name} does not answer", hint="check endpoint_url and that it is up"
                )
            return ConnectionFailedError(f"{where}: cannot connect", endpoint=self.name, key=key)
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return AuthError(
                f"{self.name}: no usable credentials",
                hint="set credentials:, or the AWS profile / environment the plan's auth uses",
            )
        if isinstance(exc, CredentialRetrievalError):
            return _provider_failed(self.name, exc)
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
                yield listed_info(entry)
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    def stat(self, key: str) -> ObjectInfo:
        params = self._head_params()
        return head_info(key, self._call("head_object", key, Key=key, **params))

    def _head_params(self) -> dict[str, Any]:
        params = dict(self._sse)
        if set(self.settings.checksum_algorithms) & set(FLEXIBLE):
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
        body = read_hashed(stream, size, key)  # sent as is, its SigV4 hash already taken
        check_exhausted(stream, size, key)
        with body.getbuffer() as buffer, buffer.toreadonly() as data:
            check_expected(opts.checksums, _digests(opts.checksums, data), key=key)
            params = self._object_params(opts) | self._put_checksums(opts.checksums, data)
        if opts.if_none_match:
            params["IfNoneMatch"] = "*"
        response = self._call("put_object", key, Key=key, Body=body, ContentLength=size, **params)
        sent = {"sent_content_md5": "true"} if "ContentMD5" in params else {}
        return written_info(key, size, opts, response, sent)

    def _object_params(self, opts: WriteOptions) -> dict[str, Any]:
        params: dict[str, Any] = dict(self._sse)
        for name, value in opts.content.items():
            if name in CONTENT_PARAMS:
                params[CONTENT_PARAMS[name]] = value
        if opts.metadata:
            params["Metadata"] = dict(opts.metadata)
        if self.settings.storage_class:
            params["StorageClass"] = self.settings.storage_class
        return params

    def _put_checksums(self, expected: Mapping[str, str], data: memoryview) -> dict[str, str]:
        """Content-MD5 and one flexible checksum, for the algorithms this target takes."""
        sent = self.settings.checksum_algorithms
        params: dict[str, str] = {}
        if "md5" in sent:  # the caller's, else computed here: the server checks the body
            params["ContentMD5"] = expected.get("md5") or checksum_b64("md5", data)
        for name in ("sha256", "crc32c"):
            if name in sent and name in expected:
                params[FLEXIBLE[name]] = expected[name]
                return params
        if "crc32c" in sent:  # nothing given: a free transport check
            params["ChecksumCRC32C"] = checksum_b64("crc32c", data)
        return params

    def _multipart(self, key: str, stream: BinaryIO, size: int, opts: WriteOptions) -> ObjectInfo:
        lengths = self._part_lengths(key, size, opts)
        if opts.resume:
            return self._resumed(key, stream, size, lengths, opts)
        upload_id = self._create_upload(key, opts)
        try:
            parts, _ = self._upload_parts(key, upload_id, stream, size, lengths, opts)
            response = self._complete(key, upload_id, parts, opts)
        except BaseException:
            self.abort_multipart(key, upload_id, quiet=True)
            raise
        return written_info(key, size, opts, response)

    def _create_upload(self, key: str, opts: WriteOptions) -> str:
        create = self._object_params(opts)
        if "crc32c" in self.settings.checksum_algorithms:
            create["ChecksumAlgorithm"] = "CRC32C"
        return str(self._call("create_multipart_upload", key, Key=key, **create)["UploadId"])

    def _resumed(
        self, key: str, stream: BinaryIO, size: int, lengths: builtins.list[int], opts: WriteOptions
    ) -> ObjectInfo:
        """A multipart upload that reuses an open upload of ``key`` left by an interrupted
        write of the same bytes (``WriteOptions.resume``). The upload is recognised by its
        part 1 (for HDH1: the header, whose random salt makes it unique, and the first
        segments): same size and an ETag equal to the MD5 of the part we would send. Parts
        whose size and MD5 match are not sent again. A retryable failure keeps the upload
        open for the next attempt; a permanent one (the stream's length or digests wrong)
        aborts it. Uploads of the key that did not match are aborted once the write
        completed (left by attempts under another header)."""
        found = self._open_uploads_of(key)
        first = read_part(stream, lengths[0], key)
        upload_id = next(
            (uid for uid, parts in found.items() if _same_part(parts.get(1), first)), None
        )
        done = found.pop(upload_id) if upload_id is not None else {}
        if upload_id is None:
            upload_id = self._create_upload(key, opts)
        try:
            parts, reused = self._upload_parts(
                key, upload_id, stream, size, lengths, opts, first=first, done=done
            )
            response = self._complete(key, upload_id, parts, opts)
        except PermanentError:
            self.abort_multipart(key, upload_id, quiet=True)
            raise
        for stale in found:
            self.abort_multipart(key, stale, quiet=True)
        counts = {"parts_reused": str(reused), "parts_uploaded": str(len(lengths) - reused)}
        info = written_info(key, size, opts, response)
        return replace(info, extra={**info.extra, **counts})

    def _open_uploads_of(self, key: str) -> dict[str, dict[int, dict[str, Any]]]:
        """Upload id → listed parts of every open upload of exactly ``key``. A server that
        cannot list uploads or parts has nothing to resume (a fresh upload, as before);
        an upload gone meanwhile is skipped."""
        found: dict[str, dict[int, dict[str, Any]]] = {}
        try:
            uploads = [u for u in self.list_multipart_uploads(key) if u.key == key]
        except (PermanentError, NotFoundError):
            return found
        for upload in uploads:
            with contextlib.suppress(PermanentError, NotFoundError):
                found[upload.upload_id] = self._listed_parts(key, upload.upload_id)
        return found

    def _listed_parts(self, key: str, upload_id: str) -> dict[int, dict[str, Any]]:
        """ListParts of one open upload, page by page: part number → its listing."""
        parts: dict[int, dict[str, Any]] = {}
        marker: dict[str, Any] = {}
        while True:
            page = self._call("list_parts", key, Key=key, UploadId=upload_id, **marker)
            for part in page.get("Parts", ()):
                parts[int(part["PartNumber"])] = part
            if not page.get("IsTruncated") or not page.get("NextPartNumberMarker"):
                return parts
            marker = {"PartNumberMarker": page["NextPartNumberMarker"]}

    def _part_lengths(self, key: str, size: int, opts: WriteOptions) -> builtins.list[int]:
        part_size = opts.part_size or self.settings.part_size
        return part_lengths(size, part_size, opts.first_part_size, key=key)

    def _upload_parts(
        self,
        key: str,
        upload_id: str,
        stream: BinaryIO,
        size: int,
        lengths: builtins.list[int],
        opts: WriteOptions,
        *,
        first: HashedBody | None = None,
        done: Mapping[int, Mapping[str, Any]] | None = None,
    ) -> tuple[builtins.list[dict[str, Any]], int]:
        """Read parts sequentially, upload them on a bounded pool, check the stream's digests;
        return the parts and how many of them were ``done`` already (same size and MD5:
        listed, not sent). ``first``: part 1, already read from ``stream``.

        At most ``max_concurrency`` parts are in flight plus the one being read.
        """
        workers = self.settings.max_concurrency
        hasher = MultiHasher(opts.checksums)
        parts: builtins.list[dict[str, Any]] = []
        pending: deque[Future[dict[str, Any]]] = deque()
        reused = 0
        with ThreadPoolExecutor(workers, thread_name_prefix="hdh-s3-part") as pool:
            try:
                for number, length in enumerate(lengths, start=1):
                    while len(pending) >= workers:  # a free slot before reading more
                        parts.append(pending.popleft().result())
                    data = first if first is not None else read_part(stream, length, key)
                    data.feed(hasher)
                    listed = (done or {}).get(number)
                    if _same_part(listed, data):
                        assert listed is not None
                        pending.append(_finished(self._reused_part(number, listed, data)))
                        reused += 1
                    else:
                        pending.append(pool.submit(self._upload_part, key, upload_id, number, data))
                    del data
                    first = None
                check_exhausted(stream, size, key)
                while pending:
                    parts.append(pending.popleft().result())
            finally:
                for future in pending:
                    future.cancel()
        check_expected(opts.checksums, hasher.b64(), key=key)
        return parts, reused

    def _reused_part(
        self, number: int, listed: Mapping[str, Any], data: HashedBody
    ) -> dict[str, Any]:
        """A part already uploaded, as CompleteMultipartUpload lists it; its CRC32C is
        computed from ``data`` (the same bytes: ListParts may not return it)."""
        part: dict[str, Any] = {"PartNumber": number, "ETag": listed["ETag"]}
        if "crc32c" in self.settings.checksum_algorithms:
            part["ChecksumCRC32C"] = data.checksum("crc32c")
        return part

    def _upload_part(
        self, key: str, upload_id: str, number: int, data: HashedBody
    ) -> dict[str, Any]:
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
            open_uploads=True,
            multipart_threshold=self.settings.multipart_threshold,
            parts_in_flight=self.settings.max_concurrency,
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
        """Delete the bucket; with ``force``, first its objects and open uploads (tests and
        rehearsals). Idempotent: a bucket that does not exist (or no longer does) is fine."""
        try:
            self.head_bucket()
        except NotFoundError:
            return
        if force:
            for upload in self.list_multipart_uploads():
                self.abort_multipart(upload.key, upload.upload_id, quiet=True)
            for info in self.list():
                self.delete(info.key)
        try:
            self._call("delete_bucket")
        except PermanentError as exc:  # deleted meanwhile by a concurrent caller
            if "NoSuchBucket" not in exc.message:
                raise

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
        try:
            data = body.read() if body is not None else b""
        except (BotoCoreError, *_NETWORK) as exc:  # a body cut short (a key that is a folder)
            raise self._translate(exc, op, params.get("Key")) from None
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 200))
        return S3Reply(status, None, response, data)


# -- translating and converting -------------------------------------------------------------


def _code_status(exc: ClientError) -> tuple[str, int]:
    error = exc.response.get("Error", {})
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return str(error.get("Code", "") or status), status


def translate_client_error(exc: ClientError, where: str, key: str | None) -> HdhError:
    """One ClientError → our tree (see ``s3_mapping.classify``), without SDK text."""
    code, status = _code_status(exc)
    cls, prefix = classify(code, status)
    text = f"{prefix}{where}" + (f" {key!r}" if key else "") + f": {code} (HTTP {status})"
    if issubclass(cls, StorageError):
        return cls(text, key=key)
    return cls(text, hint="check the access key, secret key and bucket policy")


def _same_part(listed: Mapping[str, Any] | None, data: HashedBody) -> bool:
    """An uploaded part (its ListParts entry) holds exactly ``data``: same size, and an
    ETag that is the MD5 of ``data`` (a server whose part ETags are not MD5s, e.g. with
    SSE-C, never matches: its parts are sent again)."""
    if listed is None or int(listed.get("Size", -1)) != data.length:
        return False
    etag = str(listed.get("ETag", "")).strip('"').lower()
    if len(etag) != 32:
        return False
    return base64.b64decode(data.checksum("md5")).hex() == etag


def _finished(part: dict[str, Any]) -> Future[dict[str, Any]]:
    future: Future[dict[str, Any]] = Future()
    future.set_result(part)
    return future


def _digests(expected: Mapping[str, str], data: memoryview) -> dict[str, str]:
    return {name: checksum_b64(name, data) for name in expected}


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

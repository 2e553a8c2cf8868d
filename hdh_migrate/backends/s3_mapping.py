"""S3 answers → our values: error codes → the error tree, responses → ObjectInfo.

No SDK import here: plain dicts in, plain values out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hdh_migrate.backends.base import CONTENT_HEADERS, ObjectInfo, WriteOptions
from hdh_migrate.errors import (
    AuthError,
    HdhError,
    NotFoundError,
    PermanentError,
    PreconditionFailedError,
    RetryableError,
    ThrottledError,
)

#: our content header name → boto3 parameter / response field
CONTENT_PARAMS = {
    "content_type": "ContentType",
    "content_encoding": "ContentEncoding",
    "content_language": "ContentLanguage",
    "content_disposition": "ContentDisposition",
    "cache_control": "CacheControl",
}
FLEXIBLE = {"sha256": "ChecksumSHA256", "crc32c": "ChecksumCRC32C"}

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
_GROUPS: tuple[tuple[set[str], type[HdhError]], ...] = (
    (_PRECONDITION, PreconditionFailedError),
    (_THROTTLED, ThrottledError),
    (_RETRYABLE, RetryableError),
    (_AUTH, AuthError),
)


def classify(code: str, status: int) -> tuple[type[HdhError], str]:
    """Our error class for an S3 error ``code``/HTTP ``status`` (code first, status second),
    and a prefix for the message ("checksum refused by the server: " for digest errors)."""
    codes = {code, str(status)}
    if codes & _DIGEST:
        return PermanentError, "checksum refused by the server: "
    if code in _NOT_FOUND or code == "NoSuchUpload":
        return NotFoundError, ""
    if status == 404 and code != "NoSuchBucket":
        return NotFoundError, ""
    for group, cls in _GROUPS:
        if codes & group:
            return cls, ""
    return PermanentError, ""


def content_of(response: Mapping[str, Any]) -> dict[str, str]:
    return {
        name: response[param]
        for name, param in CONTENT_PARAMS.items()
        if response.get(param) and name in CONTENT_HEADERS
    }


def extra_of(response: Mapping[str, Any]) -> dict[str, str]:
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


def listed_info(entry: Mapping[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        key=entry["Key"],
        size=int(entry.get("Size", 0)),
        etag=entry.get("ETag"),
        last_modified=entry.get("LastModified"),
        extra={"storage_class": entry["StorageClass"]} if entry.get("StorageClass") else {},
    )


def head_info(key: str, response: Mapping[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=int(response.get("ContentLength", 0)),
        etag=response.get("ETag"),
        last_modified=response.get("LastModified"),
        content=content_of(response),
        metadata=dict(response.get("Metadata") or {}),
        extra=extra_of(response),
    )


def written_info(
    key: str,
    size: int,
    opts: WriteOptions,
    response: Mapping[str, Any],
    sent: Mapping[str, str] | None = None,
) -> ObjectInfo:
    """What a PutObject / CompleteMultipartUpload answered; ``sent`` adds what the request
    carried (``sent_content_md5``: the body went with a Content-MD5, so a server that
    validates checksums refused it unless every byte arrived)."""
    return ObjectInfo(
        key=key,
        size=size,
        etag=response.get("ETag"),
        content=dict(opts.content),
        metadata=dict(opts.metadata),
        extra=extra_of(response) | dict(sent or {}),
    )

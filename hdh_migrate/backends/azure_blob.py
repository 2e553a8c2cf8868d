"""Azure Blob Storage backend (azure-storage-blob): the only module importing the Azure SDK.

Config (plain values; secrets as ``SecretRef``, a ``${env:…}``/``${file:…}`` string, or a
plain string in tests)::

    container: NAME                          required
    connection_string: SECRET                either this …
    account_url: https://ACCOUNT.blob.core.windows.net  … or this, with
    credential: SECRET                       an account key or a SAS token (auto-detected)
    auth: KIND                               default | managed_identity | service_principal
                                             (Entra ID, see ``azure_auth``) | sas |
                                             account_key | connection_string
    page_size: 5000                          List Blobs results per page (max 5000)
    chunk_size: 8MiB                         ranged GET size while reading
    max_concurrency: 2                       ranged GETs in flight per open stream
    block_size: 8MiB                         staged block size (WriteOptions.part_size wins)
    single_put_size: 8MiB                    objects up to this size are one Put Blob
    api_version: "2021-12-02"                optional x-ms-version (Azurite: --skipApiVersionCheck)
    ca_bundle: PATH                          the CA(s) that verify an https endpoint instead of
                                             the system store (checked at build: exists, PEM)
    sdk_retries: 2                           the SDK's own retries before we classify

Contracts, beyond ``base.Backend``:

- ``list`` fetches one page at a time (``results_per_page``), with user metadata.
  ``extra`` carries ``blob_type``, ``access_tier``, ``lease_state`` … (see ``_extra``).
  Snapshots and versions are not listed.
- ``open_read`` issues the first ranged GET at open (so NotFound / precondition errors are
  raised there), then pins every further GET to the ETag of the first answer: a blob
  changed mid-read raises ``PreconditionFailedError`` from ``read``. Memory is at most
  ``(max_concurrency + 1) × chunk_size`` per stream.
- ``write`` buffers objects up to ``single_put_size`` and sends one Put Blob; larger ones
  are staged as blocks and made visible by one Put Block List, so a failure before the
  commit leaves nothing visible (Azure drops uncommitted blocks after 7 days). An expected
  ``md5`` in ``WriteOptions.checksums`` is checked locally before the commit and stored
  as the blob's Content-MD5.
- Errors: 404 → NotFoundError; 412 and 409 BlobAlreadyExists → PreconditionFailedError;
  a lease conflict → ``LeaseConflictError`` (a PreconditionFailedError); 401/403 →
  AuthError; 429/503 → ThrottledError; 408/5xx and a connection dropped mid-answer →
  RetryableError; a connection that cannot be opened → UnreachableError until this backend
  has once reached the service, RetryableError afterwards; a server certificate that fails
  verification → CertificateError (never retried, see ``tls``); other 4xx → PermanentError.
  Messages carry the status and error code only, never the SDK text (it may hold a SAS).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import io
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, BinaryIO, Self, cast
from urllib.parse import urlsplit

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    IncompleteReadError,
    ResourceExistsError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import (
    BlobBlock,
    BlobClient,
    BlobLeaseClient,
    BlobProperties,
    BlobServiceClient,
    ContainerClient,
    ContentSettings,
    ExponentialRetry,
    StorageStreamDownloader,
)

from hdh_migrate import config_values as cv
from hdh_migrate.backends import azure_auth, sas, tls
from hdh_migrate.backends.azure_connection import blob_endpoint, clear_text_host
from hdh_migrate.backends.base import CONTENT_HEADERS, Capabilities, ObjectInfo, WriteOptions
from hdh_migrate.backends.checksums import check_expected, read_exact
from hdh_migrate.backends.chunked_io import ChunkStream, blocks, prefetched, spans
from hdh_migrate.backends.specs import AzureBlobSpec, spec_values
from hdh_migrate.circuit import CIRCUITS
from hdh_migrate.errors import (
    AuthError,
    ConnectionFailedError,
    HdhError,
    NotFoundError,
    PermanentError,
    PreconditionFailedError,
    RetryableError,
    StorageError,
    ThrottledError,
    UnreachableError,
    UsageError,
)

KIND = "azure_blob"
MiB = 1024 * 1024
MAX_BLOCKS = 50_000
MAX_BLOCK_SIZE = 4000 * MiB
LEASE_CODES = frozenset(
    {
        "LeaseIdMissing",
        "LeaseIdMismatchWithBlobOperation",
        "LeaseIdMismatchWithLeaseOperation",
        "LeaseNotPresentWithBlobOperation",
        "LeaseAlreadyPresent",
        "LeaseIsBreakingAndCannotBeAcquired",
        "LeaseLost",
    }
)


class LeaseConflictError(PreconditionFailedError):
    """The blob is leased and the call did not carry the lease id (or a lease already exists)."""


def classify(status: int | None, code: str | None) -> type[HdhError]:
    """Our error class for an HTTP ``status`` and Azure ``x-ms-error-code`` (pure)."""
    if code in LEASE_CODES:
        return LeaseConflictError
    if status in (401, 403):
        return AuthError
    if status == 404:
        return NotFoundError
    if status == 412 or code == "BlobAlreadyExists":
        return PreconditionFailedError
    if status in (429, 503):
        return ThrottledError
    if status == 408 or (status is not None and status >= 500):
        return RetryableError
    return PermanentError


_HINTS = {
    AuthError: "check the connection string, account key or SAS token (rights, expiry)",
    UnreachableError: "check account_url / the connection string endpoint and the network",
    LeaseConflictError: "the blob is leased: pass its lease id or break the lease",
}
_CODE_HINTS = {
    "ContainerNotFound": "create the container or fix its name in the config",
    "BlobArchived": "the blob is in the Archive tier: rehydrate it first",
    "InvalidRange": "the range starts at or past the end of the blob",
    "SnapshotsPresent": "the blob has snapshots: delete them explicitly first",
}


class AzureBlobBackend:
    """One Azure Blob container (or an Azurite one). Thread-safe: the SDK clients are."""

    def __init__(
        self,
        container: ContainerClient,
        *,
        name: str,
        page_size: int = 5000,
        chunk_size: int = 8 * MiB,
        max_concurrency: int = 2,
        block_size: int = 8 * MiB,
        single_put_size: int = 8 * MiB,
        identity: str = "",
        credential_expires: dt.datetime | None = None,
    ) -> None:
        self._container = container
        self.name = name
        self.identity = identity  # an Entra ID identity, named when it is refused
        self.credential_expires = credential_expires  # a SAS's se=: before a wave, and on 403
        self.page_size = min(page_size, 5000)
        self.chunk_size = chunk_size
        self.max_concurrency = max_concurrency
        self.block_size = block_size
        self.single_put_size = single_put_size
        self._reached = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        """Build from plain values (see the module docstring). Reveals the secret now, makes
        no request. Raises UsageError for a missing or contradictory setting."""
        container_name = cv.required(config, "container", KIND)
        chunk = cv.size(config, "chunk_size", 8 * MiB, KIND)
        service = _service_client(config, chunk)
        return cls(
            service.get_container_client(container_name),
            name=f"azure://{service.account_name}/{container_name}",
            page_size=cv.count(config, "page_size", 5000, KIND),
            chunk_size=chunk,
            max_concurrency=cv.count(config, "max_concurrency", 2, KIND),
            block_size=cv.size(config, "block_size", 8 * MiB, KIND),
            single_put_size=cv.size(config, "single_put_size", 8 * MiB, KIND),
            identity=azure_auth.describe(config),
            credential_expires=_sas_expiry(config, f"azure://{service.account_name}"),
        )

    @classmethod
    def from_spec(cls, spec: AzureBlobSpec) -> Self:
        """The backend of a plan's typed spec, through the checks plain config gets."""
        return cls.from_config(spec_values(spec))

    def __repr__(self) -> str:
        return f"AzureBlobBackend({self.name})"

    # -- errors -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self, action: str, key: str | None = None) -> Iterator[None]:
        """Translate every SDK exception raised inside into our error tree."""
        try:
            yield
        except AzureError as error:
            raise self._translate(error, action, key) from None
        self._answered()

    def _answered(self) -> None:
        self._reached = True
        CIRCUITS.success(self.name)

    def _translate(self, error: AzureError, action: str, key: str | None) -> HdhError:
        where = f"{self.name}: {action}" + (f" {key!r}" if key is not None else "")
        handshake = tls.handshake_error(error, where, reached=self._reached, key=key)
        if handshake is not None:
            return handshake
        if isinstance(error, ServiceRequestError):
            CIRCUITS.failure(self.name)
            message = f"{where}: cannot connect"
            if self._reached:
                return ConnectionFailedError(message, endpoint=self.name, key=key)
            return _make(UnreachableError, message, key)
        if isinstance(error, ServiceResponseError | IncompleteReadError):
            return _make(RetryableError, f"{where}: connection dropped", key)
        self._answered()
        status = getattr(error, "status_code", None)
        raw_code = getattr(error, "error_code", None)
        code = _text(raw_code) if raw_code is not None else None
        if isinstance(error, ClientAuthenticationError) and status is None:
            status = 401
        cls = classify(status, code) if isinstance(error, HttpResponseError) else PermanentError
        hint = _CODE_HINTS.get(code or "") or _HINTS.get(cls)
        if cls is AuthError and self.identity:
            hint = f"{self.identity} was refused: check its role on the account, or that it "
            hint += "still exists (Storage Blob Data Reader at least)"
        expired = self.credential_expires
        if cls is AuthError and expired is not None and expired <= dt.datetime.now(dt.UTC):
            return _make(
                AuthError,
                f"{where}: {status or ''} {code or 'refused'}: the SAS expired at "
                f"{expired:%Y-%m-%dT%H:%M:%SZ}, during the run",
                key,
                "issue a new SAS and put it where the plan's reference points; the same "
                "command resumes where the run stopped",
            )
        return _make(cls, f"{where}: {status or ''} {code or type(error).__name__}", key, hint)

    # -- the contract -------------------------------------------------------------------------

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every blob under ``prefix`` in name order, one List Blobs page in memory at a time:
        each page is fetched by its continuation token from a fresh pager, so nothing of the
        previous page (the SDK keeps its response and items) is alive during the next call."""
        token: str | None = None
        while True:
            infos, token = self._page(prefix, token)
            yield from infos
            del infos
            if not token:
                return

    def _page(self, prefix: str, token: str | None) -> tuple[Sequence[ObjectInfo], str | None]:
        with self._errors("list", prefix):
            pager: Any = self._container.list_blobs(
                name_starts_with=prefix or None,
                include=["metadata"],
                results_per_page=self.page_size,
            ).by_page(continuation_token=token)
            page = next(pager, None)
            infos = [_info(props) for props in page] if page is not None else []
            return infos, pager.continuation_token

    def stat(self, key: str) -> ObjectInfo:
        """Get Blob Properties. Raises NotFoundError."""
        with self._errors("stat", key):
            return _info(self._container.get_blob_client(key).get_blob_properties())

    def open_read(
        self, key: str, range: tuple[int, int] | None = None, if_match: str | None = None
    ) -> BinaryIO:
        """A stream of the blob (or the inclusive ``range``), pinned to one ETag."""
        return self._open(key, range, if_match)[0]

    def open_read_info(self, key: str, if_match: str | None = None) -> tuple[BinaryIO, ObjectInfo]:
        """The whole blob as ``open_read`` gives it, and its properties as the first GET
        answered them (size, ETag, Content-MD5, content settings, metadata, blob type,
        lease …): the version being read, with no Get Blob Properties round trip. Get Blob
        does not return the access tier: ``extra`` has no ``access_tier`` here (the
        listing has it)."""
        stream, props = self._open(key, None, if_match)
        return stream, _info(props)

    def _open(
        self, key: str, range: tuple[int, int] | None, if_match: str | None
    ) -> tuple[BinaryIO, BlobProperties]:
        offset, length = _offset_length(range)
        blob = self._container.get_blob_client(key)
        with self._errors("read", key):
            downloader = blob.download_blob(
                offset=offset, length=length, max_concurrency=1, **_pinned(if_match)
            )
            first = _first_chunk(downloader)
        etag = downloader.properties.etag
        start = (offset or 0) + len(first)
        end = (offset or 0) + downloader.size
        if range is not None and downloader.size == 0:
            raise _make(PermanentError, f"{self.name}: read {key!r}: range past the end", key)

        def fetch(at: int, n: int) -> bytes:
            with self._errors("read", key):
                part = blob.download_blob(offset=at, length=n, max_concurrency=1, **_pinned(etag))
                return _first_chunk(part)

        chunks = spans(start, end, self.chunk_size)
        raw = ChunkStream(prefetched(first, chunks, fetch, self.max_concurrency))
        stream = cast(BinaryIO, io.BufferedReader(raw, buffer_size=64 * 1024))
        return stream, downloader.properties

    def write(
        self,
        key: str,
        stream: BinaryIO,
        size: int,
        options: WriteOptions | None = None,
        *,
        lease_id: str | None = None,
    ) -> ObjectInfo:
        """Put Blob (small) or Put Block + Put Block List (large): atomic, bounded memory.
        ``lease_id`` is required when the blob is leased (else LeaseConflictError)."""
        opts = options or WriteOptions()
        _check_key(key)
        unknown = set(opts.checksums) - {"md5"}
        if unknown:
            raise _make(PermanentError, f"{self.name}: unsupported checksum {sorted(unknown)}", key)
        if size <= self.single_put_size:
            return self._put_blob(key, stream, size, opts, lease_id)
        return self._put_blocks(key, stream, size, opts, lease_id)

    def _put_blob(
        self, key: str, stream: BinaryIO, size: int, opts: WriteOptions, lease_id: str | None
    ) -> ObjectInfo:
        data = b"".join(read_exact(stream, size, key=key))
        hasher = _md5_if(opts)
        if hasher is not None:
            hasher.update(data)
        md5 = _check_digest(opts, hasher, key)
        with self._errors("write", key):
            blob = self._container.get_blob_client(key)
            result = blob.upload_blob(
                data,
                length=size,
                overwrite=not opts.if_none_match,
                content_settings=_content_settings(opts, md5),
                metadata=dict(opts.metadata) or None,
                lease=_lease(blob, lease_id),
            )
        return _written(key, size, opts, md5, result)

    def _put_blocks(
        self, key: str, stream: BinaryIO, size: int, opts: WriteOptions, lease_id: str | None
    ) -> ObjectInfo:
        block_size = self._block_size(size, opts, key)
        blob = self._container.get_blob_client(key)
        hasher = _md5_if(opts)
        nonce, block_ids = uuid.uuid4().hex, list[BlobBlock]()
        for index, block in enumerate(blocks(stream, size, block_size, key)):
            block_id = f"{index:08d}{nonce}"  # fixed length; the SDK base64-encodes it
            if hasher is not None:
                hasher.update(block)
            with self._errors("write", key):
                blob.stage_block(block_id, block, length=len(block))
            block_ids.append(BlobBlock(block_id))
        md5 = _check_digest(opts, hasher, key)
        with self._errors("write", key):
            result = blob.commit_block_list(
                block_ids,
                content_settings=_content_settings(opts, md5),
                metadata=dict(opts.metadata) or None,
                lease=_lease(blob, lease_id),
                **_if_missing(opts),
            )
        return _written(key, size, opts, md5, result)

    def _block_size(self, size: int, opts: WriteOptions, key: str) -> int:
        wanted = opts.part_size or max(self.block_size, -(-size // MAX_BLOCKS))
        if wanted > MAX_BLOCK_SIZE or -(-size // wanted) > MAX_BLOCKS:
            raise _make(PermanentError, f"{self.name}: {size} bytes do not fit in blocks", key)
        return wanted

    def delete(self, key: str, *, lease_id: str | None = None) -> None:
        """Delete Blob; a missing blob is fine. A blob with snapshots raises PermanentError."""
        with contextlib.suppress(NotFoundError), self._errors("delete", key):
            blob = self._container.get_blob_client(key)
            blob.delete_blob(lease=_lease(blob, lease_id))

    def capabilities(self) -> Capabilities:
        return Capabilities(
            multipart=True,
            conditional_read=True,
            conditional_write=True,
            checksum_algorithms=("md5",),
            max_object_size=MAX_BLOCKS * MAX_BLOCK_SIZE,
            min_part_size=1,
            max_part_size=MAX_BLOCK_SIZE,
            max_part_count=MAX_BLOCKS,
            max_key_length=1024,
            read_ahead=(self.max_concurrency + 1) * self.chunk_size,
            multipart_threshold=self.single_put_size,
            read_with_info=True,
            retention_settings=True,
            credential_expires=self.credential_expires,
        )

    def close(self) -> None:
        self._container.close()

    # -- decommissioning evidence ---------------------------------------------------------------

    def retention_settings(self, prefix: str = "") -> dict[str, Any]:
        """What could keep copies of deleted blobs, for a decommissioning record: blob soft
        delete (a service property), the container's immutability policy and legal hold, and
        the soft-deleted blobs and older versions still listed under ``prefix``. Blob
        versioning itself is an account setting the data plane cannot read: the versions
        listed show its effect. A value the service does not give is ``unknown: <why>``."""
        return {
            "blob_soft_delete": _answer(self._soft_delete),
            "container": _answer(self._container_flags),
            "remaining_under_prefix": _answer(lambda: self._remnants(prefix)),
            "versioning": "account setting not readable through the data plane; "
            "versions still listed are counted under remaining_under_prefix",
        }

    def _soft_delete(self) -> dict[str, Any]:
        account_url = self._container.primary_endpoint.rsplit("/", 1)[0]
        service = BlobServiceClient(account_url, credential=self._container.credential)
        with service:
            policy = service.get_service_properties()["delete_retention_policy"]
        return {"enabled": bool(policy.enabled), "days": policy.days}

    def _container_flags(self) -> dict[str, Any]:
        props = self._container.get_container_properties()
        return {
            "immutability_policy": bool(props.has_immutability_policy),
            "legal_hold": bool(props.has_legal_hold),
            "deleted_retention_days": getattr(props, "deleted_retention_days", None),
        }

    def _remnants(self, prefix: str) -> dict[str, int]:
        deleted = versions = 0
        for props in self._container.list_blobs(
            name_starts_with=prefix or None, include=["deleted", "versions"]
        ):
            deleted += bool(props.deleted)
            versions += props.is_current_version is False
        return {"soft_deleted": deleted, "older_versions": versions}

    # -- container (tests, rehearsals) ---------------------------------------------------------

    def ensure_container(self) -> None:
        """Create the container if it does not exist. Idempotent."""
        with self._errors("create container"), contextlib.suppress(ResourceExistsError):
            self._container.create_container()

    def delete_container(self) -> None:
        """Delete the container and everything in it. A missing container is fine."""
        with contextlib.suppress(NotFoundError), self._errors("delete container"):
            self._container.delete_container()

    # -- leases (freeze) ------------------------------------------------------------------------

    def acquire_lease(self, key: str, duration: int = -1, lease_id: str | None = None) -> str:
        """Lease ``key`` (``-1`` = infinite, else 15–60 s); returns the lease id. A leased
        blob refuses writes and deletes without the id (LeaseConflictError). With a proposed
        ``lease_id`` (a UUID) the call is idempotent: acquiring again with the same id
        succeeds, another id gets LeaseConflictError."""
        with self._errors("lease", key):
            blob = self._container.get_blob_client(key)
            lease = blob.acquire_lease(lease_duration=duration, lease_id=lease_id)
        return str(lease.id)

    def release_lease(self, key: str, lease_id: str) -> None:
        """Release a lease held with ``lease_id``."""
        with self._errors("release lease", key):
            BlobLeaseClient(self._container.get_blob_client(key), lease_id).release()

    def break_lease(self, key: str) -> None:
        """Break any lease on ``key`` at once (needs no id)."""
        with self._errors("break lease", key):
            BlobLeaseClient(self._container.get_blob_client(key)).break_lease(lease_break_period=0)


def _answer(ask: Any) -> Any:
    """``ask()``, or ``unknown: <error class>`` when the service does not answer."""
    try:
        return ask()
    except (AzureError, ValueError, KeyError, AttributeError) as exc:
        return f"unknown: {type(exc).__name__}"


# -- client construction ---------------------------------------------------------------------


class _RetryUnlessCertificate(ExponentialRetry):
    """The SDK's own retries, except after a certificate that failed verification: that
    fails the same way again, so it is reported at once."""

    def increment(
        self, settings: Any, request: Any, response: Any = None, error: Any = None
    ) -> Any:
        if error is not None and tls.is_certificate_failure(error):
            return False
        return super().increment(settings, request, response, error)


def _service_client(config: Mapping[str, Any], chunk: int) -> BlobServiceClient:
    """A BlobServiceClient from a connection string, or an account URL and credential."""
    bundle = tls.ca_bundle(config, KIND)
    options: dict[str, Any] = {
        "transport": _transport(bundle),
        "max_single_get_size": chunk,
        "max_chunk_get_size": chunk,
        "retry_policy": _RetryUnlessCertificate(
            initial_backoff=1,
            increment_base=2,
            random_jitter_range=1,
            retry_total=cv.count(config, "sdk_retries", 2, KIND, minimum=0),
        ),
    }
    if config.get("api_version"):
        options["api_version"] = str(config["api_version"])
    connection = cv.secret(config, "connection_string")
    if connection is not None and config.get("account_url"):
        raise UsageError(f"{KIND} backend: give connection_string or account_url, not both")
    try:
        if connection is not None:
            text = connection.reveal()
            _refuse_clear_text(blob_endpoint(text), "connection_string")
            return BlobServiceClient.from_connection_string(text, **options)
        url = cv.required(config, "account_url", KIND)
        _refuse_clear_text(url, "account_url")
        return BlobServiceClient(url, credential=_credential(config, url), **options)
    except ValueError:
        raise UsageError(
            f"{KIND} backend: the connection string or account URL is malformed",
            hint="expected AccountName=…;AccountKey=…;BlobEndpoint=… or https://ACCOUNT.blob…",
        ) from None


def _refuse_clear_text(url: str, field: str) -> None:
    """Plain http:// is for loopback only (Azurite): elsewhere the listing and the
    SharedKey-signed requests would travel in clear text."""
    host = clear_text_host(url)
    if host is not None:
        raise UsageError(
            f"{KIND} backend: {field} sends requests to {host} over plain http://",
            hint="use https:// (DefaultEndpointsProtocol=https); http is for 127.0.0.1 only",
        )


#: The proxy variables requests honours when ``trust_env`` is on.
PROXY_SETTINGS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
#: The CA bundle variables, in requests' order of precedence.
CA_SETTINGS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def uses_environment(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the Azure transport must let requests read the environment (proxies).

    With ``trust_env`` on, requests looks up ``~/.netrc`` on every request (5 % of client
    CPU on small blobs, docs/benchmarks.md); it is turned off unless a proxy variable is
    set, so a proxy given that way keeps working (``no_proxy`` included). A CA bundle
    variable is honoured without it (``environment_ca_bundle``)."""
    env = os.environ if environ is None else environ
    return any(name.lower() in PROXY_SETTINGS for name, value in env.items() if value)


def environment_ca_bundle(environ: Mapping[str, str] | None = None) -> str | None:
    """``REQUESTS_CA_BUNDLE``, else ``CURL_CA_BUNDLE``: what requests would verify with."""
    env = os.environ if environ is None else environ
    return next((env[name] for name in CA_SETTINGS if env.get(name)), None)


#: What the storage SDK gives the transport it builds itself (``_shared/constants.py``):
#: without them azure-core's defaults apply — 300 s timeouts, and 4 KiB reads of each
#: response body (the copy suite's CPU per GiB doubled before this was noticed).
SDK_TRANSPORT = {
    "connection_timeout": 20,
    "read_timeout": 60,
    "connection_data_block_size": 256 * 1024,
}


def _transport(ca_bundle: str | None = None) -> RequestsTransport:
    """requests under the SDK, reading the environment only when a proxy needs it; the
    plan's ``ca_bundle`` (else the environment's CA variable) is what it verifies with (a
    transport given to the SDK ignores the client's own ``connection_verify``)."""
    bundle = ca_bundle or environment_ca_bundle()
    extra = {"connection_verify": bundle} if bundle else {}
    if uses_environment():
        return RequestsTransport(**SDK_TRANSPORT, **extra)
    return RequestsTransport(use_env_settings=False, **SDK_TRANSPORT, **extra)


def _credential(config: Mapping[str, Any], url: str) -> Any:
    """An Entra ID token credential (``auth``), else None (anonymous), a SAS token string,
    or an account-key dict for ``url``'s account."""
    kind = config.get("auth")
    if kind in azure_auth.ENTRA_KINDS:
        if urlsplit(url).scheme != "https":
            raise UsageError(
                f"{KIND} backend: auth {kind}: Entra ID tokens are only sent over https://",
                hint="use the account's https:// URL",
            )
        return azure_auth.token_credential(config)
    credential = cv.secret(config, "credential")
    if credential is None:
        return None
    value = credential.reveal()
    if kind == "sas" and "sig=" not in value:
        raise UsageError(f"{KIND} backend: auth sas: the credential is not a SAS (no sig=)")
    if kind == "sas" or (kind != "account_key" and "sig=" in value):
        return value
    account = str(config.get("account_name") or _account_from_url(url))
    return {"account_name": account, "account_key": value}


def _sas_expiry(config: Mapping[str, Any], where: str) -> dt.datetime | None:
    """The expiry of the SAS this backend uses (credential or connection string); an
    expired one is refused now, before any request (AuthError, exit 7)."""
    if config.get("auth") in azure_auth.ENTRA_KINDS or config.get("auth") == "account_key":
        return None
    ref = cv.secret(config, "credential") or cv.secret(config, "connection_string")
    expiry = sas.sas_expiry(ref.reveal()) if ref is not None else None
    sas.refuse_if_expired(expiry, where)
    return expiry


def _account_from_url(url: str) -> str:
    """``https://acct.blob.core.windows.net`` → acct; ``http://127.0.0.1:10000/acct`` → acct."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host.replace(".", "").isdigit() or host == "localhost":
        return parts.path.strip("/").split("/")[0]
    return host.split(".")[0]


# -- helpers ---------------------------------------------------------------------------------


def _make(cls: type[HdhError], message: str, key: str | None, hint: str | None = None) -> HdhError:
    if issubclass(cls, StorageError):
        return cls(message, key=key, hint=hint)
    return cls(message, hint=hint)


def _lease(blob: BlobClient, lease_id: str | None) -> BlobLeaseClient | None:
    return BlobLeaseClient(blob, lease_id) if lease_id else None


def _if_missing(opts: WriteOptions) -> dict[str, Any]:
    if not opts.if_none_match:
        return {}
    return {"etag": "*", "match_condition": MatchConditions.IfMissing}


def _pinned(etag: str | None) -> dict[str, Any]:
    if etag is None:
        return {}
    return {"etag": etag, "match_condition": MatchConditions.IfNotModified}


def _offset_length(range: tuple[int, int] | None) -> tuple[int | None, int | None]:
    if range is None:
        return None, None
    start, end = range
    if start < 0 or end < start:
        raise ValueError(f"invalid range {range}: expected 0 <= start <= end")
    return start, end - start + 1


def _check_key(key: str) -> None:
    if not key or key.startswith("/") or len(key) > 1024:
        raise PermanentError(f"invalid blob name {key!r}", key=key)


def _first_chunk(downloader: StorageStreamDownloader[bytes]) -> bytes:
    """The bytes the downloader's first GET returned (at most one chunk), without the copy
    ``read``/``readall`` make; empty for an empty blob."""
    return next(iter(downloader.chunks()), b"")


def _md5_if(opts: WriteOptions) -> Any:
    """A fresh MD5 when the caller gave an expected one, else None (MD5 costs CPU)."""
    return hashlib.md5(usedforsecurity=False) if "md5" in opts.checksums else None


def _check_digest(opts: WriteOptions, hasher: Any, key: str) -> bytes | None:
    """The raw MD5 when one was expected, after checking it (PermanentError otherwise)."""
    if hasher is None:
        return None
    digest = bytes(hasher.digest())
    check_expected(opts.checksums, {"md5": base64.b64encode(digest).decode()}, key=key)
    return digest


def _content_settings(opts: WriteOptions, md5: bytes | None) -> ContentSettings:
    headers = {name: opts.content[name] for name in CONTENT_HEADERS if opts.content.get(name)}
    return ContentSettings(**headers, content_md5=bytearray(md5) if md5 else None)


def _written(
    key: str, size: int, opts: WriteOptions, md5: bytes | None, result: Mapping[str, Any]
) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=size,
        etag=result.get("etag"),
        last_modified=result.get("last_modified"),
        content_md5=md5,
        content={k: v for k, v in opts.content.items() if k in CONTENT_HEADERS and v},
        metadata=dict(opts.metadata),
    )


def _info(props: BlobProperties) -> ObjectInfo:
    settings = props.content_settings
    md5 = settings.content_md5
    return ObjectInfo(
        key=props.name,
        size=props.size,
        etag=props.etag,
        last_modified=props.last_modified,
        content_md5=bytes(md5) if md5 else None,
        content={h: str(getattr(settings, h)) for h in CONTENT_HEADERS if getattr(settings, h)},
        metadata=dict(props.metadata or {}),
        extra=_extra(props),
    )


def _extra(props: BlobProperties) -> dict[str, str]:
    """What the mapping report needs: type, tier, lease, tags, holds, policies, snapshot."""
    lease = props.lease
    policy = props.immutability_policy
    values: dict[str, Any] = {
        "blob_type": _text(props.blob_type),
        "access_tier": props.blob_tier,
        "archive_status": props.archive_status,
        "lease_state": lease.state if lease else None,
        "lease_status": lease.status if lease else None,
        "tag_count": props.tag_count or None,
        "legal_hold": "true" if props.has_legal_hold else None,
        "immutability_policy_until": policy.expiry_time if policy else None,
        "version_id": props.version_id,
        "snapshot": props.snapshot,
        "encryption_scope": props.encryption_scope,
    }
    return {name: _text(value) for name, value in values.items() if value is not None}


def _text(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(getattr(value, "value", value))

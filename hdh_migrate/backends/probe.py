"""Capability probe of an S3 target: what the server *does*, not what it claims.

Everything is written under a canary prefix ``.hdh-probe/<uuid>/`` of the target bucket
and deleted afterwards (every version, every open upload). Checks:

- checksums — for sha256, crc32c and md5: a PUT with the right value must be accepted
  and a PUT with a deliberately wrong one refused (BadDigest): ``validated``; a wrong
  value accepted is ``not-validated`` (the server stores whatever it is told); a right
  value refused is ``rejected`` (do not send that header).
- SSE-C — PUT with a random key, then GET without the key and with a wrong key must both
  fail and GET with the key must return the bytes: ``enforced``; readable without the key
  is ``ignored`` (the server stored plaintext); PUT refused is ``unsupported``.
- conditional write (PUT If-None-Match on an existing key → 412) and conditional read
  (GET If-Match with a stale ETag → 412): ``enforced`` | ``ignored`` | ``unsupported``.
- multipart — parts below 5 MiB refused (EntityTooSmall) or not, 5 MiB parts completed,
  an aborted upload gone: ``ok`` | ``failed: CODE``.
- key rules — whether ``a//b`` and ``a/b``, ``x/`` and ``x``, ``Ab`` and ``aB``, NFC and
  NFD twins are held apart (``distinct``) or are one object (``folds``), the longest path
  segment and the longest key stored: the inventory and the audit refuse what folds.
- versioning / object lock of the bucket (GetBucketVersioning, GetObjectLockConfiguration),
  and — on a scratch bucket created and deleted for the purpose, by default only for
  loopback (rehearsal) endpoints — whether the server can enable them at all.

A target that does not answer raises UnreachableError (exit 8); refused credentials raise
AuthError (exit 7). The result is a frozen value with a timestamp, cached as JSON under
``<state_dir>/probe/<target>.json`` for later stages.
"""

from __future__ import annotations

import json
import os
import unicodedata
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from hdh_migrate import private_files
from hdh_migrate.backends.checksums import checksum_b64
from hdh_migrate.backends.registry import redact_url
from hdh_migrate.backends.s3_config import S3Settings, is_loopback, settings_from_config
from hdh_migrate.errors import AuthError, HdhError, NotFoundError, PermanentError, UsageError

MIB = 1024 * 1024
PROBE_PREFIX = ".hdh-probe/"
_DIGEST_CODES = {"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "InvalidChecksum"}
_UNSUPPORTED = {"NotImplemented", "501", "NotSupported", "UnsupportedOperation"}
SEGMENT_PROBE = 900  # a longer segment than this is not looked for (keys end at 1,024)
S3_MAX_KEY = 1024
_FLEXIBLE = {"sha256": "ChecksumSHA256", "crc32c": "ChecksumCRC32C", "md5": "ContentMD5"}


class Reply(Protocol):
    """A raw answer: ``code`` is None on success (``S3Reply`` satisfies it)."""

    @property
    def status(self) -> int: ...

    @property
    def code(self) -> str | None: ...

    @property
    def data(self) -> Mapping[str, Any]: ...

    @property
    def body(self) -> bytes: ...


class ProbeClient(Protocol):
    """What the probe needs from the S3 backend (``S3Backend`` satisfies it)."""

    name: str
    bucket: str

    def head_bucket(self) -> None: ...

    def try_call(self, op: str, *, bucket: str | None = None, **params: Any) -> Reply: ...


@dataclass(frozen=True)
class ProbeResult:
    """One target's measured capabilities. Values are short words (see module docstring)."""

    target: str
    endpoint: str
    bucket: str
    probed_at: str
    checksums: Mapping[str, str] = field(default_factory=dict)
    sse_c: str = "not-probed"
    conditional_write: str = "not-probed"
    conditional_read: str = "not-probed"
    multipart: str = "not-probed"
    min_part_size_enforced: bool | None = None
    key_rules: Mapping[str, Any] = field(default_factory=dict)  # Probe.key_rules
    versioning: str = "not-probed"  # this bucket: enabled | suspended | off | unsupported
    object_lock: str = "not-probed"  # this bucket: enabled | off | unsupported
    versioning_server: str = "not-probed"  # scratch bucket: supported | unsupported | unknown
    object_lock_server: str = "not-probed"
    notes: tuple[str, ...] = ()

    @property
    def validated_checksums(self) -> tuple[str, ...]:
        """Algorithms whose wrong values the server refuses: safe to rely on."""
        return tuple(name for name, state in self.checksums.items() if state == "validated")

    @property
    def trustworthy(self) -> bool:
        """False when the server stores whatever it is told: verify by reading back."""
        return bool(self.validated_checksums) and self.sse_c != "ignored"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["checksums"] = dict(self.checksums)
        data["key_rules"] = dict(self.key_rules)
        data["notes"] = list(self.notes)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProbeResult:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["notes"] = tuple(values.get("notes", ()))
        return cls(**values)


# -- the probe ---------------------------------------------------------------------------------


def probe_s3(
    config: S3Settings | Mapping[str, Any],
    *,
    target: str = "target",
    scratch_bucket: bool | None = None,
    opener: Callable[[S3Settings], ProbeClient] | None = None,
) -> ProbeResult:
    """Probe the S3 target described by its typed spec or by plain backend ``config`` (see
    ``hdh_migrate.backends.s3``).

    ``scratch_bucket`` (default: only for loopback endpoints) also creates and deletes a
    temporary bucket to learn whether the server can enable versioning and object lock.
    """
    from hdh_migrate.backends.s3 import S3Backend  # boto3 only when probing

    if isinstance(config, S3Settings):
        settings = replace(config, sdk_attempts=1)
    else:
        settings = settings_from_config({"sdk_attempts": 1, **config})
    settings = replace(settings, sse_c_key=None)  # the probe uses its own
    client = opener(settings) if opener else S3Backend.from_spec(settings)
    endpoint = settings.endpoint_url or "aws"
    if scratch_bucket is None:
        scratch_bucket = is_loopback(settings.endpoint_url)
    run = _Probe(client, f"{PROBE_PREFIX}{uuid.uuid4().hex}/")
    _bucket_exists(client, target, endpoint)  # UnreachableError / AuthError surface here
    try:
        found = run.all(scratch_bucket)
    finally:
        run.cleanup()
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    notes = tuple(run.notes)
    return ProbeResult(target, _redact(endpoint), client.bucket, stamp, notes=notes, **found)


def _bucket_exists(client: ProbeClient, target: str, endpoint: str) -> None:
    """A missing bucket is a configuration error (exit 2) naming the target and the fix."""
    try:
        client.head_bucket()
    except NotFoundError:
        raise UsageError(
            f"target {target!r}: bucket {client.bucket!r} does not exist at {_redact(endpoint)}",
            hint=f"create the bucket, or correct targets.{target}.bucket in the plan",
        ) from None


def _redact(url: str) -> str:
    return redact_url(url) if "://" in url else url


class _Probe:
    """The individual checks; each returns short words and adds notes."""

    def __init__(self, client: ProbeClient, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.notes: list[str] = []
        self.scratch: str | None = None

    def call(self, op: str, **params: Any) -> Reply:
        return self.client.try_call(op, **params)

    def key(self, name: str) -> str:
        return self.prefix + name

    def all(self, scratch_bucket: bool) -> dict[str, Any]:
        canary = os.urandom(1024)
        self.require_put(canary)
        found: dict[str, Any] = {"checksums": self.checksums(canary)}
        found["sse_c"] = self.sse_c(canary)
        found["conditional_write"] = self.conditional_write(canary)
        found["conditional_read"] = self.conditional_read()
        found["multipart"], found["min_part_size_enforced"] = self.multipart()
        found["key_rules"] = self.key_rules()
        found["versioning"] = self.versioning()
        found["object_lock"] = self.object_lock()
        if scratch_bucket:
            found["versioning_server"], found["object_lock_server"] = self.server_features()
        return found

    def require_put(self, canary: bytes) -> None:
        reply = self.call("put_object", Key=self.key("canary"), Body=canary)
        if reply.code is not None:
            raise _refused(self.client.name, "a plain PUT", reply)

    # -- checksums -----------------------------------------------------------------------------

    def checksums(self, canary: bytes) -> dict[str, str]:
        return {name: self.checksum(name, canary) for name in ("sha256", "crc32c", "md5")}

    def checksum(self, name: str, canary: bytes) -> str:
        header = _FLEXIBLE[name]
        good = self.call("put_object", Key=self.key(f"ck-{name}-good"), Body=canary,
                         **{header: checksum_b64(name, canary)})  # fmt: skip
        if good.code is not None:
            self.notes.append(f"{name}: a correct checksum was refused ({good.code})")
            return "rejected"
        wrong = checksum_b64(name, b"not the canary")
        bad = self.call(
            "put_object", Key=self.key(f"ck-{name}-bad"), Body=canary, **{header: wrong}
        )
        if bad.code in _DIGEST_CODES:
            return "validated"
        if bad.code is None:
            self.notes.append(f"{name}: a wrong checksum was accepted and stored")
            return "not-validated"
        self.notes.append(f"{name}: a wrong checksum was refused with {bad.code}")
        return "validated"

    # -- SSE-C -----------------------------------------------------------------------------------

    def sse_c(self, canary: bytes) -> str:
        key, wrong = os.urandom(32), os.urandom(32)
        name = self.key("sse-c")
        put = self.call("put_object", Key=name, Body=canary, **_sse(key))
        if put.code is not None:
            self.notes.append(f"sse-c: PUT refused ({put.code})")
            return "unsupported"
        plain = self.call("get_object", Key=name)
        if plain.code is None:
            same = plain.body == canary
            self.notes.append(
                "sse-c: readable without the key" + (" (plaintext stored)" if same else "")
            )
            return "ignored"
        if self.call("get_object", Key=name, **_sse(wrong)).code is None:
            self.notes.append("sse-c: readable with a wrong key")
            return "ignored"
        right = self.call("get_object", Key=name, **_sse(key))
        if right.code is not None or right.body != canary:
            self.notes.append("sse-c: the right key did not return the bytes written")
            return "broken"
        return "enforced"

    # -- conditional requests ---------------------------------------------------------------------

    def conditional_write(self, canary: bytes) -> str:
        reply = self.call("put_object", Key=self.key("canary"), Body=canary, IfNoneMatch="*")
        return _conditional(reply, "conditional write", self.notes)

    def conditional_read(self) -> str:
        stale = '"00000000000000000000000000000000"'
        reply = self.call("get_object", Key=self.key("canary"), IfMatch=stale)
        return _conditional(reply, "conditional read", self.notes)

    # -- multipart -------------------------------------------------------------------------------

    def multipart(self) -> tuple[str, bool | None]:
        """Parts below 5 MiB (refused = enforced), then 5 MiB parts, then an abort."""
        small = self.upload("mpu-small", [os.urandom(MIB), b"z"])
        enforced = small is not None
        if enforced and small not in ("EntityTooSmall", "InvalidPart"):
            return f"failed: {small}", None
        if enforced:
            full = self.upload("mpu-5mib", [os.urandom(5 * MIB), b"z"])
            if full is not None:
                return f"failed: {full}", True
        aborted = self.abort_check()
        return ("ok" if aborted is None else f"failed: {aborted}"), enforced

    def upload(self, name: str, parts: list[bytes]) -> str | None:
        """Create, upload ``parts``, complete; the error code, or None on success."""
        key = self.key(name)
        created = self.call("create_multipart_upload", Key=key)
        if created.code is not None:
            return created.code
        upload_id = created.data["UploadId"]
        done: list[dict[str, Any]] = []
        for number, data in enumerate(parts, start=1):
            reply = self.call("upload_part", Key=key, UploadId=upload_id, PartNumber=number,
                              Body=data)  # fmt: skip
            if reply.code is not None:
                self.call("abort_multipart_upload", Key=key, UploadId=upload_id)
                return reply.code
            done.append({"PartNumber": number, "ETag": reply.data["ETag"]})
        complete = self.call("complete_multipart_upload", Key=key, UploadId=upload_id,
                             MultipartUpload={"Parts": done})  # fmt: skip
        if complete.code is not None:
            self.call("abort_multipart_upload", Key=key, UploadId=upload_id)
            return complete.code
        head = self.call("head_object", Key=key)
        expected = sum(len(p) for p in parts)
        if head.code is not None or int(head.data.get("ContentLength", -1)) != expected:
            return "SizeMismatch"
        return None

    def abort_check(self) -> str | None:
        key = self.key("mpu-abort")
        created = self.call("create_multipart_upload", Key=key)
        if created.code is not None:
            return created.code
        aborted = self.call("abort_multipart_upload", Key=key, UploadId=created.data["UploadId"])
        if aborted.code is not None:
            return aborted.code
        listed = self.call("list_multipart_uploads", Prefix=key)
        return "AbortedUploadStillListed" if listed.data.get("Uploads") else None

    # -- key rules -------------------------------------------------------------------------------

    def key_rules(self) -> dict[str, Any]:
        """What the server does with keys a filer-backed store cannot hold apart: two keys
        written one after the other each read back their own bytes (``distinct``) or not
        (``folds``: one object, a refusal or a broken read); the longest path segment and
        key it stores. ``stages.names`` refuses what folds before anything is copied."""
        nfc, nfd = unicodedata.normalize("NFC", "é"), unicodedata.normalize("NFD", "é")
        rules: dict[str, Any] = {
            "empty_segments": self.pair("es", "a/b", "a//b"),
            # either order folding is folding ("folds" > "distinct")
            "trailing_slash": max(self.pair("t1", "x", "x/"), self.pair("t2", "x/", "x")),
            "case": {"folds": "insensitive", "distinct": "sensitive"}[self.pair("ca", "Ab", "aB")],
        }
        normalises = self.pair("nf", nfc, nfd)
        rules["normalisation"] = "none" if normalises == "distinct" else self.stored_form("nf/")
        rules["max_segment_bytes"] = self.longest_segment()
        step = min(200, rules["max_segment_bytes"] or 200)
        rules["max_key_bytes"] = self.longest_key(step)
        return rules

    def pair(self, where: str, first: str, second: str) -> str:
        keys = (self.key(f"names/{where}/{first}"), self.key(f"names/{where}/{second}"))
        for key, body in zip(keys, (b"1", b"2"), strict=True):
            if self.call("put_object", Key=key, Body=body).code is not None:
                return "folds"
        for key, body in zip(keys, (b"1", b"2"), strict=True):
            try:
                got = self.call("get_object", Key=key)
            except HdhError:  # the key reads as a folder: cut short
                return "folds"
            if got.code is not None or got.body != body:
                return "folds"
        return "distinct"

    def stored_form(self, where: str) -> str:
        listed = self.call("list_objects_v2", Prefix=self.key(f"names/{where}"))
        names = [str(e["Key"]) for e in listed.data.get("Contents", ())]
        return "NFD" if any(not unicodedata.is_normalized("NFC", n) for n in names) else "NFC"

    def longest(self, name: Callable[[int], str], upto: int) -> int | None:
        """The longest ``n`` ≤ ``upto`` whose key ``name(n)`` the server stores (None: all
        up to ``upto``); a bisection, one PUT each."""
        if self.stores(name(upto)):
            return None
        low, high = 0, upto  # stored at low (0: assumed), refused at high
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if self.stores(name(middle)) else (low, middle)
        return low

    def longest_segment(self) -> int | None:
        """Folder segments first (a store that refuses them there refuses them anywhere;
        rclone serve s3 lists a refused file name as a phantom it cannot delete, never a
        refused folder name), then file names (SeaweedFS limits only those)."""
        folder = self.longest(lambda n: self.key("names/sd/" + "s" * n + "/f"), SEGMENT_PROBE)
        if folder is not None:
            return folder
        return self.longest(lambda n: self.key("names/sg/" + "s" * n), SEGMENT_PROBE)

    def longest_key(self, step: int) -> int:
        """The longest whole key stored, up to S3's 1,024 bytes, in segments of ``step``."""
        base = self.key("names/kl/")

        def name(n: int) -> str:  # exactly n bytes: segments of ``step``, no trailing '/'
            fill = max(1, n - len(base.encode()))
            last = fill - 1
            return base + "".join(
                "/" if (i + 1) % (step + 1) == 0 and i < last else "k" for i in range(fill)
            )

        found = self.longest(name, S3_MAX_KEY)
        return S3_MAX_KEY if found is None else found

    def stores(self, key: str) -> bool:
        return self.call("put_object", Key=key, Body=b"k").code is None

    # -- versioning and object lock --------------------------------------------------------------

    def versioning(self, bucket: str | None = None) -> str:
        reply = self.client.try_call("get_bucket_versioning", bucket=bucket)
        if reply.code is not None:
            return _unsupported_or(reply, "versioning", self.notes)
        status = str(reply.data.get("Status") or "off").lower()
        return status if status in ("enabled", "suspended") else "off"

    def object_lock(self, bucket: str | None = None) -> str:
        reply = self.client.try_call("get_object_lock_configuration", bucket=bucket)
        if reply.code == "ObjectLockConfigurationNotFoundError":
            return "off"
        if reply.code is not None:
            return _unsupported_or(reply, "object lock", self.notes)
        config = reply.data.get("ObjectLockConfiguration") or {}
        return "enabled" if config.get("ObjectLockEnabled") == "Enabled" else "off"

    def server_features(self) -> tuple[str, str]:
        """Create a scratch bucket with object lock, enable versioning, read both back."""
        name = f"hdh-probe-{uuid.uuid4().hex[:20]}"
        created = self.client.try_call("create_bucket", bucket=name,
                                       ObjectLockEnabledForBucket=True)  # fmt: skip
        if created.code is not None:
            self.notes.append(f"scratch bucket refused ({created.code})")
            return "unknown", "unknown"
        self.scratch = name
        lock = "supported" if self.object_lock(name) == "enabled" else "unsupported"
        put = self.client.try_call("put_bucket_versioning", bucket=name,
                                   VersioningConfiguration={"Status": "Enabled"})  # fmt: skip
        enabled = put.code is None and self.versioning(name) == "enabled"
        return ("supported" if enabled else "unsupported"), lock

    # -- cleanup ---------------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Delete every version and open upload under the prefix; drop the scratch bucket."""
        try:
            self.purge(None, self.prefix)
            if self.scratch:
                self.purge(self.scratch, "")
                self.client.try_call("delete_bucket", bucket=self.scratch)
        except HdhError as exc:  # cleanup never hides the probe's own outcome
            self.notes.append(f"cleanup incomplete: {exc.one_line()}")

    def purge(self, bucket: str | None, prefix: str) -> None:
        call = self.client.try_call
        uploads = call("list_multipart_uploads", bucket=bucket, Prefix=prefix)
        for upload in uploads.data.get("Uploads", ()):
            call("abort_multipart_upload", bucket=bucket, Key=upload["Key"],
                 UploadId=upload["UploadId"])  # fmt: skip
        versions = call("list_object_versions", bucket=bucket, Prefix=prefix)
        entries = [*versions.data.get("Versions", ()), *versions.data.get("DeleteMarkers", ())]
        for entry in entries:
            call("delete_object", bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])
        listed = call("list_objects_v2", bucket=bucket, Prefix=prefix)
        for entry in listed.data.get("Contents", ()):
            call("delete_object", bucket=bucket, Key=entry["Key"])


def _sse(key: bytes) -> dict[str, Any]:
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}


def _conditional(reply: Reply, what: str, notes: list[str]) -> str:
    if reply.code in ("PreconditionFailed", "412"):
        return "enforced"
    if reply.code is None:
        notes.append(f"{what}: the condition was ignored")
        return "ignored"
    return _unsupported_or(reply, what, notes)


def _unsupported_or(reply: Reply, what: str, notes: list[str]) -> str:
    notes.append(f"{what}: {reply.code} (HTTP {reply.status})")
    return "unsupported" if reply.code in _UNSUPPORTED or reply.status == 501 else "error"


def _refused(name: str, what: str, reply: Reply) -> HdhError:
    text = f"{name}: {what} under {PROBE_PREFIX} was refused: {reply.code} (HTTP {reply.status})"
    if reply.status in (401, 403):
        return AuthError(text, hint="the probe needs PutObject/GetObject/DeleteObject rights")
    return PermanentError(text)


# -- the cache -----------------------------------------------------------------------------------


def probe_cache_path(state_dir: str | Path, target: str) -> Path:
    if not target or "/" in target or target.startswith("."):
        raise UsageError(f"invalid target name {target!r} for the probe cache")
    return Path(state_dir) / "probe" / f"{target}.json"


def save_probe(result: ProbeResult, state_dir: str | Path) -> Path:
    """Write ``<state_dir>/probe/<target>.json`` atomically; return its path."""
    path = probe_cache_path(state_dir, result.target)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".json.tmp")
    private_files.write_text(tmp, json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def load_probe(state_dir: str | Path, target: str) -> ProbeResult | None:
    """The cached probe of ``target``, or None when it was never probed."""
    path = probe_cache_path(state_dir, target)
    try:
        return ProbeResult.from_dict(json.loads(path.read_text("utf-8")))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as exc:
        raise UsageError(
            f"{path}: unreadable probe cache ({exc})", hint="run probe again"
        ) from None

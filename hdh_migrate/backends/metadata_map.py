"""Azure Blob → S3 metadata: what is carried, under which rule, and what is reported.

Pure functions over ``ObjectInfo`` (no SDK). The rules (docs/metadata-mapping.md):

1. Content headers (``CONTENT_HEADERS``) are carried as they are when their value is
   visible ASCII (0x20–0x7E); any other value is not carried and is reported.
2. User metadata keys are lower-cased (S3 returns them lower-cased; Azure compares names
   case-insensitively, so nothing is lost but the spelling, which is reported as
   ``transformed``). A key that is not an HTTP token after lower-casing, that collides with
   another one after lower-casing (the first in sorted order wins), or that starts with
   the tool's reserved prefix ``hdh-`` is not carried and is reported.
3. Values that are visible ASCII without surrounding spaces and do not look like an
   RFC 2047 encoded-word are carried verbatim. Any other value (non-ASCII, control
   characters, leading/trailing spaces, or ``=?…?=``) is carried as one RFC 2047
   encoded-word ``=?UTF-8?B?<base64>?=`` — the form S3 itself returns for non-ASCII
   metadata — and reported as ``transformed``. ``decode_value`` reverses it exactly.
4. S3 limits user metadata to 2 KiB: the sum of the UTF-8 lengths of every key (without
   ``x-amz-meta-``) and value. The tool's own ``hdh-`` keys are placed first; user keys
   follow in sorted order, and a key that no longer fits is not carried and reported
   (later, smaller keys may still fit).
5. What S3 has no place for — access tier, archive status, blob type other than a block
   blob, a lease, blob index tags, legal hold, immutability policy, snapshot, version id,
   encryption scope, or any other ``extra`` entry — is reported, never silently dropped.
   The access tier is never turned into a storage class (a strict server rejects
   ``HOT``); the target's storage class comes from the plan.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hdh_migrate.backends.base import CONTENT_HEADERS, ObjectInfo, WriteOptions

RESERVED_PREFIX = "hdh-"
S3_METADATA_LIMIT = 2048
CARRIED, TRANSFORMED, NOT_CARRIED = "carried", "transformed", "not carried"

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+")
_VISIBLE = re.compile(r"[\x20-\x7e]*")
_ENCODED_WORD = re.compile(r"=\?([^?]+)\?([bBqQ])\?([^?]*)\?=")

#: extra entries whose default value means nothing is lost
_DEFAULTS = {
    "blob_type": "BlockBlob",
    "lease_state": "available",
    "lease_status": "unlocked",
}
_EXTRA_REASONS = {
    "access_tier": "S3 has no access tier; the target storage class comes from the plan",
    "archive_status": "rehydration status of an archived blob has no S3 equivalent",
    "blob_type": "S3 has one object type; the blob is copied as a plain object",
    "lease_state": "leases are not copied",
    "lease_status": "leases are not copied",
    "tag_count": "blob index tags are not copied",
    "legal_hold": "the legal hold is not copied (set object lock on the target)",
    "immutability_policy_until": "the immutability policy is not copied",
    "snapshot": "snapshots are not copied",
    "version_id": "blob versions are not copied (only the current one)",
    "encryption_scope": "the Azure encryption scope does not apply at the target",
}


@dataclass(frozen=True)
class MappingIssue:
    """One thing the mapping changed (``transformed``) or left behind (``not carried``)."""

    item: str  # "content:content_type", "metadata:Owner", "extra:access_tier"
    action: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"item": self.item, "action": self.action, "reason": self.reason}


@dataclass(frozen=True)
class MappingReport:
    """Every issue of one object's mapping, in a stable order."""

    issues: tuple[MappingIssue, ...] = ()

    @property
    def lossless(self) -> bool:
        """True when nothing was left behind (transformations are reversible)."""
        return all(issue.action != NOT_CARRIED for issue in self.issues)

    def not_carried(self) -> list[str]:
        return [issue.item for issue in self.issues if issue.action == NOT_CARRIED]

    def to_list(self) -> list[dict[str, str]]:
        return [issue.to_dict() for issue in self.issues]


@dataclass(frozen=True)
class MappedMetadata:
    """What to write at the S3 target, and the report of what that cost."""

    content: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)
    report: MappingReport = field(default_factory=MappingReport)

    def write_options(self, **overrides: Any) -> WriteOptions:
        """WriteOptions carrying these headers and metadata (plus ``overrides``)."""
        return WriteOptions(content=dict(self.content), metadata=dict(self.metadata), **overrides)


def map_azure_to_s3(
    info: ObjectInfo, tool_metadata: Mapping[str, str] | None = None
) -> MappedMetadata:
    """Map one Azure object's headers, metadata and extras to S3 (see the module rules).

    ``tool_metadata`` holds the tool's own keys; each must start with ``hdh-``, be a
    lower-case token with a visible-ASCII value, and together fit the 2 KiB limit, else
    ValueError (a programming error, not a property of the data).
    """
    issues: list[MappingIssue] = []
    content = _content(info.content, issues)
    metadata = _tool_metadata(tool_metadata or {})
    budget = S3_METADATA_LIMIT - metadata_size(metadata)
    for key, value in _user_metadata(info.metadata, issues):
        cost = len(key.encode()) + len(value.encode())
        if cost > budget:
            issues.append(_issue("metadata", key, NOT_CARRIED, "S3 user metadata limit (2 KiB)"))
            continue
        metadata[key] = value
        budget -= cost
    issues.extend(_extras(info.extra))
    return MappedMetadata(content, metadata, MappingReport(tuple(issues)))


def metadata_size(metadata: Mapping[str, str]) -> int:
    """S3's measure: the UTF-8 bytes of every key and value."""
    return sum(len(k.encode()) + len(v.encode()) for k, v in metadata.items())


def encode_value(value: str) -> tuple[str, bool]:
    """``(header-safe value, whether it was encoded)`` under rule 3."""
    plain = (
        _VISIBLE.fullmatch(value) and value == value.strip() and not _ENCODED_WORD.fullmatch(value)
    )
    if plain:
        return value, False
    return f"=?UTF-8?B?{base64.b64encode(value.encode()).decode()}?=", True


def decode_value(value: str) -> str:
    """The original value of a carried metadata value (reverses ``encode_value``; also
    decodes a B- or Q-encoded UTF-8 word as S3 returns non-ASCII metadata)."""
    match = _ENCODED_WORD.fullmatch(value)
    if not match or match.group(1).upper() not in ("UTF-8", "UTF8"):
        return value
    payload = match.group(3)
    if match.group(2) in "bB":
        return base64.b64decode(payload).decode("utf-8")
    raw = re.sub(
        r"=([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), payload.replace("_", " ")
    )
    return raw.encode("latin-1").decode("utf-8")


def s3_to_azure_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """User metadata as read back from S3 → Azure names and values (tool keys dropped).
    Names stay lower-case: Azure compares them case-insensitively."""
    return {
        key: decode_value(value)
        for key, value in metadata.items()
        if not key.lower().startswith(RESERVED_PREFIX)
    }


# -- the pieces ------------------------------------------------------------------------------


def _issue(kind: str, name: str, action: str, reason: str) -> MappingIssue:
    return MappingIssue(f"{kind}:{name}", action, reason)


def _content(headers: Mapping[str, str], issues: list[MappingIssue]) -> dict[str, str]:
    carried: dict[str, str] = {}
    for name in CONTENT_HEADERS:
        value = headers.get(name)
        if not value:
            continue
        if _VISIBLE.fullmatch(value):
            carried[name] = value
        else:
            issues.append(_issue("content", name, NOT_CARRIED, "value is not visible ASCII"))
    for name in sorted(set(headers) - set(CONTENT_HEADERS)):
        issues.append(_issue("content", name, NOT_CARRIED, "not a header S3 stores"))
    return carried


def _tool_metadata(tool: Mapping[str, str]) -> dict[str, str]:
    for key, value in tool.items():
        if not (
            key.startswith(RESERVED_PREFIX) and _TOKEN.fullmatch(key) and _VISIBLE.fullmatch(value)
        ):
            raise ValueError(f"tool metadata key {key!r} must be an hdh- token with an ASCII value")
    if metadata_size(tool) > S3_METADATA_LIMIT:
        raise ValueError("tool metadata alone exceeds the S3 2 KiB limit")
    return dict(tool)


def _user_metadata(
    metadata: Mapping[str, str], issues: list[MappingIssue]
) -> list[tuple[str, str]]:
    """(S3 key, S3 value) pairs in sorted key order, after rules 2 and 3."""
    seen: dict[str, str] = {}
    pairs = []
    for original in sorted(metadata):
        key = original.lower()
        reason = _refusal(key, seen)
        if reason:
            issues.append(_issue("metadata", original, NOT_CARRIED, reason))
            continue
        seen[key] = original
        value, encoded = encode_value(metadata[original])
        if key != original:
            issues.append(_issue("metadata", original, TRANSFORMED, f"name lower-cased to {key}"))
        if encoded:
            issues.append(_issue("metadata", original, TRANSFORMED, "value RFC 2047 encoded"))
        pairs.append((key, value))
    return pairs


def _refusal(key: str, seen: Mapping[str, str]) -> str | None:
    if key.startswith(RESERVED_PREFIX):
        return f"the {RESERVED_PREFIX} prefix is reserved for the tool"
    if not key.isascii() or not _TOKEN.fullmatch(key):
        return "the name is not a valid HTTP header token"
    if key in seen:
        return f"collides with {seen[key]} after lower-casing"
    return None


def _extras(extra: Mapping[str, str]) -> list[MappingIssue]:
    issues = []
    for name in sorted(extra):
        value = extra[name]
        if _DEFAULTS.get(name) == value:
            continue
        reason = _EXTRA_REASONS.get(name, "no S3 equivalent")
        issues.append(_issue("extra", name, NOT_CARRIED, f"{reason} (was {value})"))
    return issues

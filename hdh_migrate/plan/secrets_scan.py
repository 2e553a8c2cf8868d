"""Find values that look like secrets anywhere in a plan document.

Fields typed as secrets already refuse anything but a reference; this scan catches
secrets pasted elsewhere: in a URL, a hook command, a description. Findings name the
kind of secret, never the value. Hex digests, ETags, bucket names and paths are not
flagged: the generic "random-looking" test applies only under credential-like keys,
or to long base64 runs of high entropy.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from hdh_migrate.plan.issues import Issue, reference_hint
from hdh_migrate.plan.loader import DataPath
from hdh_migrate.secrets import is_reference

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"\b(AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"),
        "an AWS access key id",
    ),
    (re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY"), "a private key block"),
    (re.compile(r"(?i)AccountKey\s*=\s*(?!\$\{)[^;\s]{8,}"), "an Azure account key (AccountKey=…)"),
    (
        re.compile(r"(?i)SharedAccessSignature\s*=\s*(?!\$\{)[^;\s]+"),
        "an Azure SAS (SharedAccessSignature=…)",
    ),
    (re.compile(r"(?i)(?:^|[?&;\s])sig=[A-Za-z0-9%+/=]{10,}"), "a SAS signature (sig=…)"),
    (re.compile(r"(?i)(?:^|[?&;\s])X-Amz-Signature=[0-9a-f]{16,}"), "a presigned URL signature"),
    (re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:(?!\$\{)[^/\s@]+@"), "a password in a URL"),
    (re.compile(r"(?i)\bBearer\s+[A-Za-z0-9._~+/-]{16,}"), "a bearer token"),
    (
        re.compile(r"(?i)\b(password|passwd|pwd|secret|api[_-]?key|token)=(?!\$)[^\s&;\"']{4,}"),
        "a password or token",
    ),
    (
        re.compile(r"(?i)--(password|passwd|secret|api-key|token)[ =](?!\$)[^\s\"']{4,}"),
        "a password or token",
    ),
    (re.compile(r"(?i)\bxox[abpr]-[A-Za-z0-9-]{10,}|\bgh[pousr]_[A-Za-z0-9]{30,}"), "an API token"),
)

_CREDENTIAL_WORDS = frozenset(
    {
        "secret",
        "password",
        "passwd",
        "pwd",
        "pin",
        "credential",
        "credentials",
        "sas",
        "signature",
        "sig",
        "private",
        "apikey",
        "auth",
        "token",
        "key",
        "keys",
        "access",
    }
)
_BLOB = re.compile(r"[A-Za-z0-9+/_-]{40,}={0,2}")
_TOKEN = re.compile(r"^[A-Za-z0-9+/=_.~-]{16,}$")


def scan(data: Any) -> list[Issue]:
    """Issues for every string value that looks like a secret (references are fine)."""
    return [
        Issue(path, f"literal secret: the value looks like {what}", reference_hint(path))
        for path, value in _strings(data, ())
        if not is_reference(value)
        for what in [looks_like_secret(value, path)]
        if what
    ]


def looks_like_secret(value: str, path: DataPath = ()) -> str | None:
    """What kind of secret ``value`` looks like, or None."""
    for pattern, what in _PATTERNS:
        if pattern.search(value):
            return what
    if _credential_key(path) and _random_token(value):
        return "a credential (a random-looking token under a credential key)"
    if any(_high_entropy_blob(m.group(0)) for m in _BLOB.finditer(value)):
        return "an encoded key or token (a long random base64 string)"
    return None


def _strings(data: Any, path: DataPath) -> Iterator[tuple[DataPath, str]]:
    if isinstance(data, str):
        yield path, data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _strings(value, (*path, str(key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _strings(value, (*path, index))


def _credential_key(path: DataPath) -> bool:
    last = next((s for s in reversed(path) if isinstance(s, str)), "")
    return bool(set(re.split(r"[_\-.]+", last.lower())) & _CREDENTIAL_WORDS)


def _random_token(value: str) -> bool:
    """Long, no spaces, not a path or a name: mixed case with digits, a long hex key,
    or padded base64."""
    text = value.strip()
    if not _TOKEN.match(text) or text.startswith(("/", "./", "../", "~")):
        return False
    if re.fullmatch(r"[0-9a-fA-F]{32,}", text) or re.fullmatch(r"[A-Za-z0-9+/]{22,}={1,2}", text):
        return True
    mixed = all(re.search(p, text) for p in (r"[a-z]", r"[A-Z]", r"[0-9]"))
    return mixed and entropy(text) >= 3.5


def _high_entropy_blob(text: str) -> bool:
    classes = sum(bool(re.search(p, text)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]"))
    return classes == 3 and entropy(text) >= 4.5


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())

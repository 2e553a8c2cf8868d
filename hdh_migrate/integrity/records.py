"""Manifest records: their schema, the refusal of anything that looks like a secret, and
their canonical encoding (one line, no newline).

Records are refused when a field is named like a secret (``secret``, ``password``,
``pin``, ``token``, ``credential``, ``private`` …), when a value is a ``SecretRef``, or
when a string holds a PEM private key.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from hdh_migrate.integrity.canonical import CanonicalError, encode_canonical
from hdh_migrate.secrets import SecretRef

SCHEMA_VERSION = 1
LEAF_TYPES = ("run", "object", "rewrap", "cutover", "rollback", "decommission")
CHECKPOINT = "checkpoint"

_Spec = Mapping[str, Any]
_STR, _INT, _OPT_STR = (str,), (int,), (str, type(None))
RECORD_FIELDS: dict[str, _Spec] = {
    "run": {"run_id": _STR, "tool_version": _STR, "plan_digest": _STR, "ts": _STR},
    "object": {
        "dataset": _STR,
        "object_id": _STR,
        "source": {"uri": _STR, "etag": _STR, "size": _INT},
        "target": {
            "bucket": _STR,
            "key": _STR,
            "version": _OPT_STR,
            "size": _INT,
            "checksum": _OPT_STR,
        },
        "crypto": {"header_sha256": _STR, "kek_ref": _STR},
        "plaintext_sha256": _STR,
        "ciphertext_sha256": _STR,
        "verify": {"mode": _STR, "result": _STR},
        "ts": _STR,
    },
    "rewrap": {
        "dataset": _STR,
        "object_id": _STR,
        "from_kek_ref": _STR,
        "to_kek_ref": _STR,
        "header_sha256": _STR,
        "ts": _STR,
    },
    "cutover": {"dataset": _STR, "wave": _STR, "from_state": _STR, "to_state": _STR, "ts": _STR},
    "rollback": {"dataset": _STR, "wave": _STR, "from_state": _STR, "ts": _STR},
    "decommission": {"dataset": _STR, "wave": _STR, "method": _STR, "ts": _STR},
    CHECKPOINT: {"note": _STR},
}

_SECRET_NAME = re.compile(
    r"(^|[_\-.])(secret|password|passwd|passphrase|pin|token|credentials?|private|api_?key)"
    r"([_\-.]|$)",
    re.IGNORECASE,
)
_PRIVATE_PEM = "PRIVATE KEY-----"


class RecordRefused(ValueError):
    """A record breaks the manifest schema or would put a secret into the manifest."""


def check_record(record: Mapping[str, Any]) -> None:
    """Raise RecordRefused unless ``record`` is a well-formed, secret-free record."""
    kind = record.get("type")
    if kind not in RECORD_FIELDS:
        raise RecordRefused(f"unknown record type {kind!r}; expected one of {list(RECORD_FIELDS)}")
    _check_fields(record, RECORD_FIELDS[str(kind)], str(kind))
    _check_no_secrets(record, "$")


def _check_fields(record: Mapping[str, Any], spec: _Spec, where: str) -> None:
    for name, expected in spec.items():
        if name not in record:
            raise RecordRefused(f"{where}: missing field {name!r}")
        value = record[name]
        if isinstance(expected, Mapping):
            if not isinstance(value, Mapping):
                raise RecordRefused(f"{where}.{name}: expected an object")
            _check_fields(value, expected, f"{where}.{name}")
        elif not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
            raise RecordRefused(f"{where}.{name}: expected {_names(expected)}")


def _names(types: tuple[type, ...]) -> str:
    return " or ".join("null" if t is type(None) else t.__name__ for t in types)


def _check_no_secrets(value: Any, path: str) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and _secret_name(key):
                raise RecordRefused(f"{path}.{key}: a field named like a secret is refused")
            if not isinstance(item, int | None):
                _check_no_secrets(item, f"{path}.{key}")
    elif isinstance(value, str):
        if _PRIVATE_PEM in value:
            raise RecordRefused(f"{path}: looks like a private key; the manifest holds no secrets")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_no_secrets(item, f"{path}[{index}]")
    elif isinstance(value, SecretRef):
        raise RecordRefused(f"{path}: a secret reference cannot go into the manifest")


@functools.lru_cache(maxsize=4096)
def _secret_name(key: str) -> bool:
    return _SECRET_NAME.search(key) is not None


def encode_record(record: Mapping[str, Any]) -> bytes:
    """The canonical line of a checked record (no newline); RecordRefused if invalid."""
    check_record(record)
    try:
        return encode_canonical(dict(record))
    except CanonicalError as exc:
        raise RecordRefused(str(exc)) from None

"""Reading plain backend config values: required strings, sizes, counts and secrets.

Backends (``from_config``) and SSH settings (``remote.spec``) are read from plain
mappings. These helpers turn a missing or malformed value into a one-line ``UsageError``
that names the backend and the key, and turn a secret value into a ``SecretRef`` so it is
revealed only when a client is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hdh_migrate.errors import UsageError
from hdh_migrate.secrets import SecretRef, is_reference
from hdh_migrate.units import parse_size


def required(config: Mapping[str, Any], key: str, kind: str) -> str:
    """The non-empty string ``config[key]``; UsageError naming ``kind`` and ``key`` if absent."""
    value = config.get(key)
    if value is None or not str(value).strip():
        raise UsageError(f"{kind} backend: missing {key!r}", hint=f"set {key}: in its config")
    return str(value).strip()


def size(config: Mapping[str, Any], key: str, default: int, kind: str) -> int:
    """A size (``4MiB`` or an int, at least 1) from ``config[key]``, else ``default``."""
    raw = config.get(key, default)
    try:
        value = parse_size(raw)
    except (TypeError, ValueError) as error:
        raise UsageError(f"{kind} backend: {key}: {error}") from None
    if value < 1:
        raise UsageError(f"{kind} backend: {key} must be at least 1 byte")
    return value


def count(config: Mapping[str, Any], key: str, default: int, kind: str, minimum: int = 1) -> int:
    """An integer at least ``minimum`` from ``config[key]``, else ``default``."""
    raw = config.get(key, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise UsageError(f"{kind} backend: {key} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise UsageError(f"{kind} backend: {key} must be at least {minimum}")
    return value


class PlainSecret:
    """A secret given inline (tests only): same ``reveal`` API as SecretRef, never shown."""

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def reveal_bytes(self) -> bytes:
        return self._value.encode("utf-8")

    def __repr__(self) -> str:
        return "PlainSecret(***)"

    __str__ = __repr__


Secret = SecretRef | PlainSecret


def secret(config: Mapping[str, Any], key: str) -> Secret | None:
    """``config[key]`` as a secret: a SecretRef, a ``${env:…}``/``${file:…}`` string parsed
    into one, or a plain string wrapped so that it never prints. None when absent."""
    value = config.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, SecretRef | PlainSecret):
        return value
    text = str(value)
    return SecretRef.parse(text) if is_reference(text) else PlainSecret(text)

"""``open_key_provider(kind, config)``: build a provider by name, importing HSM code lazily."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hdh_migrate.errors import UsageError
from hdh_migrate.keys.base import KeyProvider
from hdh_migrate.keys.file import FileKeyProvider

KINDS = ("file", "pkcs11")


def open_key_provider(kind: str, config: Mapping[str, Any]) -> KeyProvider:
    """``file``: {"path"}. ``pkcs11``: {"module", "token", "label", "pin"} where ``pin`` is a
    SecretRef or a string (a ``${env:…}`` reference is resolved here)."""
    if kind == "file":
        return FileKeyProvider(Path(_required(config, "path", kind)))
    if kind == "pkcs11":
        from hdh_migrate.keys.pkcs11 import Pkcs11KeyProvider

        return Pkcs11KeyProvider(
            module=str(_required(config, "module", kind)),
            token=str(_required(config, "token", kind)),
            label=str(_required(config, "label", kind)),
            pin=_required(config, "pin", kind),
        )
    raise UsageError(f"unknown key provider {kind!r}", hint=f"use one of: {', '.join(KINDS)}")


def _required(config: Mapping[str, Any], name: str, kind: str) -> Any:
    value = config.get(name)
    if value in (None, ""):
        raise UsageError(f"key provider {kind!r} needs {name!r}")
    return value

"""``open_key_provider(kind, config)``: build a provider by name, importing HSM code lazily.

``config`` is a plain mapping (a plan's ``keys.<name>`` section dumped to a dict fits):
non-secret values may be ``${env:…}`` references, resolved here (never echoed); secrets
(``pin``, ``ref``) stay references until the provider uses them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

from hdh_migrate.errors import AuthError, UsageError
from hdh_migrate.keys.base import KeyProvider
from hdh_migrate.keys.file import FileKeyProvider, generate_key_file
from hdh_migrate.redaction import resolved
from hdh_migrate.secrets import SecretRef, is_reference, reveal_private

KINDS = ("file", "pkcs11")


@dataclass(frozen=True)
class FileKeySpec:
    """A key file at ``path`` (made when missing with ``create``), or the key itself behind
    the reference ``ref``."""

    kind: ClassVar[str] = "file"
    path: str | None = None
    ref: SecretRef | None = None
    create: bool = False


@dataclass(frozen=True)
class Pkcs11KeySpec:
    """An AES key ``label`` on HSM token ``token`` through PKCS#11 ``module``."""

    kind: ClassVar[str] = "pkcs11"
    module: str
    token: str
    label: str
    pin: SecretRef
    slot: int | None = None


KeySpec = FileKeySpec | Pkcs11KeySpec
"""A key provider's typed spec, selected by its ``kind``."""


def open_key_spec(spec: KeySpec) -> KeyProvider:
    """The provider of a typed ``spec``, through the checks plain config gets."""
    values = ((f.name, getattr(spec, f.name)) for f in fields(spec))
    return open_key_provider(spec.kind, {k: v for k, v in values if v is not None})


def open_key_provider(kind: str, config: Mapping[str, Any]) -> KeyProvider:
    """``file``: {"path", "create"?} or {"ref"} (a reference to the base64 key).
    ``pkcs11``: {"module", "token", "label", "pin", "slot"?}; ``pin`` a SecretRef, a
    reference string, or (tests only) the PIN itself."""
    if kind == "file":
        return _file_provider(config)
    if kind == "pkcs11":
        from hdh_migrate.keys.pkcs11 import Pkcs11KeyProvider

        return Pkcs11KeyProvider(
            module=_text(config, "module", kind),
            token=_text(config, "token", kind),
            label=_text(config, "label", kind),
            pin=_required(config, "pin", kind),
            slot=config.get("slot"),
        )
    raise UsageError(f"unknown key provider {kind!r}", hint=f"use one of: {', '.join(KINDS)}")


def _file_provider(config: Mapping[str, Any]) -> KeyProvider:
    if config.get("ref"):
        ref = config["ref"]
        secret = ref if isinstance(ref, SecretRef) else SecretRef.parse(str(ref))
        return FileKeyProvider.from_bytes(_decode_material(secret), label=str(secret))
    path = Path(_text(config, "path", "file")).expanduser()
    if config.get("create") and not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        generate_key_file(path)
    return FileKeyProvider(path)


def _decode_material(secret: SecretRef) -> bytes:
    text = reveal_private(secret).decode("utf-8", "replace").strip()
    try:
        key = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        key = b""
    if len(key) != 32:
        raise AuthError(
            f"key {secret} is not a 32-byte key in base64 (or 64 hex digits)",
            hint="generate one with `hdh-migrate keys generate` and encode it",
        )
    return key


def _text(config: Mapping[str, Any], name: str, kind: str) -> str:
    value = str(_required(config, name, kind))
    if not is_reference(value):
        return value
    ref = SecretRef.parse(value)
    if ref.scheme == "file":
        raise UsageError(
            f"key provider {kind!r}: {name!r} cannot be a ${{file:…}} reference",
            hint="give the value itself or ${env:NAME}",
        )
    return resolved(str(ref), ref.reveal())


def _required(config: Mapping[str, Any], name: str, kind: str) -> Any:
    value = config.get(name)
    if value in (None, ""):
        raise UsageError(f"key provider {kind!r} needs {name!r}")
    return value

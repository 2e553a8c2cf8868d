"""Backend kinds → implementing classes, imported lazily, with an install hint.

``open_backend("s3", {...})`` imports ``hdh_migrate.backends.s3`` only when asked, so a
missing SDK breaks only the kind that needs it, with a message naming what to install.
Every backend class has ``from_config(config) -> Self`` taking plain data (strings,
numbers, ``SecretRef``s): tasks rebuild their backends from that data in any process.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from hdh_migrate.backends.base import Backend, ReadOnlyBackend
from hdh_migrate.backends.specs import BackendSpec
from hdh_migrate.errors import UsageError

#: kind → ("module:Class", pip requirement that provides its SDK)
KINDS: dict[str, tuple[str, str]] = {
    "memory": ("hdh_migrate.backends.memory:MemoryBackend", ""),
    "local": ("hdh_migrate.backends.local:LocalBackend", ""),
    "s3": ("hdh_migrate.backends.s3:S3Backend", "boto3"),
    "azure_blob": ("hdh_migrate.backends.azure_blob:AzureBlobBackend", "azure-storage-blob"),
    "sftp": ("hdh_migrate.backends.sftp:SftpBackend", "paramiko"),
}


def backend_class(kind: str) -> Any:
    """The class implementing ``kind``, imported now. Raises UsageError with a hint."""
    if kind not in KINDS:
        raise UsageError(
            f"unknown backend kind {kind!r}", hint=f"use one of: {', '.join(sorted(KINDS))}"
        )
    target, requirement = KINDS[kind]
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f"pip install {requirement}" if requirement else "reinstall hdh-migrate"
        missing = exc.name or "a dependency"
        raise UsageError(
            f"backend {kind!r} is unavailable: {missing} is missing", hint=hint
        ) from None
    return getattr(module, class_name)


def open_backend(kind: str, config: Mapping[str, Any], *, read_only: bool = False) -> Backend:
    """Build a backend of ``kind`` from plain ``config``; wrapped read-only when asked."""
    cls = backend_class(kind)
    try:
        backend: Backend = cls.from_config(config)
    except KeyError as exc:
        raise UsageError(f"backend {kind!r}: missing setting {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise UsageError(f"backend {kind!r}: invalid settings: {exc}") from None
    return ReadOnlyBackend(backend) if read_only else backend


def open_spec(spec: BackendSpec, *, read_only: bool = False) -> Backend:
    """Build the backend of a typed ``spec`` (its class's ``from_spec``); read-only when asked."""
    backend: Backend = backend_class(spec.kind).from_spec(spec)
    return ReadOnlyBackend(backend) if read_only else backend


def redact_url(url: str) -> str:
    """``url`` without user info or query string (SAS tokens, passwords) for display."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))

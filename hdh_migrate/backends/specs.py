"""Typed backend specs: what a task needs to build a backend, built once from the plan.

Each spec is a frozen, picklable dataclass of plain values (secrets as references, never
revealed here) naming its backend ``kind``. The engine builds them from the plan with the
plan's defaults; ``open_spec`` (registry) hands one to its backend class's ``from_spec``.
The S3 spec is ``S3Settings`` itself (``s3_config``): the S3 backend is built from it as it
is. No SDK is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

from hdh_migrate.backends.s3_config import S3Settings
from hdh_migrate.config_values import Secret


@dataclass(frozen=True)
class MemorySpec:
    """An in-process store (tests, rehearsals): backends opened on one ``store`` share it."""

    kind: ClassVar[str] = "memory"
    store: str
    page_size: int = 1000


@dataclass(frozen=True)
class LocalSpec:
    """A directory: objects as files (``create`` makes it when missing)."""

    kind: ClassVar[str] = "local"
    root: str
    create: bool = True


@dataclass(frozen=True)
class AzureBlobSpec:
    """One Azure Blob container: a connection string, or an account URL with a credential
    or an Entra ID ``auth`` (``client_id``/``tenant_id``/``certificate``/``client_secret``/
    ``authority``)."""

    kind: ClassVar[str] = "azure_blob"
    container: str | None
    connection_string: Secret | None = None
    account_url: str | None = None
    credential: Secret | None = None
    ca_bundle: str | None = None
    auth: str | None = None
    client_id: str | None = None
    tenant_id: str | None = None
    certificate: str | None = None
    client_secret: Secret | None = None
    authority: str | None = None


@dataclass(frozen=True)
class SftpSpec:
    """One directory on an SFTP server, its host key pinned by ``known_hosts``."""

    kind: ClassVar[str] = "sftp"
    host: str
    port: int
    user: str
    known_hosts: str
    root: str
    key: Secret | None = None
    key_file: str | None = None
    password: Secret | None = None


BackendSpec = MemorySpec | LocalSpec | AzureBlobSpec | SftpSpec | S3Settings
"""A backend's typed spec, selected by its ``kind``."""


def spec_values(spec: AzureBlobSpec | SftpSpec) -> dict[str, object]:
    """The set fields of a spec as the settings its backend's ``from_config`` reads: the
    Azure and SFTP backends keep one validation path for plans and ad-hoc commands."""
    values = ((f.name, getattr(spec, f.name)) for f in fields(spec))
    return {name: value for name, value in values if value is not None}

"""The SSH host to connect to: its typed spec (built by the engine for a hook) and the
connection settings read from a spec or plain config (by the SFTP backend). No SDK here:
the engine imports this at start-up; paramiko loads only with ``remote.ssh``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from hdh_migrate import config_values as cv
from hdh_migrate.config_values import Secret
from hdh_migrate.errors import UsageError
from hdh_migrate.secrets import SecretRef

#: The backend kind named in settings errors (hooks connect exactly as the sftp backend).
KIND = "sftp"


@dataclass(frozen=True)
class SshSpec:
    """An SSH host a cutover hook runs on: its host key pinned by ``known_hosts``; ``key``
    (key text or a path, a reference until the connection is made) or ``key_file``."""

    host: str
    port: int
    user: str
    known_hosts: str
    key: Secret | str | None = None
    key_file: str | None = None


class SshSettings:
    """Connection settings; secrets stay references until ``connect``."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.host = cv.required(config, "host", KIND)
        self.port = cv.count(config, "port", 22, KIND)
        self.user = cv.required(config, "user", KIND)
        self.known_hosts = Path(cv.required(config, "known_hosts", KIND)).expanduser()
        self.key = cv.secret(config, "key") or _key_file(config)
        self.passphrase = cv.secret(config, "key_passphrase")
        self.password = cv.secret(config, "password")
        self.timeout = float(config.get("connect_timeout", 15))
        if self.key is None and self.password is None:
            raise UsageError(f"{KIND} backend: give key or password", hint="key: ${file:/path}")

    @classmethod
    def from_spec(cls, spec: SshSpec) -> SshSettings:
        """The settings of a spec: its set fields read as plain config would be."""
        values = ((f.name, getattr(spec, f.name)) for f in fields(spec))
        return cls({name: value for name, value in values if value is not None})

    @property
    def where(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


def _key_file(config: Mapping[str, Any]) -> SecretRef | None:
    """``key_file:`` (a path) read as the private key, through the same mode check."""
    path = config.get("key_file")
    return SecretRef("file", str(path)) if path else None

"""What every service of the stack provides; the orchestrator drives these hooks."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from devstack import creds, tls
from devstack.config import external_s3
from devstack.errors import DevstackError

_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass(frozen=True)
class Context:
    """The stack directory and the credentials several services share."""

    dir: Path

    @property
    def creds_dir(self) -> Path:
        """Directory of 0600 credential files (mode 0700)."""
        return self.dir / "creds"

    def cred(self, name: str) -> Path:
        """Path of one credential file."""
        return self.creds_dir / name

    def s3_keys(self) -> tuple[str, str]:
        """(access, secret) shared by SeaweedFS and rclone; created once.

        With an external S3 server, the keys come from $HDH_S3_ACCESS_KEY and
        $HDH_S3_SECRET_KEY and are copied into the credential files.
        """
        if external_s3():
            return self._external_keys()
        access = creds.token(self.cred("s3_access_key"), 20, _KEY_ALPHABET)
        secret = creds.token(self.cred("s3_secret_key"), 20)
        return access, secret

    def s3_readonly_keys(self) -> tuple[str, str]:
        """(access, secret) of SeaweedFS's read-and-list-only identity; created once."""
        access = creds.token(self.cred("s3_readonly_access_key"), 20, _KEY_ALPHABET)
        return access, creds.token(self.cred("s3_readonly_secret_key"), 20)

    def tls(self) -> tls.TlsFiles:
        """The CA bundle and server certificate of the HTTPS endpoints; created once."""
        return tls.ensure(self.dir)

    def _external_keys(self) -> tuple[str, str]:
        access = os.environ.get("HDH_S3_ACCESS_KEY", "")
        secret = os.environ.get("HDH_S3_SECRET_KEY", "")
        if not (access and secret):
            raise DevstackError(
                "s3",
                "HDH_DEVSTACK_EXTERNAL_S3 is set: also set HDH_S3_ACCESS_KEY and HDH_S3_SECRET_KEY",
            )
        for name, value in (("s3_access_key", access), ("s3_secret_key", secret)):
            path = self.cred(name)
            if not path.exists() or creds.read(path) != value:
                creds.write_private(path, value.encode())
        return access, secret


class Service:
    """One server (or, for SoftHSM2, a token). Hooks are idempotent."""

    name = "service"
    program = ""
    port: int | None = None
    apt_package: str | None = None
    apt_probe: str | None = None
    external_wait = 0.0  # seconds to wait for a server we do not start (CI services)

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.home = ctx.dir / self.name

    @property
    def pid_file(self) -> Path:
        """Where the service's PID is saved."""
        return self.ctx.dir / "pids" / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        """The service's own log (its directory is created on demand)."""
        logs = self.ctx.dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        return logs / f"{self.name}.log"

    def needs_apt(self) -> bool:
        """True when the Debian package providing the service is missing."""
        probe = self.apt_probe
        return probe is not None and not (Path(probe).exists() or shutil.which(probe))

    def install(self) -> None:
        """Fetch what is missing (not apt: the orchestrator batches apt-get)."""

    def configure(self) -> None:
        """Write configuration and credentials under ``self.home``."""

    def command(self) -> list[str] | None:
        """argv of the daemon, or None when there is nothing to run."""
        return None

    def process_env(self) -> dict[str, str] | None:
        """Environment for the daemon (None = inherit)."""
        return None

    def markers(self) -> list[str]:
        """Substrings identifying our process in /proc/PID/cmdline."""
        return [self.program, str(self.home)]

    def health(self) -> None:
        """Raise DevstackError unless the service really works (a real round trip)."""
        raise NotImplementedError

    def endpoint(self) -> str:
        """What clients connect to."""
        return ""

    def credentials(self) -> str:
        """Where the credentials live (paths, never values)."""
        return ""

    def fail(self, reason: str) -> DevstackError:
        """A DevstackError for this service, pointing at its log."""
        return DevstackError(self.name, reason, self.log_file)


def uses_external_s3() -> bool:
    """True when SeaweedFS is replaced by $HDH_DEVSTACK_EXTERNAL_S3."""
    return external_s3() is not None

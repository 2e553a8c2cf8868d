"""Where the stack lives and which ports it uses; every value can be overridden by env."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HOST = "127.0.0.1"
# $HDH_DEVSTACK_PORT_OFFSET shifts every port (SeaweedFS's internal ones too), so a second
# stack can run beside the usual one, e.g. to test devstack itself. Read once, at import.
PORT_OFFSET = int(os.environ.get("HDH_DEVSTACK_PORT_OFFSET") or 0)
AZURITE_PORT = 10000 + PORT_OFFSET
AZURITE_HTTPS_PORT = 10003 + PORT_OFFSET  # a second Azurite, HTTPS only (and OAuth)
S3_PORT = 8333 + PORT_OFFSET
S3_HTTPS_PORT = 8335 + PORT_OFFSET  # the same SeaweedFS, over TLS (certificate of devstack.tls)
RCLONE_PORT = 8334 + PORT_OFFSET
SFTP_PORT = 2222 + PORT_OFFSET
# SeaweedFS internals (gRPC ports are these + 10000): master, volume, filer, admin.
WEED_INTERNAL_PORTS = {
    "master": 9333 + PORT_OFFSET,
    "volume": 9340 + PORT_OFFSET,
    "filer": 8888 + PORT_OFFSET,
    "admin": 23646 + PORT_OFFSET,
}
AZURITE_VERSION = "3.35.0"
HSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
HSM_TOKEN = "hdh-test"
HSM_KEK_LABEL = "kek-test"
HSM_SIGNING_LABEL = "manifest-test"  # Ed25519, non-extractable: signs rehearsal manifests
SFTP_USER_ROOT = "hdhsftp"

# Azurite's development account: the key is public, documented by Microsoft.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def stack_dir() -> Path:
    """The directory holding data, logs, pids and credentials ($HDH_DEVSTACK_DIR)."""
    return Path(os.environ.get("HDH_DEVSTACK_DIR") or "/tmp/hdh-devstack").absolute()


def cache_dir() -> Path:
    """Private install folder for tools fetched on demand (outside the repository)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hdh-migrate"


def venv_bin(name: str) -> Path:
    """A binary installed next to the running interpreter (weed, rclone)."""
    return Path(sys.executable).parent / name


def external_s3() -> str | None:
    """An external S3 endpoint to use instead of SeaweedFS ($HDH_DEVSTACK_EXTERNAL_S3)."""
    return os.environ.get("HDH_DEVSTACK_EXTERNAL_S3") or None


def external_azurite() -> str | None:
    """An Azurite already running elsewhere ($HDH_DEVSTACK_EXTERNAL_AZURITE, account URL)."""
    return os.environ.get("HDH_DEVSTACK_EXTERNAL_AZURITE") or None


def is_root() -> bool:
    """True when running as root (we may then apt-get install and create users)."""
    return os.geteuid() == 0

"""apt-get, batched: one call installs every missing Debian package."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from devstack.config import is_root
from devstack.errors import DevstackError


def _apt(args: Sequence[str], log: Path) -> bool:
    prefix = [] if is_root() else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with log.open("ab") as out:
        done = subprocess.run(
            [*prefix, "apt-get", *args], stdout=out, stderr=subprocess.STDOUT, env=env, check=False
        )
    return done.returncode == 0


def apt_install(packages: Sequence[str], log: Path) -> None:
    """Install ``packages`` (apt-get update and retry once if the first attempt fails)."""
    if not packages:
        return
    if not shutil.which("apt-get"):
        raise DevstackError("apt", f"apt-get not found: install {' '.join(packages)} yourself")
    log.parent.mkdir(parents=True, exist_ok=True)
    install = ["install", "-y", "--no-install-recommends", *packages]
    if _apt(install, log):
        return
    if _apt(["update"], log) and _apt(install, log):
        return
    raise DevstackError("apt", f"apt-get install {' '.join(packages)} failed", log)

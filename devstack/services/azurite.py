"""Azurite (blob service only), installed with npm into a private cache folder."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from typing import Any
from urllib.parse import urlsplit

from azure.storage.blob import BlobServiceClient

from devstack.config import (
    AZURITE_ACCOUNT,
    AZURITE_HTTPS_PORT,
    AZURITE_KEY,
    AZURITE_PORT,
    AZURITE_VERSION,
    HOST,
    cache_dir,
    external_azurite,
)
from devstack.services.base import Service


def connection_string(account_url: str) -> str:
    """The connection string of the well-known development account at ``account_url``."""
    scheme = urlsplit(account_url).scheme or "http"
    return (
        f"DefaultEndpointsProtocol={scheme};AccountName={AZURITE_ACCOUNT};"
        f"AccountKey={AZURITE_KEY};BlobEndpoint={account_url};"
    )


class Azurite(Service):
    """Blob endpoint http://127.0.0.1:10000/devstoreaccount1 (public dev account key)."""

    name = "azurite"
    program = "node"
    port = AZURITE_PORT

    @property
    def prefix(self) -> str:
        """npm prefix holding node_modules/azurite."""
        return str(cache_dir() / "azurite")

    @property
    def main_js(self) -> str:
        """Azurite's blob-only entry point."""
        return f"{self.prefix}/node_modules/azurite/dist/src/blob/main.js"

    def installed_version(self) -> str:
        """Version of the cached Azurite ('' if none)."""
        try:
            with open(f"{self.prefix}/node_modules/azurite/package.json") as fh:
                return str(json.load(fh).get("version", ""))
        except (OSError, ValueError):
            return ""

    def install(self) -> None:
        if self.installed_version() == AZURITE_VERSION:
            return
        if not shutil.which("npm") or not shutil.which("node"):
            raise self.fail("node/npm missing: install Node >= 18 (apt-get install nodejs npm)")
        cache_dir().joinpath("azurite").mkdir(parents=True, exist_ok=True)
        cmd = ["npm", "install", "--prefix", self.prefix, "--no-audit", "--no-fund"]
        with self.log_file.open("ab") as log:
            done = subprocess.run(
                [*cmd, "--loglevel=error", f"azurite@{AZURITE_VERSION}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if done.returncode != 0 or self.installed_version() != AZURITE_VERSION:
            raise self.fail(f"npm install azurite@{AZURITE_VERSION} failed")

    def configure(self) -> None:
        (self.home / "data").mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        return [
            shutil.which("node") or "node",
            self.main_js,
            "--blobHost",
            HOST,
            "--blobPort",
            str(self.port),
            "--location",
            str(self.home / "data"),
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",
            "--silent",
        ]

    def markers(self) -> list[str]:
        return ["azurite", str(self.home)]

    def client_options(self) -> dict[str, Any]:
        """Extra BlobServiceClient options (the CA to verify an https endpoint with)."""
        return {}

    def health(self) -> None:
        client = BlobServiceClient.from_connection_string(
            connection_string(self.endpoint()),
            connection_timeout=2,
            read_timeout=10,
            retry_total=0,
            **self.client_options(),
        )
        container = client.get_container_client(f"devstack-health-{secrets.token_hex(6)}")
        container.create_container()
        try:
            container.upload_blob("probe", secrets.token_bytes(64))
            container.delete_blob("probe")
        finally:
            container.delete_container()

    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}/{AZURITE_ACCOUNT}"

    def credentials(self) -> str:
        return "public dev account key (AZURE_STORAGE_CONNECTION_STRING in env.sh)"


class AzuriteTls(Azurite):
    """A second Azurite, HTTPS only: https://127.0.0.1:10003/devstoreaccount1 with the
    certificate of the stack's private CA; it also accepts OAuth bearer tokens
    (``--oauth basic``: issuer, audience and expiry checked, not the signature)."""

    name = "azurite-tls"
    port = AZURITE_HTTPS_PORT

    def command(self) -> list[str]:
        files = self.ctx.tls()
        tls = ["--cert", str(files.server_cert), "--key", str(files.server_key)]
        return [*super().command(), *tls, "--oauth", "basic"]

    def client_options(self) -> dict[str, Any]:
        return {"connection_verify": str(self.ctx.tls().ca_bundle)}

    def endpoint(self) -> str:
        return f"https://{HOST}:{self.port}/{AZURITE_ACCOUNT}"

    def credentials(self) -> str:
        return "public dev account key (HDH_AZURITE_HTTPS_CONNECTION_STRING in env.sh)"


class ExternalAzurite(Azurite):
    """An Azurite someone else runs ($HDH_DEVSTACK_EXTERNAL_AZURITE), e.g. a CI service."""

    name = "azurite-external"

    external_wait = 60.0

    def install(self) -> None:
        """Nothing to install."""

    def command(self) -> None:  # type: ignore[override]
        return None

    def endpoint(self) -> str:
        return (external_azurite() or "").rstrip("/")

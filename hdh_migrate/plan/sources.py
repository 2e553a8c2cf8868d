"""Where data is read from: ``sources.<name>`` with ``kind`` azure_blob, s3, sftp or local."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from hdh_migrate.plan.types import Bucket, Container, Endpoint, Port, Secret, StrictModel, Text


class AzureBlobSource(StrictModel):
    """An Azure Blob Storage account (or Azurite for rehearsals). Give either
    ``account_url`` (with a SAS or account key as ``credential``) or a ``connection_string``."""

    kind: Literal["azure_blob"] = Field(description="Selects this source kind.")
    account_url: Endpoint | None = Field(
        default=None,
        description="The account's blob endpoint. Exactly one of account_url and "
        "connection_string.",
        examples=["https://hdhprodexports.blob.core.windows.net"],
    )
    connection_string: Secret | None = Field(
        default=None,
        description="A reference to an Azure connection string (it embeds the account key).",
        examples=["${env:AZURE_STORAGE_CONNECTION_STRING}"],
    )
    credential: Secret | None = Field(
        default=None,
        description="With account_url: a reference to a SAS token or an account key. Omit to "
        "use anonymous access.",
        examples=["${env:AZURE_STORAGE_SAS}"],
    )
    container: Container | None = Field(
        default=None,
        description="Default container for datasets that do not name one.",
        examples=["snds"],
    )


class S3Credentials(StrictModel):
    """An S3 access key pair, both as secret references."""

    access_key: Secret = Field(
        description="Reference to the access key id.", examples=["${env:OVH_S3_ACCESS_KEY}"]
    )
    secret_key: Secret = Field(
        description="Reference to the secret access key.",
        examples=["${file:/etc/hdh/ovh-secret}"],
    )


class S3Source(StrictModel):
    """An S3-compatible bucket to read from."""

    kind: Literal["s3"] = Field(description="Selects this source kind.")
    provider: str | None = Field(
        default=None,
        description="A provider preset (hdh-migrate providers) giving the endpoint and quirks.",
        examples=["generic"],
    )
    endpoint: Endpoint | None = Field(
        default=None,
        description="Explicit endpoint; required when the preset has no endpoint template.",
        examples=["https://s3.example.fr"],
    )
    region: str | None = Field(default=None, description="Region name.", examples=["fr-par"])
    bucket: Bucket = Field(description="Bucket read by default.", examples=["legacy-exports"])
    credentials: S3Credentials = Field(description="Access key pair (references).")
    verify_tls: bool = Field(default=True, description="Verify the server's TLS certificate.")


class SftpSource(StrictModel):
    """An SFTP server to read from. The host key is always verified against known_hosts.
    Give exactly one of ``key``, ``key_file`` and ``password``."""

    kind: Literal["sftp"] = Field(description="Selects this source kind.")
    host: Text = Field(description="Host name or address.", examples=["sftp.hdh.internal"])
    port: Port = Field(
        default=22, description="TCP port (may be a ${env:NAME:-22} reference).", examples=[22]
    )
    user: Text = Field(
        description="Login name (may be a ${env:NAME} reference).", examples=["exports"]
    )
    key: Secret | None = Field(
        default=None,
        description="Reference to the private key (PEM/OpenSSH text).",
        examples=["${file:/etc/hdh/sftp_ed25519}"],
    )
    key_file: Text | None = Field(
        default=None,
        description="Path of the private key file (may be a ${env:NAME} reference to the path).",
        examples=["/etc/hdh/sftp_ed25519"],
    )
    password: Secret | None = Field(
        default=None, description="Reference to the password.", examples=["${env:SFTP_PASSWORD}"]
    )
    known_hosts: Text = Field(
        description="Path of the known_hosts file that pins the server's host key (may be a "
        "${env:NAME} reference).",
        examples=["/etc/hdh/known_hosts"],
    )
    root: str = Field(default="/", description="Directory the dataset paths are relative to.")


class LocalSource(StrictModel):
    """A local directory (tests, staging areas)."""

    kind: Literal["local"] = Field(description="Selects this source kind.")
    path: Text = Field(
        description="Directory the dataset paths are relative to.", examples=["/srv/exports"]
    )


Source = Annotated[
    AzureBlobSource | S3Source | SftpSource | LocalSource, Field(discriminator="kind")
]
"""One source, selected by its ``kind``."""

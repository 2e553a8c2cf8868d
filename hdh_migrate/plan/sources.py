"""Where data is read from: ``sources.<name>`` with ``kind`` azure_blob, s3, sftp or local."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from hdh_migrate.plan.types import Bucket, Container, Endpoint, Port, Secret, StrictModel, Text


def ca_bundle_field() -> Any:
    """The ``ca_bundle`` field of every endpoint reached over HTTPS (sources and targets)."""
    return Field(
        default=None,
        description="Path of the CA certificate(s), PEM, that verify the endpoint's TLS "
        "certificate instead of the system store (a private CA); may be a ${env:NAME} "
        "reference. Verification stays on: a certificate it does not accept stops the run "
        "(exit 7).",
        examples=["/etc/hdh/ca.pem", "${env:HDH_DEVSTACK_CA_BUNDLE}"],
    )


AzureAuthKind = Literal[
    "default", "managed_identity", "service_principal", "sas", "account_key", "connection_string"
]
ENTRA_KINDS = ("default", "managed_identity", "service_principal")


class AzureAuth(StrictModel):
    """How an Azure source is authenticated. Microsoft Entra ID kinds (``default``,
    ``managed_identity``, ``service_principal``) need ``account_url`` over https and no
    key; tokens are renewed before they expire, mid-run. ``sas`` and ``account_key`` read
    ``credential``; ``connection_string`` reads ``connection_string``. Without ``auth``, the
    kind follows from the fields given (connection string, SAS, account key)."""

    kind: AzureAuthKind = Field(
        description="default (DefaultAzureCredential: environment, workload identity, managed "
        "identity, Azure CLI), managed_identity, service_principal, sas, account_key or "
        "connection_string.",
        examples=["managed_identity"],
    )
    client_id: Text | None = Field(
        default=None,
        description="managed_identity: a user-assigned identity's client id (optional); "
        "service_principal: the application's client id.",
        examples=["00000000-0000-0000-0000-000000000000"],
    )
    tenant_id: Text | None = Field(
        default=None,
        description="service_principal: the Entra tenant id.",
        examples=["00000000-0000-0000-0000-000000000000"],
    )
    client_secret: Secret | None = Field(
        default=None,
        description="service_principal: reference to the client secret (or certificate:).",
        examples=["${env:AZURE_CLIENT_SECRET}"],
    )
    certificate: Text | None = Field(
        default=None,
        description="service_principal: path of the PEM certificate with its private key "
        "(or client_secret:).",
        examples=["/etc/hdh/sp.pem"],
    )
    authority: Endpoint | None = Field(
        default=None,
        description="service_principal: the Entra ID authority host (https://), for a national "
        "cloud or a private authority; trusted as written (no instance discovery). "
        "Omitted: $AZURE_AUTHORITY_HOST, else https://login.microsoftonline.com.",
        examples=["https://login.microsoftonline.us"],
    )


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
    auth: AzureAuth | None = Field(
        default=None,
        description="How requests are authenticated (Entra ID identities, SAS, key); "
        "omitted: from connection_string / credential.",
    )
    ca_bundle: Text | None = ca_bundle_field()


class S3Credentials(StrictModel):
    """An S3 access key pair, both as secret references."""

    access_key: Secret = Field(
        description="Reference to the access key id.", examples=["${env:OVH_S3_ACCESS_KEY}"]
    )
    secret_key: Secret = Field(
        description="Reference to the secret access key.",
        examples=["${file:/etc/hdh/ovh-secret}"],
    )
    session_token: Secret | None = Field(
        default=None,
        description="Reference to a session token, for temporary (STS) credentials.",
        examples=["${env:AWS_SESSION_TOKEN}"],
    )


class S3Auth(StrictModel):
    """How an S3 endpoint is authenticated. ``static``: the ``credentials`` key pair;
    ``profile``: a profile of the AWS config and credentials files (keys, SSO,
    ``credential_process``, role assumption); ``default``: boto3's own chain (environment,
    ``AWS_PROFILE``, web identity, container and instance roles). Temporary credentials
    from the profile and default chains are refreshed before they expire, mid-run."""

    kind: Literal["static", "profile", "default"] = Field(
        description="static (the credentials key pair), profile or default.",
        examples=["profile"],
    )
    profile: Text | None = Field(
        default=None,
        description="With kind profile: the profile name (default: $AWS_PROFILE, else "
        "'default'); may be a ${env:NAME} reference.",
        examples=["hdh-migration"],
    )


STATIC_AUTH = S3Auth(kind="static")


def s3_auth_field() -> Any:
    """The ``auth`` field of S3 sources and targets (``static`` when omitted)."""
    return Field(
        default=STATIC_AUTH,
        description="How requests are authenticated: {kind: static} (default, needs "
        "credentials), {kind: profile, profile: NAME} or {kind: default}.",
    )


def s3_credentials_field() -> Any:
    """The ``credentials`` field of S3 sources and targets (only with auth kind static)."""
    return Field(
        default=None,
        description="Access key pair (references); required with auth kind static, "
        "absent otherwise.",
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
    auth: S3Auth = s3_auth_field()
    credentials: S3Credentials | None = s3_credentials_field()
    verify_tls: bool = Field(default=True, description="Verify the server's TLS certificate.")
    ca_bundle: Text | None = ca_bundle_field()


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

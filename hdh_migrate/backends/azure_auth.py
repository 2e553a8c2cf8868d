"""Microsoft Entra ID credentials for Azure sources (azure-identity): the only module
importing ``azure.identity``.

Config keys (plain values, the secret as a reference)::

    auth: default | managed_identity | service_principal
    client_id: ID          managed_identity (user-assigned, optional), default (the same),
                           service_principal (required)
    tenant_id: ID          service_principal
    client_secret: SECRET  service_principal, or
    certificate: PATH      service_principal: PEM certificate with its private key
    authority: URL         service_principal: the authority host (national cloud, private
                           authority), trusted as written: no instance discovery

The credential is handed to the blob client, whose bearer-token policy asks it for a new
token before the current one expires (azure-core renews within five minutes of expiry):
a run longer than a token's life goes on without stopping. Tokens never leave the SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from azure.identity import (
    CertificateCredential,
    ClientSecretCredential,
    DefaultAzureCredential,
    ManagedIdentityCredential,
)

from hdh_migrate import config_values as cv
from hdh_migrate.errors import UsageError

KIND = "azure_blob"
ENTRA_KINDS = ("default", "managed_identity", "service_principal")


def token_credential(config: Mapping[str, Any]) -> Any:
    """The azure-identity credential of ``config['auth']`` (one of ENTRA_KINDS)."""
    kind = config.get("auth")
    client_id = str(config.get("client_id") or "") or None
    if kind == "managed_identity":
        return ManagedIdentityCredential(client_id=client_id)
    if kind == "default":
        return DefaultAzureCredential(managed_identity_client_id=client_id)
    if kind != "service_principal":
        raise UsageError(f"{KIND} backend: auth {kind!r} is not an Entra ID kind")
    tenant = cv.required(config, "tenant_id", KIND)
    client = cv.required(config, "client_id", KIND)
    authority = str(config.get("authority") or "") or None
    # An authority the plan names is trusted as written: MSAL would otherwise validate an
    # unknown host against login.microsoftonline.com (Azure Stack, ADFS, private clouds).
    where = {"authority": authority, "disable_instance_discovery": True} if authority else {}
    secret = cv.secret(config, "client_secret")
    if secret is not None:
        return ClientSecretCredential(tenant, client, secret.reveal(), **where)
    certificate = cv.required(config, "certificate", KIND)
    return CertificateCredential(tenant, client, certificate_path=certificate, **where)


def describe(config: Mapping[str, Any]) -> str:
    """The identity in words for messages (kind and ids, never a secret); '' for keys."""
    kind = str(config.get("auth") or "")
    if kind not in ENTRA_KINDS:
        return ""
    words = {"default": "the default Azure identity", "managed_identity": "managed identity"}
    text = words.get(kind, "service principal")
    ids = [f"{name} {config[name]}" for name in ("client_id", "tenant_id") if config.get(name)]
    return f"{text} ({', '.join(ids)})" if ids else text

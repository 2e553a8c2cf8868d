"""The blob endpoint an Azure Storage connection string points at, parsed as the Azure
SDK does (``BlobEndpoint`` wins; else ``DefaultEndpointsProtocol`` — https by default —
``AccountName`` and ``EndpointSuffix``), without importing the SDK.

The backend and the policy (SOV-07) judge the transport from this one parsed value, so a
connection string cannot send a listing in clear text past the audit.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def blob_endpoint(connection_string: str) -> str:
    """``https://acct.blob.core.windows.net`` or the string's explicit ``BlobEndpoint``;
    ValueError when there is neither an endpoint nor an account name."""
    fields: dict[str, str] = {}
    for part in connection_string.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            fields[name.strip().lower()] = value.strip()
    if fields.get("blobendpoint"):
        return fields["blobendpoint"]
    if fields.get("usedevelopmentstorage", "").lower() == "true":
        return "http://127.0.0.1:10000/devstoreaccount1"
    account = fields.get("accountname")
    if not account:
        raise ValueError("the connection string names no BlobEndpoint nor AccountName")
    scheme = fields.get("defaultendpointsprotocol", "https").lower()
    suffix = fields.get("endpointsuffix", "core.windows.net")
    return f"{scheme}://{account}.blob.{suffix}"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def clear_text_host(url: str) -> str | None:
    """The host when ``url`` is plain http:// to a host that is not loopback, else None."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme.lower() == "http" and not is_loopback(host):
        return host or "?"
    return None

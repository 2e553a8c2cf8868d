"""Where a plan will connect: the resolved endpoint of every source, target and SSH hook.

``run``, ``rehearse``, ``audit`` and ``probe`` print these lines first, so a plan never
silently reaches a server the user did not mean (a port offset forgotten, an environment
variable pointing elsewhere). Values resolved from references are shown only in their
validated form: a URL without user info, query or fragment; a host that is a plain host
name; a bucket that matches the bucket-name rules. Anything else is shown as ``(invalid)``.
An Azure connection string is a secret: only its blob endpoint is shown, rebuilt from
``BlobEndpoint`` or ``AccountName`` + ``EndpointSuffix``; never the string itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from hdh_migrate.engine.specs import target_endpoint
from hdh_migrate.errors import HdhError
from hdh_migrate.plan import Plan, S3Target, resolve_text
from hdh_migrate.plan.types import BUCKET_PATTERN
from hdh_migrate.secrets import SecretRef, is_reference

_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}$|^\[[0-9A-Fa-f:.]+\]$")
_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
_SUFFIX = re.compile(r"^[a-z0-9.-]{3,100}$")
INVALID = "(invalid)"


@dataclass(frozen=True)
class PlanEndpoint:
    """One place the plan connects to: ``role`` source | target | hook."""

    role: str
    name: str
    kind: str
    url: str
    where: str = ""  # bucket, container or hook step

    def line(self) -> str:
        where = f" {self.where}" if self.where else ""
        return f"{self.role} {self.name} ({self.kind}): {self.url}{where}"

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "name": self.name, "kind": self.kind, "url": self.url,
                "where": self.where}  # fmt: skip


def plan_endpoints(plan: Plan) -> list[PlanEndpoint]:
    """Every source, target and SSH hook endpoint of ``plan``, resolved and validated."""
    return [*_sources(plan), *_targets(plan), *_hooks(plan)]


def public_url(url: str) -> str:
    """``url`` as ``scheme://host[:port][/path]``, or ``(invalid)``: never its user info,
    query or fragment (a SAS token or a password)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return INVALID
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not _HOST.match(host):
        return INVALID
    netloc = f"[{host}]" if ":" in host else host
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{netloc}{f':{port}' if port else ''}{path}"


def public_host(host: str, port: int) -> str:
    """``host:port`` when ``host`` is a plain host name or address, else ``(invalid)``."""
    return f"{host}:{port}" if _HOST.match(host) else INVALID


def public_bucket(name: str | None) -> str:
    """The bucket or container name when it matches the naming rules."""
    if not name:
        return ""
    return name if re.match(BUCKET_PATTERN, name) else INVALID


def azure_blob_endpoint(connection: str) -> str:
    """The blob endpoint named by an Azure connection string (validated), never the rest."""
    fields = dict(_pair(part) for part in connection.split(";") if "=" in part)
    if fields.get("UseDevelopmentStorage", "").lower() == "true":
        return "http://127.0.0.1:10000/devstoreaccount1"
    if "BlobEndpoint" in fields:
        return public_url(fields["BlobEndpoint"])
    account, suffix = (
        fields.get("AccountName", ""),
        fields.get("EndpointSuffix", "core.windows.net"),
    )
    protocol = fields.get("DefaultEndpointsProtocol", "https")
    if _ACCOUNT.match(account) and _SUFFIX.match(suffix) and protocol in ("http", "https"):
        return f"{protocol}://{account}.blob.{suffix}"
    return INVALID


def _pair(part: str) -> tuple[str, str]:
    key, _, value = part.partition("=")
    return key.strip(), value.strip()


def _sources(plan: Plan) -> list[PlanEndpoint]:
    found = []
    for name, source in plan.sources.items():
        if source.kind == "azure_blob":
            url = _azure_url(source.account_url, source.connection_string)
            where = public_bucket(source.container)
        elif source.kind == "s3":
            url = public_url(source.endpoint) if source.endpoint else f"preset {source.provider}"
            where = public_bucket(source.bucket)
        elif source.kind == "sftp":
            url, where = _ssh_url(source.host, source.port), source.root
        else:
            url, where = _local_path(source.path), ""
        found.append(PlanEndpoint("source", name, source.kind, url, where))
    return found


def _azure_url(account_url: str | None, connection: SecretRef | None) -> str:
    if account_url is not None:
        return public_url(account_url)
    if connection is None:
        return INVALID
    try:
        return azure_blob_endpoint(connection.reveal())
    except HdhError:
        return f"{connection} (not set)"


def _ssh_url(host: str, port: int) -> str:
    if is_reference(host) and not host.startswith("${env:"):
        return f"{host}:{port}"  # a ${file:…} host is resolved at use
    try:
        return "ssh://" + public_host(resolve_text(host), port)
    except HdhError:
        return f"{host} (not set)"


def _local_path(path: str) -> str:
    try:
        return "file://" + resolve_text(path) if not is_reference(path) else f"{path}"
    except HdhError:
        return f"{path} (not set)"


def _targets(plan: Plan) -> list[PlanEndpoint]:
    return [
        PlanEndpoint(
            "target",
            name,
            f"s3/{target.provider}",
            public_url(target_endpoint(target)),
            public_bucket(target.bucket),
        )
        if isinstance(target, S3Target)
        else PlanEndpoint("target", name, target.kind, target.location)
        for name, target in plan.targets.items()
    ]


def _hooks(plan: Plan) -> list[PlanEndpoint]:
    found = []
    for wave in plan.waves:
        if wave.cutover is None:
            continue
        for step, hooks in (("switch", wave.cutover.switch), ("rollback", wave.cutover.rollback)):
            for index, hook in enumerate(hooks):
                if hook.ssh is not None:
                    url = _ssh_url(hook.ssh.host, hook.ssh.port)
                    found.append(PlanEndpoint("hook", wave.name, "ssh", url, f"{step}[{index}]"))
    return found

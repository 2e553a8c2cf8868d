"""Rules on combinations of fields inside one section: a source's credentials, a dataset's
container/bucket/path, a target's preset and region, a cutover's freeze and gates."""

from __future__ import annotations

from collections.abc import Iterator

from hdh_migrate.plan.cutover import Cutover, Hook, SshTarget
from hdh_migrate.plan.issues import Issue, choice_hint
from hdh_migrate.plan.loader import DataPath
from hdh_migrate.plan.sources import (
    ENTRA_KINDS,
    AzureAuth,
    AzureBlobSource,
    S3Auth,
    S3Credentials,
    S3Source,
    SftpSource,
    Source,
)
from hdh_migrate.plan.waves import Dataset
from hdh_migrate.providers import Preset, UnknownPresetError, get_preset, preset_names
from hdh_migrate.providers.models import template_fields

_LOCATION_FIELD = {"azure_blob": "container", "s3": "bucket", "sftp": "path", "local": "path"}


def check_dataset_location(source: Source, dataset: Dataset, at: DataPath) -> Iterator[Issue]:
    """A dataset names a container (azure_blob), a bucket (s3) or a path (sftp, local),
    matching its source's kind; an azure dataset needs a container from somewhere."""
    expected = _LOCATION_FIELD[source.kind]
    for field in ("container", "bucket", "path"):
        if field != expected and getattr(dataset, field) is not None:
            yield Issue(
                (*at, field),
                f"{field} does not apply to a {source.kind} source",
                f"source {dataset.source!r} is {source.kind}: use {expected}:",
            )
    if isinstance(source, AzureBlobSource) and dataset.container is None and not source.container:
        yield Issue(
            (*at, "container"),
            "missing required key 'container'",
            f"name the container here or give source {dataset.source!r} a default container:",
        )


def check_preset(
    provider: str | None,
    region: str | None,
    endpoint: str | None,
    at: DataPath,
    *,
    namespace: str | None = None,
    rehearsal: bool = False,
) -> Iterator[Issue]:
    """The preset exists, has the region, and gets an endpoint when it needs one."""
    if provider is None:
        if endpoint is None:
            yield Issue(
                (*at, "endpoint"),
                "missing required key 'endpoint'",
                "give an endpoint: https://… or a provider: preset",
            )
        return
    try:
        preset = get_preset(provider)
    except UnknownPresetError:
        yield Issue(
            (*at, "provider"),
            "unknown provider preset",
            choice_hint(provider, preset_names(), "known presets"),
        )
        return
    yield from _region(preset, region, at)
    yield from _endpoint(preset, endpoint, namespace, at)
    if preset.rehearsal_only and not rehearsal:
        yield Issue(
            (*at, "provider"),
            f"preset {provider!r} is for rehearsals only",
            "mark the plan policy.rehearsal: true, or use a qualified provider "
            "(audit blocks this, SOV-02)",
            severity="warning",
        )


def _region(preset: Preset, region: str | None, at: DataPath) -> Iterator[Issue]:
    if region is None and preset.regions:
        yield Issue((*at, "region"), "missing required key 'region'",
                    choice_hint("", preset.regions, f"regions of {preset.name}"))  # fmt: skip
    if region is not None and preset.regions and region not in preset.regions:
        yield Issue(
            (*at, "region"),
            f"provider preset {preset.name!r} has no such region",
            choice_hint(region, preset.regions, "valid regions"),
        )


def _endpoint(
    preset: Preset, endpoint: str | None, namespace: str | None, at: DataPath
) -> Iterator[Issue]:
    if endpoint is not None:
        return
    if preset.requires_endpoint or preset.endpoint_template is None:
        yield Issue(
            (*at, "endpoint"),
            f"provider preset {preset.name!r} needs an explicit endpoint",
            "add endpoint: https://… (or http://127.0.0.1:PORT locally)",
        )
    elif "namespace" in template_fields(preset.endpoint_template) and not namespace:
        yield Issue(
            (*at, "namespace"),
            f"provider preset {preset.name!r} needs a namespace",
            f"add namespace: (its endpoint is {preset.endpoint_template})",
        )


def check_source(source: Source, at: DataPath, *, rehearsal: bool = False) -> Iterator[Issue]:
    """Credentials and endpoints of one source."""
    if isinstance(source, AzureBlobSource):
        yield from _azure(source, at)
    elif isinstance(source, S3Source):
        yield from check_preset(source.provider, source.region, source.endpoint, at, rehearsal=True)
        yield from check_tls(source.ca_bundle, source.verify_tls, source.endpoint, at)
        yield from check_s3_auth(source.auth, source.credentials, at)
        if not source.verify_tls:
            yield Issue(
                (*at, "verify_tls"),
                "TLS certificate verification is off",
                "policy SOV-07 blocks this outside rehearsals",
                severity="warning",
            )
    elif isinstance(source, SftpSource):
        given = [source.key, source.key_file, source.password]
        if sum(value is not None for value in given) != 1:
            yield Issue(
                at,
                "an sftp source needs exactly one of key, key_file and password",
                "key_file: /etc/hdh/sftp_ed25519 (preferred), key: ${file:…} or "
                "password: ${env:NAME}",
            )


def check_s3_auth(auth: S3Auth, credentials: S3Credentials | None, at: DataPath) -> Iterator[Issue]:
    """``credentials`` go with auth kind static only; ``profile`` with kind profile only."""
    if auth.kind == "static" and credentials is None:
        yield Issue(
            (*at, "credentials"),
            "missing required key 'credentials'",
            "give credentials: {access_key: ${env:…}, secret_key: ${file:…}}, or "
            "auth: {kind: profile} / {kind: default} to use the AWS credential chain",
        )
    if auth.kind != "static" and credentials is not None:
        yield Issue(
            (*at, "credentials"),
            f"credentials are not used with auth kind {auth.kind}",
            "remove credentials:, or set auth: {kind: static}",
        )
    if auth.profile is not None and auth.kind != "profile":
        yield Issue((*at, "auth", "profile"), f"profile does not apply to auth kind {auth.kind}",
                    "set auth: {kind: profile, profile: NAME}")  # fmt: skip


def check_tls(
    ca_bundle: str | None, verify_tls: bool, endpoint: object, at: DataPath
) -> Iterator[Issue]:
    """A ``ca_bundle`` goes with verification on and an https:// endpoint: never a bundle
    that would silently not be used."""
    if ca_bundle is None:
        return
    if not verify_tls:
        yield Issue(
            (*at, "ca_bundle"),
            "ca_bundle is given but verify_tls is false",
            "remove verify_tls: false: the bundle is what verification uses",
        )
    if endpoint is not None and str(endpoint).lower().startswith("http://"):
        yield Issue(
            (*at, "ca_bundle"),
            "ca_bundle is given but the endpoint is plain http://",
            "use the endpoint's https:// address (TLS is never skipped silently)",
        )


def _azure(source: AzureBlobSource, at: DataPath) -> Iterator[Issue]:
    yield from check_tls(source.ca_bundle, True, source.account_url, at)
    if source.auth is not None:
        yield from _azure_auth(source, source.auth, (*at, "auth"))
    if (source.account_url is None) == (source.connection_string is None):
        yield Issue(
            at,
            "an azure_blob source needs exactly one of account_url and connection_string",
            "account_url: https://ACCOUNT.blob.core.windows.net "
            "with credential: ${env:AZURE_STORAGE_SAS}, or connection_string: "
            "${env:AZURE_STORAGE_CONNECTION_STRING}",
        )
    elif source.connection_string is not None and source.credential is not None:
        yield Issue(
            (*at, "credential"),
            "credential is not used with a connection_string",
            "the connection string carries the key: remove credential:",
        )


# Which auth fields each kind takes (client_id with default: a user-assigned identity).
_AUTH_FIELDS = {
    "default": {"client_id"},
    "managed_identity": {"client_id"},
    "service_principal": {"client_id", "tenant_id", "client_secret", "certificate", "authority"},
}


def _azure_auth(source: AzureBlobSource, auth: AzureAuth, at: DataPath) -> Iterator[Issue]:
    """The fields an auth kind needs are there, and no field it would ignore."""
    source_at = at[:-1]
    for name in ("client_id", "tenant_id", "client_secret", "certificate", "authority"):
        if getattr(auth, name) is not None and name not in _AUTH_FIELDS.get(auth.kind, set()):
            yield Issue((*at, name), f"{name} does not apply to auth kind {auth.kind}",
                        f"remove {name}:")  # fmt: skip
    if auth.kind == "connection_string" and source.connection_string is None:
        yield Issue((*source_at, "connection_string"), "missing required key 'connection_string'",
                    "auth kind connection_string reads connection_string: ${env:…}")  # fmt: skip
    if auth.kind in ("sas", "account_key") and source.credential is None:
        yield Issue((*source_at, "credential"), "missing required key 'credential'",
                    f"auth kind {auth.kind} reads credential: ${{env:…}}")  # fmt: skip
    if auth.kind in ENTRA_KINDS:
        yield from _entra(source, auth, at)


def _entra(source: AzureBlobSource, auth: AzureAuth, at: DataPath) -> Iterator[Issue]:
    if source.credential is not None or source.connection_string is not None:
        yield Issue(at, f"auth kind {auth.kind} uses no key: remove credential/connection_string",
                    "give account_url: https://ACCOUNT.blob.core.windows.net only")  # fmt: skip
    url = str(source.account_url or "")
    if url and not url.lower().startswith("https://"):
        yield Issue((*at[:-1], "account_url"), "Entra ID tokens are only sent over https://",
                    "use the account's https:// URL")  # fmt: skip
    if auth.kind == "service_principal":
        for name in ("tenant_id", "client_id"):
            if getattr(auth, name) is None:
                yield Issue((*at, name), f"missing required key {name!r}",
                            "a service principal needs tenant_id and client_id")  # fmt: skip
        if auth.authority and not str(auth.authority).lower().startswith("https://"):
            yield Issue((*at, "authority"), "the authority is only reached over https://",
                        "use https://HOST (a national cloud or private authority)")  # fmt: skip
        if (auth.client_secret is None) == (auth.certificate is None):
            yield Issue(at, "a service principal needs exactly one of client_secret and "
                        "certificate", "client_secret: ${env:AZURE_CLIENT_SECRET}")  # fmt: skip


def check_cutover(cutover: Cutover, at: DataPath) -> Iterator[Issue]:
    """Freeze hooks match the strategy; two-person approval needs two approvals; each SSH
    hook has exactly one of key and key_file."""
    yield from _freeze(cutover, at)
    hooks: list[tuple[DataPath, Hook | None]] = [
        *(((*at, "switch", i), h) for i, h in enumerate(cutover.switch)),
        *(((*at, "rollback", i), h) for i, h in enumerate(cutover.rollback)),
        ((*at, "freeze", "hook"), cutover.freeze.hook),
        ((*at, "freeze", "unfreeze"), cutover.freeze.unfreeze),
    ]
    for path, hook in hooks:
        if hook is not None and hook.ssh is not None:
            yield from _ssh((*path, "ssh"), hook.ssh)
    if cutover.gates.two_person and cutover.gates.approvals < 2:
        yield Issue(
            (*at, "gates", "approvals"), "two_person needs at least 2 approvals", "set approvals: 2"
        )


def _ssh(at: DataPath, ssh: SshTarget) -> Iterator[Issue]:
    if (ssh.key is None) == (ssh.key_file is None):
        yield Issue(
            at,
            "an ssh hook needs exactly one of key and key_file",
            "key_file: /etc/hdh/ops_ed25519 or key: ${file:/etc/hdh/ops_ed25519}",
        )


def _freeze(cutover: Cutover, at: DataPath) -> Iterator[Issue]:
    freeze = cutover.freeze
    if freeze.strategy == "hook":
        for name in ("hook", "unfreeze"):
            if getattr(freeze, name) is None:
                yield Issue(
                    (*at, "freeze", name),
                    f"missing required key {name!r}",
                    f"strategy hook needs freeze.{name}: {{run: …}}",
                )
    else:
        for name in ("hook", "unfreeze"):
            if getattr(freeze, name) is not None:
                yield Issue(
                    (*at, "freeze", name),
                    f"{name} applies to strategy hook only",
                    f"remove {name}: or set strategy: hook",
                )

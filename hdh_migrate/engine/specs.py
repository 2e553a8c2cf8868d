"""Plan sections → plain ``Spec``s the work units rebuild their clients from.

Secrets stay ``SecretRef``s inside the specs: they are revealed by the backend or key
provider that uses them, in whatever process runs the task.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, TypedDict

from hdh_migrate.backends.probe import ProbeResult
from hdh_migrate.backends.s3_config import S3Settings
from hdh_migrate.backends.specs import AzureBlobSpec, BackendSpec, LocalSpec, MemorySpec, SftpSpec
from hdh_migrate.keys import FileKeySpec, KeySpec, Pkcs11KeySpec
from hdh_migrate.plan import (
    AzureBlobSource,
    EffectiveDataset,
    FileKey,
    Key,
    LocalTarget,
    MemoryTarget,
    Plan,
    S3Auth,
    S3Credentials,
    S3Source,
    S3Target,
    SftpSource,
    Target,
    resolve_text,
)
from hdh_migrate.providers import Preset, get_preset
from hdh_migrate.secrets import SecretRef
from hdh_migrate.stages.buffers import parts_in_flight
from hdh_migrate.stages.inventory import Selection
from hdh_migrate.stages.items import Spec
from hdh_migrate.stages.names import NameRules
from hdh_migrate.stages.retry import RetryPolicy


def source_spec(eff: EffectiveDataset) -> Spec:
    """The backend a dataset reads from (its container, bucket or directory)."""
    source, where = eff.source, eff.location
    config: BackendSpec
    if isinstance(source, AzureBlobSource):
        config = _azure_spec(source, where)
    elif isinstance(source, S3Source):
        config = _s3_source_spec(source, where)
    elif isinstance(source, SftpSource):
        config = _sftp_spec(source, where)
    else:
        config = LocalSpec(_join(resolve_text(source.path), where))
    retry = RetryPolicy.from_plan(eff.retries)
    return Spec(config, f"source:{eff.dataset.source}:{where}", retry)


def target_spec(
    plan: Plan,
    name: str,
    eff: EffectiveDataset | None = None,
    validated: tuple[str, ...] = (),
) -> Spec:
    """The backend of target ``name``: an S3 bucket with its preset's addressing and
    signature, or (rehearsals) an in-process store or a local directory.

    ``validated`` names the checksums the probe saw this target refuse when wrong: CRC32C
    per part is sent only then (a target that ignores checksums gets none and is verified
    by reading back). Objects run in parallel, so each multipart upload keeps at most two
    parts in flight: memory stays near workers × 3 × part size.
    """
    target = plan.targets[name]
    retry = RetryPolicy.from_plan(plan.defaults.retries)
    config: BackendSpec
    if isinstance(target, MemoryTarget):
        config = MemorySpec(target.store)
    elif isinstance(target, LocalTarget):
        config = LocalSpec(resolve_text(target.path))
    else:
        config = _s3_target_spec(target, eff)
    return Spec(config, f"target:{name}", retry)


def _s3_target_spec(target: S3Target, eff: EffectiveDataset | None) -> S3Settings:
    preset = get_preset(target.provider)
    settings = S3Settings(
        bucket=target.bucket,
        endpoint_url=target_endpoint(target),
        region=target.region,
        **_s3_auth(target.auth, target.credentials),
        addressing_style=target.addressing_style or preset.addressing_style,
        signature_version=target.signature or preset.signature,
        checksum_mode=target.checksum_mode or preset.checksum_mode,
        verify_tls=target.verify_tls,
        ca_bundle=_ca(target.ca_bundle),
        sse_c_key=target.sse_c_key,
        storage_class=target.storage_class or None,
    )
    if eff is None:
        return settings
    return replace(
        settings,
        part_size=eff.part_size,
        multipart_threshold=eff.multipart_threshold,
        max_concurrency=parts_in_flight(eff.part_size, eff.buffer_memory),  # fits the budget
    )


def key_spec(name: str, key: Key) -> Spec:
    """The key provider of plan key ``name`` (references unresolved)."""
    config: KeySpec
    if isinstance(key, FileKey):
        config = FileKeySpec(path=key.path, ref=key.ref, create=key.create)
    else:
        config = Pkcs11KeySpec(key.module, key.token, key.label, key.pin, key.slot)
    return Spec(config, f"key:{name}")


def target_endpoint(target: Target) -> str:
    """The explicit endpoint, or the preset's template filled for the region; a rehearsal
    target's location (``memory://store``, its directory)."""
    if isinstance(target, MemoryTarget):
        return f"memory://{target.store}"
    if isinstance(target, LocalTarget):
        return target.path
    if target.endpoint is not None:
        return str(target.endpoint).rstrip("/")
    extra = {"namespace": target.namespace} if target.namespace else {}
    return get_preset(target.provider).endpoint(target.region, **extra)


def _s3_source_spec(source: S3Source, bucket: str | None) -> S3Settings:
    endpoint = str(source.endpoint) if source.endpoint else None
    if endpoint is None and source.provider:
        endpoint = get_preset(source.provider).endpoint(source.region or "")
    return S3Settings(
        bucket=bucket or "",
        endpoint_url=endpoint,
        region=source.region or "us-east-1",
        **_s3_auth(source.auth, source.credentials),
        addressing_style="path" if endpoint else "auto",
        verify_tls=source.verify_tls,
        ca_bundle=_ca(source.ca_bundle),
    )


def _azure_spec(source: AzureBlobSource, container: str | None) -> AzureBlobSpec:
    """The backend spec of an Azure source (ids resolved, secrets references)."""
    auth = source.auth
    return AzureBlobSpec(
        container=container,
        connection_string=source.connection_string,
        account_url=str(source.account_url) if source.account_url else None,
        credential=None if source.connection_string else source.credential,
        ca_bundle=_ca(source.ca_bundle),
        auth=auth.kind if auth else None,
        client_id=_text(auth.client_id) if auth else None,
        tenant_id=_text(auth.tenant_id) if auth else None,
        certificate=_text(auth.certificate) if auth else None,
        client_secret=auth.client_secret if auth else None,
        authority=_text(auth.authority) if auth else None,
    )


def _s3_auth(auth: S3Auth, credentials: S3Credentials | None) -> S3Auths:
    """The backend settings of an S3 ``auth``: the key pair (static), a profile name, or
    nothing at all (boto3's default chain)."""
    if auth.kind == "profile":
        return {"profile": resolve_text(auth.profile) if auth.profile else _env_profile()}
    if auth.kind == "default" or credentials is None:
        return {}
    return {
        "access_key": credentials.access_key,
        "secret_key": credentials.secret_key,
        "session_token": credentials.session_token,
    }


class S3Auths(TypedDict, total=False):
    """The credential fields of an S3 spec one ``auth`` sets."""

    profile: str
    access_key: SecretRef
    secret_key: SecretRef
    session_token: SecretRef | None


def _env_profile() -> str:
    return os.environ.get("AWS_PROFILE") or "default"


def _ca(ca_bundle: str | None) -> str | None:
    """``ca_bundle`` as a path (a ${env:…} reference resolved), when the plan names one."""
    return resolve_text(ca_bundle) if ca_bundle else None


def _text(value: str | None) -> str | None:
    return resolve_text(value) if value is not None else None


def _sftp_spec(source: SftpSource, path: str | None) -> SftpSpec:
    return SftpSpec(
        host=resolve_text(source.host),
        port=source.port,
        user=resolve_text(source.user),
        known_hosts=resolve_text(source.known_hosts),
        root=_join(source.root, path),
        key=source.key,
        key_file=_text(source.key_file),
        password=source.password,
    )


def _join(root: str, sub: str | None) -> str:
    return f"{root.rstrip('/')}/{sub.strip('/')}" if sub else root


def selection_for(
    eff: EffectiveDataset, segment_size: int = 1 << 20, probed: ProbeResult | None = None
) -> Selection:
    """What a dataset takes from its source and where it lands, with the target's limits
    (its preset's, corrected by what ``probed`` measured)."""
    ds = eff.dataset
    preset = get_preset(eff.target.provider) if isinstance(eff.target, S3Target) else None
    return Selection(
        dataset=ds.name,
        prefix=ds.prefix,
        include=tuple(ds.include),
        exclude=tuple(ds.exclude),
        target_prefix=ds.target_prefix,
        max_object_size=preset.limits.max_object_size if preset else None,
        segment_size=segment_size,
        names=name_rules(preset, probed) if preset else NameRules(),  # rehearsal targets: S3's
    )


def name_rules(preset: Preset, probed: ProbeResult | None = None) -> NameRules:
    """What the target does with keys, from its preset (``key_rules``, ``max_key_length``);
    what the probe measured on the server itself wins where it measured something."""
    rules = preset.key_rules
    preset_rules = NameRules(
        max_key_bytes=preset.limits.max_key_length or 1024,
        max_segment_bytes=rules.max_segment_length,
        folds_empty_segments=rules.folds_empty_segments,
        folds_trailing_slash=rules.folds_trailing_slash,
        case_insensitive=rules.case_insensitive,
        normalises=rules.normalises,
    )
    return probed_rules(preset_rules, probed.key_rules if probed is not None else {})


def probed_rules(rules: NameRules, measured: Mapping[str, Any]) -> NameRules:
    """``rules`` with every fact the probe measured (``ProbeResult.key_rules``) in place."""
    change: dict[str, Any] = {}
    for field, fact in (("folds_empty_segments", "empty_segments"),
                        ("folds_trailing_slash", "trailing_slash")):  # fmt: skip
        if measured.get(fact) in ("folds", "distinct"):
            change[field] = measured[fact] == "folds"
    if measured.get("case") in ("insensitive", "sensitive"):
        change["case_insensitive"] = measured["case"] == "insensitive"
    form = measured.get("normalisation")
    if form in ("none", "NFC", "NFD", "NFKC", "NFKD"):
        change["normalises"] = None if form == "none" else form
    if "max_segment_bytes" in measured:  # None: no limit below the longest tried
        change["max_segment_bytes"] = measured["max_segment_bytes"]
    if isinstance(measured.get("max_key_bytes"), int):
        change["max_key_bytes"] = measured["max_key_bytes"]
    return replace(rules, **change)

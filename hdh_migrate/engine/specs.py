"""Plan sections → plain ``Spec``s the work units rebuild their clients from.

Secrets stay ``SecretRef``s inside the specs: they are revealed by the backend or key
provider that uses them, in whatever process runs the task.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from hdh_migrate.backends.probe import ProbeResult
from hdh_migrate.plan import (
    AzureAuth,
    EffectiveDataset,
    Key,
    Plan,
    S3Auth,
    S3Credentials,
    S3Target,
    Source,
    resolve_text,
)
from hdh_migrate.providers import Preset, get_preset
from hdh_migrate.stages.buffers import parts_in_flight
from hdh_migrate.stages.inventory import Selection
from hdh_migrate.stages.items import Spec
from hdh_migrate.stages.names import NameRules
from hdh_migrate.stages.retry import RetryPolicy


def source_spec(eff: EffectiveDataset) -> Spec:
    """The backend a dataset reads from (its container, bucket or directory)."""
    source, where = eff.source, eff.location
    config: dict[str, Any]
    if source.kind == "azure_blob":
        config = {"container": where}
        if source.connection_string is not None:
            config["connection_string"] = source.connection_string
        else:
            config["account_url"] = str(source.account_url)
            config["credential"] = source.credential
        config |= _tls(source.ca_bundle) | _azure_auth(source.auth)
    elif source.kind == "s3":
        config = _s3_source_config(source, where)
    elif source.kind == "sftp":
        config = _sftp_config(source, where)
    else:
        config = {"root": _join(resolve_text(source.path), where)}
    retry = RetryPolicy.from_plan(eff.retries)
    return Spec(source.kind, config, f"source:{eff.dataset.source}:{where}", retry)


def target_spec(
    plan: Plan,
    name: str,
    eff: EffectiveDataset | None = None,
    validated: tuple[str, ...] = (),
) -> Spec:
    """The S3 backend of target ``name`` with its preset's addressing and signature.

    ``validated`` names the checksums the probe saw this target refuse when wrong: CRC32C
    per part is sent only then (a target that ignores checksums gets none and is verified
    by reading back). Objects run in parallel, so each multipart upload keeps at most two
    parts in flight: memory stays near workers × 3 × part size.
    """
    target = plan.targets[name]
    preset = get_preset(target.provider)
    config: dict[str, Any] = {
        "endpoint_url": target_endpoint(target),
        "region": target.region,
        "bucket": target.bucket,
        **_s3_auth(target.auth, target.credentials),
        "addressing_style": target.addressing_style or preset.addressing_style,
        "signature_version": target.signature or preset.signature,
        "checksum_mode": target.checksum_mode or preset.checksum_mode,
        "verify_tls": target.verify_tls,
    } | _tls(target.ca_bundle)
    if target.sse_c_key is not None:
        config["sse_c_key"] = target.sse_c_key
    if target.storage_class:
        config["storage_class"] = target.storage_class
    if eff is not None:
        config["part_size"] = eff.part_size
        config["multipart_threshold"] = eff.multipart_threshold
        config["max_concurrency"] = parts_in_flight(eff.part_size)  # fits the buffer budget
    return Spec("s3", config, f"target:{name}", RetryPolicy.from_plan(plan.defaults.retries))


def key_spec(name: str, key: Key) -> Spec:
    """The key provider of plan key ``name`` (the section's fields, references unresolved)."""
    config = {k: v for k, v in dict(key).items() if k != "kind" and v is not None}
    return Spec(key.kind, config, f"key:{name}")


def target_endpoint(target: S3Target) -> str:
    """The explicit endpoint, or the preset's template filled for the region."""
    if target.endpoint is not None:
        return str(target.endpoint).rstrip("/")
    extra = {"namespace": target.namespace} if target.namespace else {}
    return get_preset(target.provider).endpoint(target.region, **extra)


def _s3_source_config(source: Source, bucket: str | None) -> dict[str, Any]:
    assert source.kind == "s3"
    endpoint = str(source.endpoint) if source.endpoint else None
    if endpoint is None and source.provider:
        endpoint = get_preset(source.provider).endpoint(source.region or "")
    return {
        "endpoint_url": endpoint,
        "region": source.region or "us-east-1",
        "bucket": bucket,
        **_s3_auth(source.auth, source.credentials),
        "verify_tls": source.verify_tls,
    } | _tls(source.ca_bundle)


def _azure_auth(auth: AzureAuth | None) -> dict[str, Any]:
    """The backend settings of an Azure ``auth`` (ids resolved, the secret a reference)."""
    if auth is None:
        return {}
    config: dict[str, Any] = {"auth": auth.kind}
    for name in ("client_id", "tenant_id", "certificate", "authority"):
        if getattr(auth, name) is not None:
            config[name] = resolve_text(getattr(auth, name))
    if auth.client_secret is not None:
        config["client_secret"] = auth.client_secret
    return config


def _s3_auth(auth: S3Auth, credentials: S3Credentials | None) -> dict[str, Any]:
    """The backend settings of an S3 ``auth``: the key pair (static), a profile name, or
    nothing at all (boto3's default chain)."""
    if auth.kind == "profile":
        return {"profile": resolve_text(auth.profile) if auth.profile else _env_profile()}
    if auth.kind == "default" or credentials is None:
        return {}
    config = {"access_key": credentials.access_key, "secret_key": credentials.secret_key}
    if credentials.session_token is not None:
        config["session_token"] = credentials.session_token
    return config


def _env_profile() -> str:
    return os.environ.get("AWS_PROFILE") or "default"


def _tls(ca_bundle: str | None) -> dict[str, Any]:
    """``ca_bundle`` as a path (a ${env:…} reference resolved), when the plan names one."""
    return {"ca_bundle": resolve_text(ca_bundle)} if ca_bundle else {}


def _sftp_config(source: Source, path: str | None) -> dict[str, Any]:
    assert source.kind == "sftp"
    config: dict[str, Any] = {
        "host": resolve_text(source.host),
        "port": source.port,
        "user": resolve_text(source.user),
        "known_hosts": resolve_text(source.known_hosts),
        "root": _join(source.root, path),
    }
    if source.key is not None:
        config["key"] = source.key
    if source.key_file is not None:
        config["key_file"] = resolve_text(source.key_file)
    if source.password is not None:
        config["password"] = source.password
    return config


def _join(root: str, sub: str | None) -> str:
    return f"{root.rstrip('/')}/{sub.strip('/')}" if sub else root


def selection_for(
    eff: EffectiveDataset, segment_size: int = 1 << 20, probed: ProbeResult | None = None
) -> Selection:
    """What a dataset takes from its source and where it lands, with the target's limits
    (its preset's, corrected by what ``probed`` measured)."""
    ds = eff.dataset
    preset = get_preset(eff.target.provider)
    return Selection(
        dataset=ds.name,
        prefix=ds.prefix,
        include=tuple(ds.include),
        exclude=tuple(ds.exclude),
        target_prefix=ds.target_prefix,
        max_object_size=preset.limits.max_object_size,
        segment_size=segment_size,
        names=name_rules(preset, probed),
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

"""Derive a rehearsal plan from any plan: same waves, datasets, selections, verify modes,
policy and gates; stand-ins for everything that would reach production.

The production endpoints named in the plan never appear in the derived plan, and the
stand-ins are refused when they resolve to one of them. What changes and why is returned
as ``notes`` (the summary prints them): a rehearsal that silently differed from the plan
would prove nothing.
"""

from __future__ import annotations

import copy
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hdh_migrate.engine.endpoints import azure_blob_endpoint, plan_endpoints, public_url
from hdh_migrate.errors import UsageError
from hdh_migrate.plan import Plan, load_plan
from hdh_migrate.plan.check import read_plan_text
from hdh_migrate.plan.loader import load_document
from hdh_migrate.plan.portable import resolve_public
from hdh_migrate.plan.types import is_loopback
from hdh_migrate.units import human_size, parse_size

AZURE_ENV = "AZURE_STORAGE_CONNECTION_STRING"
S3_ENV = ("HDH_S3_ENDPOINT", "HDH_S3_ACCESS_KEY", "HDH_S3_SECRET_KEY")
SSHD_ENV = (
    "HDH_SFTP_HOST",
    "HDH_SFTP_PORT",
    "HDH_SFTP_USER",
    "HDH_SFTP_KEY",
    "HDH_SFTP_KNOWN_HOSTS",
)
HSM_ENV = ("HDH_HSM_MODULE", "HDH_HSM_TOKEN", "HDH_HSM_KEK_LABEL", "HDH_HSM_PIN")
HSM_SIGNING_ENV = ("HDH_HSM_MODULE", "HDH_HSM_TOKEN", "HDH_HSM_SIGNING_LABEL", "HDH_HSM_PIN")
HOOK_LOG = "hdh-rehearsal-hooks.log"
MIB = 1 << 20


@dataclass(frozen=True)
class Options:
    """How to rehearse. ``target_endpoint`` None = ``$HDH_S3_ENDPOINT``."""

    work: Path
    target_endpoint: str | None = None
    target_provider: str = "seaweedfs"
    keys: str = "file"  # file | softhsm
    signing: str = "file"  # file (a state-directory key) | softhsm (HDH_HSM_SIGNING_LABEL)
    max_part_size: int = 8 * MIB
    create_bucket: bool | None = None  # None: when the target endpoint is on the loopback
    executor: str | None = None  # --executor: serial|threads|dask|tcp://…|tls://… (every step)


@dataclass
class Derived:
    """The rehearsal plan as data, and what differs from the plan it came from."""

    original: Plan
    data: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)  # "wave switch[0]: sandboxed (reason)"

    @property
    def state_dir(self) -> Path:
        return Path(self.data["state_dir"])


def derive(path: str | Path, options: Options) -> Derived:
    """The rehearsal plan of ``path``. Raises UsageError when a stand-in is missing or
    resolves to one of the plan's own endpoints."""
    original = load_plan(path)
    data = resolve_public(load_document(read_plan_text(Path(path))).data).data
    derived = Derived(original, {})
    endpoint = _target_endpoint(options)
    _refuse_production(original, endpoint, _azure_standin())
    out = derived.data
    out["version"] = 1
    out["name"] = original.name
    out["state_dir"] = str((options.work / "state").absolute())
    out["description"] = f"Rehearsal of {Path(path).name}, derived by hdh-migrate rehearse."
    out["policy"] = _policy(data.get("policy") or {}, derived)
    out["sources"] = {name: _source(name, src) for name, src in data["sources"].items()}
    out["targets"] = {n: _target(t, endpoint, options, derived) for n, t in data["targets"].items()}
    out["keys"] = {n: _key(n, options) for n in data.get("keys") or {}}
    signing = _signing(options, bool(data.get("signing")), derived)
    if signing is not None:
        out["signing"] = signing
    out["defaults"] = _defaults(data.get("defaults") or {}, options, derived)
    out["waves"] = [_wave(w, original, derived) for w in data["waves"]]
    out["executor"] = _executor(data.get("executor") or {}, options.executor, derived)
    if data.get("estimates"):
        out["estimates"] = copy.deepcopy(data["estimates"])
    return derived


def hsm_signing_available() -> bool:
    """True when the environment names a SoftHSM2 signing key (the devstack exports it)."""
    return all(os.environ.get(name) for name in HSM_SIGNING_ENV)


def target_owned(options: Options) -> bool:
    """True when the rehearsal owns the target server: it may create and empty buckets."""
    if options.create_bucket is not None:
        return options.create_bucket
    host = urlsplit(_target_endpoint(options)).hostname or ""
    return is_loopback(host)


def _target_endpoint(options: Options) -> str:
    endpoint = options.target_endpoint or os.environ.get(S3_ENV[0])
    if not endpoint:
        raise UsageError(
            "no stand-in S3 endpoint for the rehearsal targets",
            hint=f"pass --target-endpoint URL or export {S3_ENV[0]} (devstack: eval "
            '"$(python -m devstack env)"; CI: the MinIO service)',
        )
    shown = public_url(endpoint)
    if shown == "(invalid)":
        raise UsageError(
            "--target-endpoint is not an http(s) URL", hint="e.g. http://127.0.0.1:9000"
        )
    return shown


def _azure_standin() -> str:
    connection = os.environ.get(AZURE_ENV)
    if not connection:
        raise UsageError(
            f"no Azure stand-in: {AZURE_ENV} is not set",
            hint="start Azurite (devstack, or the CI pack's service) and export its "
            "connection string",
        )
    endpoint = azure_blob_endpoint(connection)
    host = urlsplit(endpoint).hostname or ""
    if not is_loopback(host):
        raise UsageError(
            f"the Azure stand-in must be a local Azurite, not {endpoint}",
            hint=f"point {AZURE_ENV} at Azurite on 127.0.0.1: a rehearsal seeds and empties "
            "its containers",
        )
    return endpoint


def _refuse_production(plan: Plan, *standins: str) -> None:
    """A plan's own servers are never stand-ins, unless the plan is itself a rehearsal plan
    (``policy.rehearsal: true``: its servers are the local stand-ins)."""
    if plan.policy.rehearsal:
        return
    named = {_host_port(e.url) for e in plan_endpoints(plan) if e.role != "hook"}
    for standin in standins:
        if _host_port(standin) in named:
            raise UsageError(
                f"the stand-in {standin} is one of the plan's own endpoints",
                hint="a rehearsal never touches the servers a plan names: use a local "
                "stand-in (devstack, or MinIO/Azurite in CI)",
            )


def _host_port(url: str) -> tuple[str, int | None] | None:
    try:
        parts = urlsplit(url)
        return (parts.hostname or "", parts.port) if parts.hostname else None
    except ValueError:
        return None


def _policy(policy: dict[str, Any], derived: Derived) -> dict[str, Any]:
    out = copy.deepcopy(policy)
    profile = out.get("profile", "hdh")
    out["profile"], out["rehearsal"] = "rehearsal", True
    if profile != "rehearsal":
        derived.notes.append(
            f"policy: profile {profile} → rehearsal (stand-in servers are not qualified); "
            "allowed regions, severities and other rules kept"
        )
    return out


def container_name(text: str) -> str:
    """An Azure container name made from any name (stand-ins for buckets, paths)."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    name = re.sub(r"-+", "-", name)[:63].strip("-")
    return name if len(name) >= 3 else f"rh-{name}".strip("-").ljust(3, "x")


def _source(name: str, source: dict[str, Any]) -> dict[str, Any]:
    stand_in: dict[str, Any] = {"kind": "azure_blob", "connection_string": f"${{env:{AZURE_ENV}}}"}
    container = source.get("container") or source.get("bucket")
    stand_in["container"] = container_name(str(container)) if container else container_name(name)
    return stand_in


def _target(
    target: dict[str, Any], endpoint: str, options: Options, derived: Derived
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": "s3",
        "provider": options.target_provider,
        "region": target.get("region") or "local",
        "endpoint": endpoint,
        "bucket": target["bucket"],
        "credentials": {
            "access_key": f"${{env:{S3_ENV[1]}}}",
            "secret_key": f"${{env:{S3_ENV[2]}}}",
        },
    }
    if target.get("replicas"):
        out["replicas"] = list(target["replicas"])
    for dropped in ("sse_c_key", "storage_class", "hds"):
        if target.get(dropped) is not None:
            derived.notes.append(f"target {target['bucket']}: {dropped} left out (stand-in server)")
    return out


def _key(name: str, options: Options) -> dict[str, Any]:
    if options.keys == "softhsm":
        missing = [v for v in HSM_ENV if not os.environ.get(v)]
        if missing:
            raise UsageError(
                f"--keys softhsm: {', '.join(missing)} not set",
                hint='eval "$(python -m devstack env)" or use --keys file',
            )
        return {
            "kind": "pkcs11",
            "module": "${env:HDH_HSM_MODULE}",
            "token": "${env:HDH_HSM_TOKEN}",
            "label": "${env:HDH_HSM_KEK_LABEL}",
            "pin": "${env:HDH_HSM_PIN}",
        }
    path = (options.work / "keys" / f"{name}.kek").absolute()
    return {"kind": "file", "path": str(path), "create": True}


def _signing(options: Options, planned: bool, derived: Derived) -> dict[str, Any] | None:
    """The rehearsal's manifest signer: the stand-in HSM's Ed25519 key (``--signing
    softhsm``; the lifecycle creates it when absent and pins its fingerprint), or none: a
    throwaway key in the state directory."""
    if options.signing != "softhsm":
        if planned:
            derived.notes.append("signing: a throwaway Ed25519 key in the state directory")
        return None
    missing = [name for name in HSM_SIGNING_ENV if not os.environ.get(name)]
    if missing:
        raise UsageError(
            f"--signing softhsm: {', '.join(missing)} not set",
            hint='eval "$(python -m devstack env)" or use --signing file',
        )
    derived.notes.append(
        "signing: the stand-in SoftHSM2 token's Ed25519 key $HDH_HSM_SIGNING_LABEL "
        "(non-extractable; created when absent, fingerprint pinned)"
    )
    return {
        "kind": "pkcs11",
        "module": "${env:HDH_HSM_MODULE}",
        "token": "${env:HDH_HSM_TOKEN}",
        "label": "${env:HDH_HSM_SIGNING_LABEL}",
        "pin": "${env:HDH_HSM_PIN}",
    }


def _defaults(defaults: dict[str, Any], options: Options, derived: Derived) -> dict[str, Any]:
    out = copy.deepcopy(defaults)
    part = parse_size(str(out.get("part_size", "16MiB")))
    if part > options.max_part_size:
        out["part_size"] = options.max_part_size
        threshold = parse_size(str(out.get("multipart_threshold", "32MiB")))
        out["multipart_threshold"] = min(threshold, 2 * options.max_part_size)
        derived.notes.append(
            f"defaults: part size {human_size(part)} → {human_size(options.max_part_size)} "
            f"(--max-part-size): the ±1-byte edge objects stay small"
        )
    return out


def _executor(executor: dict[str, Any], override: str | None, derived: Derived) -> dict[str, Any]:
    """The plan's executor, or ``--executor``'s. A Dask cluster stays when its workers run
    on this machine (a local cluster, or a scheduler on the loopback): they read the
    rehearsal's throwaway keys from its work directory. A remote cluster cannot: threads."""
    out = copy.deepcopy(executor)
    if override is not None:
        out = _overridden(out, override)
        derived.notes.append(f"executor: {override} (--executor)")
    if out.get("kind") == "dask" and not _on_this_machine(out.get("scheduler")):
        if override is not None:
            raise UsageError(
                f"--executor {override}: a remote cluster cannot read the rehearsal's"
                " throwaway keys",
                hint="rehearse with --executor dask (a local cluster) or a loopback scheduler",
            )
        derived.notes.append(
            "executor: dask → threads (a remote cluster cannot read the throwaway keys)"
        )
        out = {"kind": "threads", "workers": out.get("workers") or 8}
    return out


def _on_this_machine(scheduler: Any) -> bool:
    return not scheduler or is_loopback(urlsplit(str(scheduler)).hostname or "")


def _overridden(executor: dict[str, Any], override: str) -> dict[str, Any]:
    if override.startswith(("tcp://", "tls://")):
        tls = {"tls": executor["tls"]} if executor.get("tls") else {}
        return {"kind": "dask", "scheduler": override, **tls}
    if override == "dask":
        return {**executor, "kind": "dask"}
    return {"kind": override}


def _wave(wave: dict[str, Any], plan: Plan, derived: Derived) -> dict[str, Any]:
    out = copy.deepcopy(wave)
    out["datasets"] = [_dataset(d) for d in wave["datasets"]]
    if wave.get("cutover"):
        out["cutover"] = _cutover(wave["name"], wave["cutover"], plan, derived)
    return out


def _dataset(dataset: dict[str, Any]) -> dict[str, Any]:
    """The dataset as written; its container, bucket or directory becomes a container."""
    out = copy.deepcopy(dataset)
    locations = [out.pop(field, None) for field in ("container", "bucket", "path")]
    location = next((str(where) for where in locations if where), None)
    if location:
        out["container"] = container_name(location)
    return out


def _cutover(wave: str, cutover: dict[str, Any], plan: Plan, derived: Derived) -> dict[str, Any]:
    out = copy.deepcopy(cutover)
    gates = out.get("gates") or {}
    if gates.get("window"):
        derived.notes.append(
            f"{wave}: gate window {gates.pop('window')!r} not checked (a rehearsal runs now); "
            "every other gate kept"
        )
    freeze = out.get("freeze") or {}
    for hook_name in ("hook", "unfreeze"):
        if freeze.get(hook_name):
            freeze[hook_name] = _sandboxed(
                wave, f"freeze.{hook_name}", freeze[hook_name], plan, derived
            )
    for step in ("switch", "rollback"):
        out[step] = [
            _sandboxed(wave, f"{step}[{i}]", h, plan, derived)
            for i, h in enumerate(out.get(step) or [])
        ]
    return out


def _sandboxed(
    wave: str, label: str, hook: dict[str, Any], plan: Plan, derived: Derived
) -> dict[str, Any]:
    """The plan's own rehearsal hooks on the loopback run as written; any other hook is
    replaced by a recorder (the original command is never run) on the local sshd when the
    devstack exports one, else locally."""
    ssh = hook.get("ssh") or {}
    host = str(ssh.get("host", ""))
    if plan.policy.rehearsal and (not ssh or (is_loopback(host) and not host.startswith("$"))):
        derived.hooks.append(f"{wave} {label}: run as written (a rehearsal plan's local hook)")
        return copy.deepcopy(hook)
    record = (
        f"printf '%s %s %s %s\\n' {shlex.quote(label)} \"$HDH_WAVE\" "
        f'"$HDH_TARGET_ENDPOINT" "$HDH_TARGET_BUCKET"'
    )
    out: dict[str, Any] = {"timeout": hook.get("timeout", 60)}
    if all(os.environ.get(v) for v in SSHD_ENV):
        out["run"] = f'{record} >> "$HOME/{HOOK_LOG}"'
        out["ssh"] = {
            "host": "${env:HDH_SFTP_HOST}",
            "port": "${env:HDH_SFTP_PORT}",
            "user": "${env:HDH_SFTP_USER}",
            "key_file": "${env:HDH_SFTP_KEY}",
            "known_hosts": "${env:HDH_SFTP_KNOWN_HOSTS}",
        }
        where = "recorded over SSH on the local sshd"
    else:
        log = (Path(derived.data.get("state_dir") or ".").parent / HOOK_LOG).absolute()
        out["run"] = f"{record} >> {shlex.quote(str(log))}"
        where = "recorded locally (no local sshd: HDH_SFTP_* unset)"
    original = " ".join(str(hook.get("run", "")).split())[:120]
    derived.hooks.append(f"{wave} {label}: sandboxed, {where}; not run: {original}")
    return out

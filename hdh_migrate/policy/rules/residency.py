"""Where data and technical data go: SOV-01 (EU / France), SOV-05 (transit), SOV-16."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from hdh_migrate.plan.loader import DataPath
from hdh_migrate.plan.types import is_loopback
from hdh_migrate.policy.context import PolicyInput
from hdh_migrate.policy.registry import Raised, rule
from hdh_migrate.policy.targets import TargetFacts

PROXY_VARIABLES = (
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "HTTP_PROXY",
    "http_proxy",
)
NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "fuse.sshfs",
        "fuse.s3fs",
        "fuse.rclone",
        "fuse.gcsfuse",
        "fuse.blobfuse",
        "9p",
        "ceph",
        "glusterfs",
        "davfs",
        "fuse.davfs2",
    }
)
SYNCED_FOLDERS = ("onedrive", "dropbox", "google drive", "googledrive", "icloud", "box sync")


@rule(
    "SOV-01",
    "data stays in the EU (HDH: France)",
    "block",
    "every target region is in the EU (France under profile hdh) and in "
    "policy.allowed_regions when given; non-EU regions and hosts are refused",
)
def data_in_eu(inp: PolicyInput) -> Iterator[Raised]:
    for facts in inp.targets():
        yield from region_problems(inp, facts, ("targets", facts.name, "region"))


def region_problems(inp: PolicyInput, facts: TargetFacts, path: DataPath) -> Iterator[Raised]:
    """SOV-01 for one target (also used by SOV-04 for replicas)."""
    allowed = inp.plan.policy.allowed_regions
    name = facts.target.region
    fix = "choose a region in France of a qualified offering (see `hdh-migrate providers`)"
    if allowed and name not in allowed:
        yield Raised(
            path,
            f"region {name!r} is not in policy.allowed_regions {allowed}",
            "use an allowed region or extend policy.allowed_regions",
            facts.name,
        )
        return
    if inp.exempt(facts):
        return
    why = _outside(inp, facts)
    if why:
        yield Raised(path, why, fix, facts.name)


def _outside(inp: PolicyInput, facts: TargetFacts) -> str | None:
    region, name = facts.region, facts.target.region
    if region is None:
        return f"region {name!r} is unknown to preset {facts.target.provider!r}: location unknown"
    if region.country == "ZZ":
        return f"region {name!r} of preset {facts.target.provider!r} has no known location"
    if not region.eu:
        return f"region {name!r} is in {region.location} ({region.country}), outside the EU"
    if facts.host and facts.host.endswith(".ovh.us"):
        return f"endpoint host {facts.host} is operated by OVHcloud US, outside the EU"
    countries = inp.profile.countries
    if countries is not None and region.country not in countries:
        allowed = ", ".join(sorted(countries))
        return (
            f"region {name!r} is in {region.location} ({region.country}); profile "
            f"{inp.profile.name} keeps data in {allowed}"
        )
    return None


@rule(
    "SOV-05",
    "no transit outside the EEA",
    "block",
    "every target endpoint is a known host of an EU offering of its preset (loopback only "
    "for rehearsal targets); proxies and remote workers are reported",
)
def transit_in_eea(inp: PolicyInput) -> Iterator[Raised]:
    for facts in inp.targets():
        yield from _endpoint_problems(inp, facts)
        yield from _proxy_notices(inp, facts)
    address = inp.plan.executor.scheduler
    if inp.plan.executor.kind == "dask" and address and not _loopback_address(address):
        yield Raised(
            ("executor", "scheduler"),
            f"plaintext passes through Dask workers reached at {_host_of(address)}",
            "run the workers on EU hosts you control and say so in the runbook",
            "executor",
            severity="warn",
        )


def _endpoint_problems(inp: PolicyInput, facts: TargetFacts) -> Iterator[Raised]:
    path = ("targets", facts.name, "endpoint" if facts.explicit_endpoint else "provider")
    if facts.host is None or facts.preset is None:
        yield Raised(
            path,
            "no endpoint can be built for this target",
            "fix provider/region or give an endpoint",
            facts.name,
        )
        return
    if inp.exempt(facts):
        return
    if is_loopback(facts.host):
        yield Raised(
            path,
            f"loopback endpoint {facts.host}: the traffic's real exit (a tunnel "
            "or proxy) is unknown",
            "use the provider's own https endpoint",
            facts.name,
        )
        return
    offerings = facts.preset.offerings_for_host(facts.host)
    if not offerings:
        yield Raised(
            path,
            f"host {facts.host} is not a known endpoint of preset {facts.preset.name!r}",
            "use the preset's endpoint (omit endpoint:)",
            facts.name,
        )
        return
    eu = {r for r in facts.preset.regions.values() if r.eu}
    if not any(set(o.regions) & {r.name for r in eu} for o in offerings):
        yield Raised(
            path,
            f"host {facts.host} serves only non-EU regions",
            "use an endpoint in France",
            facts.name,
        )


def _proxy_notices(inp: PolicyInput, facts: TargetFacts) -> Iterator[Raised]:
    if facts.host is None or is_loopback(facts.host) or _no_proxy(inp, facts.host):
        return
    for variable in PROXY_VARIABLES:
        value = inp.environ.get(variable)
        if value:
            yield Raised(
                ("targets", facts.name),
                f"traffic to {facts.host} goes through proxy {_host_of(value)} (${variable})",
                "confirm the proxy runs in the EEA, or add the host to NO_PROXY",
                facts.name,
                severity="warn",
                at_key=True,
            )
            return


def _no_proxy(inp: PolicyInput, host: str) -> bool:
    value = inp.environ.get("NO_PROXY") or inp.environ.get("no_proxy") or ""
    entries = [e.strip().lstrip(".").lower() for e in value.split(",") if e.strip()]
    return "*" in entries or any(host == e or host.endswith("." + e) for e in entries)


def _host_of(address: str) -> str:
    """The host of a URL or ``host:port``, without user info (never a password)."""
    parsed = urlsplit(address if "://" in address else f"//{address}")
    return parsed.hostname or "?"


def _loopback_address(address: str) -> bool:
    return is_loopback(_host_of(address))


@rule(
    "SOV-16",
    "technical data stays in the EU",
    "block",
    "the state directory (journal, manifest, probe cache) is not in a cloud-synced folder "
    "(block) nor on a network file system (warn); remote workers are reported",
)
def technical_data(inp: PolicyInput) -> Iterator[Raised]:
    state = Path(inp.plan.state_path)
    path = ("state_dir",) if inp.plan.state_dir else ("name",)
    lowered = str(state.expanduser()).lower()
    synced = next((s for s in SYNCED_FOLDERS if s in lowered), None)
    if synced:
        yield Raised(
            path,
            f"state directory {state} is inside a {synced} folder: the journal "
            "and manifest would be copied to a third-party cloud",
            "put state_dir on local disk under your control",
        )
    fstype = filesystem_type(state)
    if fstype in NETWORK_FILESYSTEMS:
        yield Raised(
            path,
            f"state directory {state} is on a network file system ({fstype})",
            "confirm that storage is customer-controlled and in the EU",
            severity="warn",
        )
    address = inp.plan.executor.scheduler
    if inp.plan.executor.kind == "dask" and address and not _loopback_address(address):
        yield Raised(
            ("executor", "scheduler"),
            "Dask workers receive credentials (as references they resolve) and plaintext",
            "run the workers on EU hosts you control",
            "executor",
            severity="warn",
        )


def filesystem_type(path: Path, mounts: Path = Path("/proc/mounts")) -> str | None:
    """The file system type of the closest existing ancestor of ``path`` (read-only)."""
    try:
        lines = mounts.read_text("utf-8").splitlines()
    except OSError:
        return None
    target = path.expanduser().absolute()
    while not target.exists() and target != target.parent:
        target = target.parent
    best: tuple[int, str] | None = None
    for line in lines:
        fields = line.split()
        longer = best is None or (len(fields) >= 3 and len(fields[1]) > best[0])
        if len(fields) >= 3 and longer and _under(target, fields[1]):
            best = (len(fields[1]), fields[2])
    return best[1] if best else None


def _under(path: Path, mount: str) -> bool:
    return path == Path(mount) or Path(mount) in path.parents

"""Checks across a typed plan: names that must exist, names that must be unique, wave
dependencies, provider presets and regions, and combinations of fields.

Each check returns ``Issue``s (errors and warnings) with the document path at fault.
Policy (is this target sovereign?) is not judged here: ``hdh-migrate audit`` does that.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit

from hdh_migrate.plan.field_rules import (
    check_cutover,
    check_dataset_location,
    check_preset,
    check_s3_auth,
    check_source,
    check_tls,
)
from hdh_migrate.plan.issues import Issue, choice_hint
from hdh_migrate.plan.keys import FileKey
from hdh_migrate.plan.model import Plan
from hdh_migrate.plan.targets import S3Target
from hdh_migrate.plan.types import is_loopback

MIN_PART_SIZE = 5 * 1024**2
MIN_BUFFER_MEMORY = 16 * 1024**2
MAX_CIRCUIT_OPEN_AFTER = 3600


def check_references(plan: Plan) -> list[Issue]:
    """Every cross-reference and combination issue of the plan, errors and warnings."""
    return [
        *_datasets(plan),
        *_unique_names(plan),
        *_dependencies(plan),
        *_targets(plan),
        *_sources(plan),
        *_keys(plan),
        *_waves(plan),
        *_settings(plan),
    ]


def _ref(
    names: Iterable[str], name: str | None, path: tuple[str | int, ...], what: str
) -> Iterator[Issue]:
    names = list(names)
    if name is not None and name not in names:
        yield Issue(path, f"no {what} named {name!r}", choice_hint(name, names, f"defined {what}s"))


def _datasets(plan: Plan) -> Iterator[Issue]:
    for w, wave in enumerate(plan.waves):
        for d, dataset in enumerate(wave.datasets):
            at = ("waves", w, "datasets", d)
            yield from _ref(plan.sources, dataset.source, (*at, "source"), "source")
            yield from _ref(plan.targets, dataset.target, (*at, "target"), "target")
            yield from _ref(plan.keys, dataset.key, (*at, "key"), "key")
            source = plan.sources.get(dataset.source)
            if source is not None:
                yield from check_dataset_location(source, dataset, at)
            if dataset.key is None and plan.defaults.key is None:
                yield Issue(
                    (*at, "key"),
                    "no key: objects would be stored without client-side encryption",
                    "set key: here or defaults.key (policy SOV-08/SOV-09 judge this at audit)",
                    severity="warning",
                )


def _unique_names(plan: Plan) -> Iterator[Issue]:
    seen_waves: dict[str, int] = {}
    seen_datasets: dict[str, str] = {}
    for w, wave in enumerate(plan.waves):
        if wave.name in seen_waves:
            first = seen_waves[wave.name]
            yield Issue(
                ("waves", w, "name"),
                f"duplicate wave name {wave.name!r}",
                f"already used by waves[{first}]: wave names must be unique",
            )
        seen_waves.setdefault(wave.name, w)
        for d, dataset in enumerate(wave.datasets):
            where = f"waves[{w}].datasets[{d}]"
            if dataset.name in seen_datasets:
                yield Issue(
                    ("waves", w, "datasets", d, "name"),
                    f"duplicate dataset name {dataset.name!r}",
                    f"already used by {seen_datasets[dataset.name]}: dataset names "
                    "must be unique across the plan",
                )
            seen_datasets.setdefault(dataset.name, where)


def _dependencies(plan: Plan) -> Iterator[Issue]:
    names = [wave.name for wave in plan.waves]
    uncut = {wave.name for wave in plan.waves if wave.cutover is None}
    for w, wave in enumerate(plan.waves):
        for i, dep in enumerate(wave.depends_on):
            path = ("waves", w, "depends_on", i)
            if dep == wave.name:
                yield Issue(path, "a wave cannot depend on itself", "remove this entry")
            elif dep not in names:
                yield Issue(path, f"no wave named {dep!r}", choice_hint(dep, names, "waves"))
            elif dep in uncut:
                yield Issue(
                    path,
                    f"wave {dep!r} has no cutover section: it can never be finalized, so "
                    f"the cutover of wave {wave.name!r} would always be refused",
                    f"add a cutover: section to wave {dep!r}, or remove {dep!r} from depends_on",
                )
    yield from _cycles(plan)


def _cycles(plan: Plan) -> Iterator[Issue]:
    graph = {wave.name: [d for d in wave.depends_on if d != wave.name] for wave in plan.waves}
    reported: set[frozenset[str]] = set()
    for w, wave in enumerate(plan.waves):
        cycle = _cycle_from(wave.name, graph)
        if cycle and frozenset(cycle) not in reported:
            reported.add(frozenset(cycle))
            yield Issue(
                ("waves", w, "depends_on"),
                "depends_on cycle: " + " → ".join(cycle),
                "waves must form an order: remove one dependency of the cycle",
            )


def _cycle_from(start: str, graph: dict[str, list[str]]) -> list[str] | None:
    """The first dependency cycle through ``start`` (as a closed list of names), if any."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    visited: set[str] = set()
    while stack:
        node, trail = stack.pop()
        for dep in graph.get(node, []):
            if dep == start:
                return [*trail, start]
            if dep not in visited:
                visited.add(dep)
                stack.append((dep, [*trail, dep]))
    return None


def _targets(plan: Plan) -> Iterator[Issue]:
    for name, target in plan.targets.items():
        at = ("targets", name)
        if isinstance(target, S3Target):
            yield from _s3_target(plan, name, target, at)
        elif plan.policy.profile != "rehearsal":
            yield Issue(
                (*at, "kind"),
                f"a {target.kind} target is for rehearsals only",
                "write to an S3 target, or set policy.profile: rehearsal "
                "(with rehearsal: true) in a plan that never sees real data",
            )


def _s3_target(
    plan: Plan, name: str, target: S3Target, at: tuple[str | int, ...]
) -> Iterator[Issue]:
    yield from check_preset(
        target.provider,
        target.region,
        target.endpoint,
        at,
        namespace=target.namespace,
        rehearsal=plan.policy.rehearsal,
    )
    for i, replica in enumerate(target.replicas):
        yield from _ref(plan.targets, replica, (*at, "replicas", i), "target")
        if replica == name:
            yield Issue((*at, "replicas", i), "a target cannot be its own replica",
                        "name another target, or remove this entry")  # fmt: skip
    if target.sse_c_key is not None and _is_kek_material(plan, str(target.sse_c_key)):
        yield Issue(
            (*at, "sse_c_key"),
            "the SSE-C key is one of the plan's key-encryption keys",
            "SSE-C keys travel to the provider with every request: give it its own "
            "secret, never a KEK",
        )
    if not target.verify_tls:
        yield Issue(
            (*at, "verify_tls"),
            "TLS certificate verification is off",
            "policy SOV-07 blocks this outside rehearsals",
            severity="warning",
        )
    yield from check_tls(target.ca_bundle, target.verify_tls, target.endpoint, at)
    yield from check_s3_auth(target.auth, target.credentials, at)


def _is_kek_material(plan: Plan, reference: str) -> bool:
    """True when ``reference`` names the same secret as a file key's ``ref`` or ``path``."""
    for key in plan.keys.values():
        if isinstance(key, FileKey):
            names = {str(key.ref) if key.ref else None, key.path, f"${{file:{key.path}}}"}
            if reference in names:
                return True
    return False


def _sources(plan: Plan) -> Iterator[Issue]:
    for name, source in plan.sources.items():
        yield from check_source(source, ("sources", name), rehearsal=plan.policy.rehearsal)


def _keys(plan: Plan) -> Iterator[Issue]:
    yield from _ref(plan.keys, plan.defaults.key, ("defaults", "key"), "key")
    for name, key in plan.keys.items():
        if isinstance(key, FileKey):
            yield from _file_key(key, ("keys", name))


def _file_key(key: FileKey, at: tuple[str | int, ...]) -> Iterator[Issue]:
    if (key.path is None) == (key.ref is None):
        yield Issue(
            at,
            "a file key needs exactly one of path and ref",
            "path: /etc/hdh/kek.key (a key file) or ref: ${env:NAME} (the key, base64)",
        )
    if key.create and key.path is None and key.ref is not None:
        yield Issue(
            (*at, "create"),
            "create needs a path to write the new key to",
            "set path: or remove create:",
        )


def _waves(plan: Plan) -> Iterator[Issue]:
    for w, wave in enumerate(plan.waves):
        if wave.cutover is not None:
            yield from check_cutover(wave.cutover, ("waves", w, "cutover"))


def _settings(plan: Plan) -> Iterator[Issue]:
    if plan.defaults.part_size < MIN_PART_SIZE:
        yield Issue(
            ("defaults", "part_size"),
            "part_size below 5MiB",
            "S3 refuses parts under 5 MiB (except the last): use 5MiB or more",
        )
    if plan.defaults.circuit_open_after > MAX_CIRCUIT_OPEN_AFTER:
        yield Issue(
            ("defaults", "circuit_open_after"),
            "circuit_open_after above 1h",
            "a dead endpoint would hold the run that long before exit 8: use 1h or less",
        )
    if plan.defaults.buffer_memory < MIN_BUFFER_MEMORY:
        yield Issue(
            ("defaults", "buffer_memory"),
            "buffer_memory below 16MiB",
            "a copy holds its read-ahead and at least one part: use 16MiB or more (default 160MiB)",
        )
    yield from _executor(plan)
    yield from _policy(plan)


def _executor(plan: Plan) -> Iterator[Issue]:
    executor, at = plan.executor, ("executor", "scheduler")
    if executor.scheduler is None:
        return
    if executor.kind != "dask":
        yield Issue(at, "scheduler applies to the dask executor only", "set kind: dask")
        return
    parts = urlsplit(
        executor.scheduler if "://" in executor.scheduler else f"tcp://{executor.scheduler}"
    )
    if parts.scheme not in ("tcp", "tls") or not parts.hostname:
        yield Issue(at, "expected a Dask scheduler address such as tls://host:8786")
    elif parts.scheme == "tcp" and not is_loopback(parts.hostname) and not executor.allow_insecure:
        yield Issue(
            at,
            "a remote Dask scheduler without TLS",
            "use tls://… with executor.tls, or set allow_insecure: true",
        )
    elif parts.scheme == "tls" and executor.tls is None:
        yield Issue(
            ("executor",),
            "a tls:// address needs executor.tls",
            "add tls: {ca_file, cert_file, key_file}",
        )


def _policy(plan: Plan) -> Iterator[Issue]:
    policy = plan.policy
    if policy.rehearsal:
        yield Issue(
            ("policy", "rehearsal"),
            "rehearsal plan: nothing here is sovereign",
            "never point a rehearsal plan at real health data",
            severity="warning",
        )
    if policy.profile == "rehearsal" and not policy.rehearsal:
        yield Issue(
            ("policy", "profile"),
            "profile rehearsal without rehearsal: true",
            "add rehearsal: true so every report says so",
            severity="warning",
        )
    if not policy.require_client_side_encryption:
        yield Issue(
            ("policy", "require_client_side_encryption"),
            "client-side encryption is not required",
            "the hdh profile blocks this at audit (SOV-09)",
            severity="warning",
        )

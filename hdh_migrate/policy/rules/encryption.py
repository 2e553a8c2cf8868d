"""Encryption: SOV-07 (in transit), SOV-08 (at rest), SOV-09 (keys held by the customer)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from hdh_migrate.backends.azure_connection import blob_endpoint
from hdh_migrate.errors import HdhError
from hdh_migrate.plan import S3Target
from hdh_migrate.plan.loader import DataPath
from hdh_migrate.plan.types import is_loopback
from hdh_migrate.policy.context import PolicyInput
from hdh_migrate.policy.registry import Raised, rule
from hdh_migrate.policy.targets import TargetFacts

TLS_FIX = "remove verify_tls: false (give the service's CA with ca_bundle: instead)"


@rule(
    "SOV-07",
    "encryption in transit",
    "block",
    "targets and sources use https:// with TLS verification on; a rehearsal target on "
    "loopback may use http:// or skip verification (warn); a remote Dask scheduler needs "
    "TLS",
)
def in_transit(inp: PolicyInput) -> Iterator[Raised]:
    for facts in inp.targets():
        yield from _target_transit(inp, facts)
    for name, source in inp.plan.sources.items():
        yield from _source_transit(inp, name, source)
    yield from _executor_transit(inp)


def _target_transit(inp: PolicyInput, facts: TargetFacts) -> Iterator[Raised]:
    base = ("targets", facts.name)
    exempt = inp.exempt(facts)
    if facts.scheme == "http":
        why = f"plain http:// to {facts.host}: data and credentials travel unencrypted"
        yield _maybe_exempt(exempt, (*base, "endpoint"), why, "use https://", facts.name)
    if not facts.target.verify_tls:
        why = "TLS certificate verification is off: anyone on the path can read or alter data"
        yield _maybe_exempt(exempt, (*base, "verify_tls"), why, TLS_FIX, facts.name)


def _maybe_exempt(exempt: bool, path: DataPath, why: str, fix: str, subject: str) -> Raised:
    if exempt:
        return Raised(
            path,
            f"REHEARSAL: {why} (accepted on a local rehearsal target)",
            "nothing to do for a rehearsal",
            subject,
            severity="warn",
        )
    return Raised(path, why, fix, subject)


def _source_url(source: object) -> tuple[str | None, str]:
    """The URL the source's backend will talk to, and the field it is spelled in: a
    connection string is parsed as the backend parses it (``azure_connection``)."""
    for field in ("account_url", "endpoint"):
        if getattr(source, field, None):
            return str(getattr(source, field)), field
    connection = getattr(source, "connection_string", None)
    if connection is None:
        return None, ""
    try:
        return blob_endpoint(connection.reveal()), "connection_string"
    except (HdhError, ValueError):
        return None, "connection_string"  # unresolvable here: the run's backend checks it


def _source_transit(inp: PolicyInput, name: str, source: object) -> Iterator[Raised]:
    base = ("sources", name)
    url, field = _source_url(source)
    if url and urlsplit(url).scheme.lower() == "http":
        host = urlsplit(url).hostname or "?"
        why = f"plain http:// to source {host}: data travels unencrypted"
        local = is_loopback(host) and inp.exempts_local
        yield _maybe_exempt(local, (*base, field), why, "use https://", name)
    if getattr(source, "verify_tls", True) is False:
        yield Raised(
            (*base, "verify_tls"),
            "TLS certificate verification of the source is off",
            TLS_FIX,
            name,
        )


def _executor_transit(inp: PolicyInput) -> Iterator[Raised]:
    executor = inp.plan.executor
    address = executor.scheduler
    if executor.kind != "dask" or not address or address.startswith("tls://"):
        return
    host = urlsplit(address if "://" in address else f"//{address}").hostname or "?"
    if not is_loopback(host):  # tcp:// stays plaintext even when executor.tls names certs
        yield Raised(
            ("executor", "scheduler"),
            f"Dask scheduler {host} is reached over tcp:// without TLS: "
            "work units and results cross the network in clear, and anyone who reaches "
            "the port runs code on the workers",
            "use tls://HOST:PORT with executor.tls {ca_file, cert_file, key_file} "
            "(distributed.security.Security certificates); tcp:// only on loopback",
            "executor",
        )


@rule(
    "SOV-08",
    "encryption at rest",
    "block",
    "each dataset is encrypted client-side (HDH1 under a plan key) or its target has an "
    "SSE-C key that the cached probe found enforced",
)
def at_rest(inp: PolicyInput) -> Iterator[Raised]:
    for eff, path in inp.datasets():
        if eff.key is not None:
            continue
        target = eff.dataset.target
        if not isinstance(eff.target, S3Target) or eff.target.sse_c_key is None:
            yield Raised(
                path,
                "neither client-side encryption (no key) nor SSE-C: objects are stored as sent",
                "set defaults.key (or the dataset's key) to a customer-held key",
                eff.name,
            )
            continue
        probe = inp.probes.get(target)
        state = probe.sse_c if probe else "never probed"
        if state != "enforced":
            yield Raised(
                path,
                f"SSE-C on target {target!r} is not confirmed by the probe ({state})",
                f"run `hdh-migrate probe` for {target!r}, or encrypt client-side",
                eff.name,
            )


@rule(
    "SOV-09",
    "keys not held by the provider",
    "warn",
    "each dataset is encrypted client-side under a customer-held key (file or PKCS#11); "
    "blocking under profile hdh or when policy.require_client_side_encryption is set",
)
def customer_keys(inp: PolicyInput) -> Iterator[Raised]:
    for eff, path in inp.datasets():
        if eff.key is None:
            yield Raised(
                path,
                "no client-side encryption: whoever holds the provider's keys can read the data",
                "add a key under keys: (file or pkcs11) and set defaults.key",
                eff.name,
            )
    for name, key in inp.plan.keys.items():
        if getattr(key, "create", False) and not inp.rehearsal:
            yield Raised(
                ("keys", name, "create"),
                "the tool would generate this key itself: "
                "a production key must come from the key custodian",
                "remove create: true and provision the key beforehand",
                name,
                severity="warn",
            )

"""Who runs the target service: SOV-02 (qualified), SOV-03 (immune to extra-EU law),
SOV-04 (replicas follow the same rules), SOV-06 (HDS certificate)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from hdh_migrate.plan.loader import DataPath
from hdh_migrate.policy.context import PolicyInput
from hdh_migrate.policy.registry import Raised, rule
from hdh_migrate.policy.rules.residency import region_problems
from hdh_migrate.policy.targets import TargetFacts
from hdh_migrate.providers import is_qualified
from hdh_migrate.providers.models import add_years
from hdh_migrate.providers.qualification import MAX_EVIDENCE_YEARS

EXPIRY_NOTICE = timedelta(days=180)
REHEARSAL_FIX = "nothing to do for a rehearsal; a production plan needs a qualified target"


@rule(
    "SOV-02",
    "target service is SecNumCloud-qualified",
    "block",
    "(preset, offering, host pattern, region) is qualified in the registry with evidence at "
    "most 3 years old on the audit date; rehearsal targets are exempt (warn) only in a plan "
    "with profile rehearsal and rehearsal: true",
)
def qualified(inp: PolicyInput) -> Iterator[Raised]:
    for facts in inp.targets():
        yield from _overlaid(inp, facts)
        yield from qualification_problems(inp, facts, _service_path(facts))
        yield from _expiry_notice(inp, facts)


def _overlaid(inp: PolicyInput, facts: TargetFacts) -> Iterator[Raised]:
    """Say which facts came from an evidence overlay (info), or that it expired (block)."""
    if facts.preset is None or facts.offering is None:
        return
    fact = inp.overlay.fact(facts.preset.name, facts.offering.name)
    if fact is None:
        return
    entry = fact.entry
    origin = (
        f"qualification of offering {entry.offering!r} from the evidence overlay {fact.file}: "
        f"{entry.status}, {entry.evidence} ({entry.evidence_date}), recorded by "
        f"{entry.recorded_by} on {entry.recorded_on}; sources: {', '.join(entry.sources)}"
    )
    if fact.expired(inp.today):
        yield Raised(
            ("targets", facts.name, "region"),
            f"{origin} — expired on {entry.expires}",
            f"check the evidence again and record it with a new date in {fact.file}",
            facts.name,
        )
        return
    yield Raised(
        ("targets", facts.name, "region"),
        origin,
        "keep the overlay current; it counts only while dated within the policy",
        facts.name,
        severity="info",
    )


def _service_path(facts: TargetFacts) -> DataPath:
    never = facts.preset is None or facts.preset.rehearsal_only or not facts.preset.offerings
    return ("targets", facts.name, "provider" if never else "region")


def qualification_problems(
    inp: PolicyInput, facts: TargetFacts, path: DataPath
) -> Iterator[Raised]:
    """SOV-02 for one target (also used by SOV-04 for replicas)."""
    if facts.preset is None:
        yield Raised(
            path,
            f"unknown provider preset {facts.target.provider!r}",
            "use a preset listed by `hdh-migrate providers`",
            facts.name,
        )
        return
    host = facts.url if facts.explicit_endpoint else None
    ok, reason = is_qualified(facts.preset, facts.target.region, host, inp.today)
    if ok:
        return
    if inp.exempt(facts):
        yield Raised(path, f"REHEARSAL: {reason}", REHEARSAL_FIX, facts.name, severity="warn")
        return
    yield Raised(
        path,
        reason,
        "use a qualified offering (e.g. provider s3ns, region "
        "u-france-east1) or record fresh evidence in presets.yaml",
        facts.name,
    )


def _expiry_notice(inp: PolicyInput, facts: TargetFacts) -> Iterator[Raised]:
    offering = facts.offering
    if offering is None or offering.qualification.evidence_date is None:
        return
    expires = add_years(offering.qualification.evidence_date, MAX_EVIDENCE_YEARS)
    if inp.today <= expires <= inp.today + EXPIRY_NOTICE:
        yield Raised(
            ("targets", facts.name, "region"),
            f"qualification evidence of {offering.name!r} stops counting on {expires}",
            "check ANSSI's list and update the evidence date in presets.yaml",
            facts.name,
            severity="warn",
        )


@rule(
    "SOV-03",
    "provider immune to extra-EU law",
    "block",
    "the offering's registry attestation extra_eu_law_immune is true (SecNumCloud §19.6)",
)
def immune(inp: PolicyInput) -> Iterator[Raised]:
    for facts in inp.targets():
        offering = facts.offering
        value = offering.qualification.extra_eu_law_immune if offering else None
        if value is True:
            continue
        what = "not attested" if value is None else "false"
        name = offering.name if offering else f"{facts.target.provider}/{facts.target.region}"
        why = f"immunity to extra-EU law of {name!r} is {what} in the registry"
        path = ("targets", facts.name, "provider")
        if inp.exempt(facts):
            yield Raised(path, f"REHEARSAL: {why}", REHEARSAL_FIX, facts.name, severity="warn")
        else:
            yield Raised(
                path,
                why,
                "use an offering whose SecNumCloud 3.2 qualification "
                "(§19.6) is recorded in the registry",
                facts.name,
            )


@rule(
    "SOV-04",
    "replicas and backups follow the same rules",
    "block",
    "every target listed in a target's replicas passes SOV-01 and SOV-02",
)
def replicas(inp: PolicyInput) -> Iterator[Raised]:
    for facts in inp.targets():
        for index, name in enumerate(facts.target.replicas):
            path = ("targets", facts.name, "replicas", index)
            if name not in inp.plan.targets:
                yield Raised(
                    path,
                    f"replica {name!r} is not a target of this plan",
                    "declare it under targets",
                    facts.name,
                )
                continue
            replica = inp.target(name)
            if replica is None:  # a rehearsal's memory or local target: no S3 facts
                continue
            problems = [
                *region_problems(inp, replica, path),
                *qualification_problems(inp, replica, path),
            ]
            for problem in problems:
                if problem.severity is None:
                    yield Raised(path, f"replica {name!r}: {problem.why}", problem.fix, facts.name)


@rule(
    "SOV-06",
    "HDS certification covers the target service",
    "block",
    "each target used by a dataset holds hds: reference, issued, expires, with the audit "
    "date between issued and expires",
)
def hds(inp: PolicyInput) -> Iterator[Raised]:
    used = {ds.target for _, ds in inp.plan.iter_datasets()}
    for facts in inp.targets():
        if facts.name in used:
            yield from _hds_problems(inp, facts)


def _hds_problems(inp: PolicyInput, facts: TargetFacts) -> Iterator[Raised]:
    cert, base = facts.target.hds, ("targets", facts.name)
    fix = "record the HDS certificate: hds: {reference:, issued:, expires:, scope:}"
    if cert is None:
        why = "no HDS certificate is recorded for this target"
        if inp.exempt(facts):
            yield Raised(base, f"REHEARSAL: {why}", REHEARSAL_FIX, facts.name, "warn", True)
        else:
            yield Raised(base, why, fix, facts.name, at_key=True)
        return
    if cert.issued > inp.today:
        yield Raised(
            (*base, "hds", "issued"),
            f"HDS certificate {cert.reference} is issued on {cert.issued}, after the audit date",
            fix,
            facts.name,
        )
    if cert.expires < inp.today:
        yield Raised(
            (*base, "hds", "expires"),
            f"HDS certificate {cert.reference} expired on {cert.expires}",
            "renew it and record the new certificate",
            facts.name,
        )
    elif cert.expires <= inp.today + EXPIRY_NOTICE:
        yield Raised(
            (*base, "hds", "expires"),
            f"HDS certificate {cert.reference} expires on {cert.expires}",
            "plan its renewal",
            facts.name,
            severity="warn",
        )

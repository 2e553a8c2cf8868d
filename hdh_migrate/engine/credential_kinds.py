"""Which kind of credential each endpoint of a plan uses, in words, for the audit's notes.

Read from the plan only (plus a SAS's ``se=`` when its reference resolves): nothing is
contacted and no secret is shown. Long-lived shared keys on a source are named as such.
"""

from __future__ import annotations

from collections.abc import Iterator

from hdh_migrate.backends.sas import sas_expiry
from hdh_migrate.errors import HdhError
from hdh_migrate.plan import AzureBlobSource, Plan, S3Source, S3Target, Target

SHARED_KEY = "a long-lived shared key: prefer an Entra ID identity (docs/credentials.md)"
_ENTRA = {
    "default": "Entra ID, default identity chain (tokens renewed)",
    "managed_identity": "Entra ID managed identity (tokens renewed)",
    "service_principal": "Entra ID service principal (tokens renewed)",
}
_S3 = {
    "static": "static access keys",
    "profile": "AWS profile {profile} (renewed when temporary)",
    "default": "AWS default credential chain (renewed when temporary)",
}


def credential_notes(plan: Plan) -> list[str]:
    """One note per source and target: ``credentials: source 'azure': …``."""
    return [f"credentials: {line}" for line in _lines(plan)]


def _lines(plan: Plan) -> Iterator[str]:
    for name, source in plan.sources.items():
        if isinstance(source, AzureBlobSource | S3Source):
            yield f"source {name!r}: {describe_source(source)}"
    for name, target in plan.targets.items():
        yield f"target {name!r}: {describe_target(target)}"


def describe_source(source: object) -> str:
    """The credential kind of a source, in words ('' for sources without one)."""
    if isinstance(source, AzureBlobSource):
        return _azure(source)
    if isinstance(source, S3Source):
        return _s3(source)
    return "local files" if getattr(source, "kind", "") == "local" else "SSH key or password"


def describe_target(target: Target) -> str:
    """The credential kind of a target, in words."""
    if not isinstance(target, S3Target):
        return (
            "none (rehearsal target in this process)" if target.kind == "memory" else "local files"
        )
    return _s3(target)


def _azure(source: AzureBlobSource) -> str:
    kind = source.auth.kind if source.auth is not None else None
    if source.auth is not None and kind in _ENTRA:
        ids = [
            f"{name} {getattr(source.auth, name)}"
            for name in ("client_id", "tenant_id")
            if getattr(source.auth, name)
        ]  # the principal as the plan names it (ids are not secrets)
        text = _ENTRA[str(kind)]
        return text.replace("(tokens", f"({', '.join(ids)}; tokens") if ids else text
    reference = source.connection_string or source.credential
    if reference is None:
        return "anonymous"
    try:
        expiry = sas_expiry(reference.reveal())
    except HdhError:  # not resolvable here (audit --no-inventory on another machine)
        return f"{kind or 'SAS or account key'} ({reference} is not set here)"
    if kind == "sas" or expiry is not None:
        when = f"expires {expiry:%Y-%m-%dT%H:%MZ}" if expiry else "expiry unknown"
        return f"SAS ({when}; checked before each dataset)"
    what = "connection string with the account key" if source.connection_string else "account key"
    return f"{what}, {SHARED_KEY}"


def _s3(endpoint: S3Source | S3Target) -> str:
    auth = endpoint.auth
    text = _S3[auth.kind].format(profile=repr(auth.profile or "$AWS_PROFILE"))
    if auth.kind == "static" and endpoint.credentials and endpoint.credentials.session_token:
        text = "temporary access keys with a session token (not renewed)"
    return text

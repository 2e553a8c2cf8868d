"""How each source a dataset reads is authenticated, graded: the pseudo-rule ``CREDENTIALS``.

Not a SOV rule (PROVIDERS.md numbers none for credentials, and none is invented): like
``POLICY``, its findings carry their own severity. A long-lived shared key on a source —
an Azure account key, or a connection string embedding it — opens the whole storage
account, never expires and names no one: under profile ``hdh`` (every source holds health
data) it warns, elsewhere it is noted (info). Static S3 access keys on a source are noted
(info) under any profile: they belong to one user and are what S3-compatible services
issue. Entra ID identities, AWS profiles and chains, and SAS (their expiry is checked
before each dataset) raise nothing.

Read from the plan only: a reference is resolved (``${env:…}`` from ``PolicyInput.environ``,
``${file:…}`` read) only to tell a SAS from an account key when ``auth.kind`` does not say;
an unresolvable reference raises nothing (the audit's notes say it is not set here). The
value itself never reaches a finding.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from hdh_migrate.errors import HdhError
from hdh_migrate.plan import AzureBlobSource, S3Source
from hdh_migrate.policy.context import PolicyInput
from hdh_migrate.policy.registry import Raised
from hdh_migrate.secrets import SecretRef

CREDENTIALS_RULE = "CREDENTIALS"
CREDENTIALS_TITLE = "credential kinds"
ACCOUNT_KEY = "the storage account's key"
CONNECTION_KEY = "a connection string holding the storage account's key"
ENTRA_FIX = (
    "read it with an Entra ID identity (auth: {kind: managed_identity} or service_principal, "
    "role Storage Blob Data Reader) or a short read+list SAS, and disable shared-key access "
    "on the account (docs/credentials.md)"
)


def shared_key(source: AzureBlobSource, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """(what, plan field) when ``source`` is read with the account's shared key; None for
    identities, SAS, anonymous access, and references that cannot be resolved here."""
    kind = source.auth.kind if source.auth is not None else None
    if kind in ("default", "managed_identity", "service_principal", "sas"):
        return None
    if source.connection_string is not None:
        text = _resolve(source.connection_string, environ)
        if kind == "connection_string" and text is None:
            return None  # a SAS connection string is possible: unknown here
        if text is not None and "accountkey=" not in text.lower():
            return None
        return (CONNECTION_KEY, "connection_string") if text is not None else None
    if source.credential is None:
        return None
    if kind == "account_key":
        return ACCOUNT_KEY, "credential"
    text = _resolve(source.credential, environ)
    if text is None or "sig=" in text:
        return None
    return ACCOUNT_KEY, "credential"


def credential_findings(inp: PolicyInput) -> Iterator[Raised]:
    """One finding per source a dataset reads with a long-lived key."""
    hdh = inp.plan.policy.profile == "hdh"
    used = {eff.dataset.source for eff, _ in inp.datasets()}
    for name, source in inp.plan.sources.items():
        if name not in used:
            continue
        if isinstance(source, AzureBlobSource):
            found = shared_key(source, inp.environ)
            if found is None:
                continue
            what, field = found
            yield Raised(
                ("sources", name, field),
                f"source {name!r} (health data) is read with {what}: a long-lived shared key "
                "that opens the whole account, never expires and names no one",
                ENTRA_FIX,
                name,
                severity="warn" if hdh else "info",
            )
        elif isinstance(source, S3Source) and _static_keys(source):
            yield Raised(
                ("sources", name, "credentials"),
                f"source {name!r} is read with static S3 access keys (long-lived)",
                "prefer auth: {kind: profile} with temporary credentials where the service "
                "issues them; otherwise a key limited to read and list, rotated after the wave",
                name,
                severity="info",
            )


def _static_keys(source: S3Source) -> bool:
    credentials = source.credentials
    static = source.auth.kind == "static" and credentials is not None
    return static and credentials is not None and credentials.session_token is None


def _resolve(reference: SecretRef, environ: Mapping[str, str]) -> str | None:
    if reference.scheme == "env":
        return environ.get(reference.name) or reference.default
    try:
        return reference.reveal()
    except HdhError:
        return None

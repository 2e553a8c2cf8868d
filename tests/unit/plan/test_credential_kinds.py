"""The audit names the kind of credential of every endpoint, without showing any secret."""

from __future__ import annotations

import pytest

from hdh_migrate.engine.credential_kinds import credential_notes
from hdh_migrate.plan import check_text

KEYED = """\
    account_url: https://hdhexports.blob.core.windows.net
    credential: ${env:AZURE_STORAGE_SAS}
"""
TARGET_CREDENTIALS = """\
    credentials:
      access_key: ${env:OVH_S3_ACCESS_KEY}
      secret_key: ${file:/etc/hdh/ovh-secret}
"""


def notes(text: str) -> list[str]:
    plan = check_text(text).plan
    assert plan is not None
    return credential_notes(plan)


def test_a_sas_with_its_expiry_and_static_target_keys(
    minimal_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_SAS", "sv=2024&se=2026-12-05T10:00:00Z&sig=TOPSECRET")
    found = notes(minimal_text)
    assert found == [
        "credentials: source 'azure': SAS (expires 2026-12-05T10:00Z; checked before each dataset)",
        "credentials: target 'snc': static access keys",
    ]
    assert "TOPSECRET" not in " ".join(found)


def test_an_account_key_is_called_long_lived(
    minimal_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_SAS", "bm90LWEtc2Fz")  # a key, not a SAS
    assert "a long-lived shared key" in notes(minimal_text)[0]
    monkeypatch.delenv("AZURE_STORAGE_SAS")  # unresolvable here: said so
    assert notes(minimal_text)[0] == (
        "credentials: source 'azure': SAS or account key (${env:AZURE_STORAGE_SAS} is not set here)"
    )


def test_identities_and_chains(minimal_text: str) -> None:
    text = minimal_text.replace(
        KEYED,
        "    account_url: https://hdhexports.blob.core.windows.net\n"
        "    auth: {kind: managed_identity}\n",
    ).replace(TARGET_CREDENTIALS, "    auth: {kind: profile, profile: hdh}\n")
    assert notes(text) == [
        "credentials: source 'azure': Entra ID managed identity (tokens renewed)",
        "credentials: target 'snc': AWS profile 'hdh' (renewed when temporary)",
    ]


def test_an_entra_principal_is_named_by_its_ids(minimal_text: str) -> None:
    text = minimal_text.replace(
        KEYED,
        "    account_url: https://hdhexports.blob.core.windows.net\n"
        "    auth: {kind: service_principal, tenant_id: t-1, client_id: c-2,"
        " certificate: /etc/hdh/sp.pem}\n",
    )
    assert notes(text)[0] == (
        "credentials: source 'azure': Entra ID service principal (client_id c-2, tenant_id t-1;"
        " tokens renewed)"
    )

"""The audit grades each source's credential kind (pseudo-rule CREDENTIALS): a long-lived
shared key on a health-data source warns under profile hdh, is only noted elsewhere, and
identities, SAS and unused sources raise nothing. No secret reaches a finding."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.policy import Finding, worst
from tests.unit.policy.policy_helpers import audit_file, line_of

Writer = Callable[..., Path]
KEY = "bm90LWEtc2FzLWJ1dC1hLWtleQ=="
SAS = "sv=2024-08-04&se=2026-12-05T10:00:00Z&sp=rl&sig=TOPSECRET"


def graded(path: Path, **environ: str) -> list[Finding]:
    return [f for f in audit_file(path, environ=environ) if f.rule == "CREDENTIALS"]


def source(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def edit(plan: dict[str, Any]) -> None:
        plan["sources"]["azure"] = {"kind": "azure_blob", **fields}

    return edit


def test_an_account_key_warns_under_hdh_at_its_line(write_plan: Writer) -> None:
    path = write_plan()  # credential: ${env:AZ_SAS}
    found = graded(path, AZ_SAS=KEY)
    assert len(found) == 1, found
    finding = found[0]
    assert finding.severity == "warn" and finding.subject == "azure"
    assert "the storage account's key" in finding.why and "long-lived shared key" in finding.why
    assert "Entra ID identity" in finding.fix
    assert finding.location.path == "sources.azure.credential"
    assert finding.location.line == line_of(path, "credential: ${env:AZ_SAS}")
    assert KEY not in finding.why + finding.fix
    assert worst(audit_file(path, environ={"AZ_SAS": KEY})) in ("warn", "block")


def test_a_sas_raises_nothing(write_plan: Writer) -> None:
    assert graded(write_plan(), AZ_SAS=SAS) == []


def test_an_explicit_account_key_kind_warns_even_when_unresolvable(write_plan: Writer) -> None:
    edit = source(
        account_url="https://acct.blob.core.windows.net",
        credential="${env:AZ_KEY}",
        auth={"kind": "account_key"},
    )
    found = graded(write_plan(edit))  # AZ_KEY is not set where the audit runs
    assert [f.severity for f in found] == ["warn"]
    assert graded(write_plan(lambda p: None)) == []  # an unresolvable credential: unknown


def test_a_connection_string_with_the_key_warns_one_with_a_sas_does_not(
    write_plan: Writer,
) -> None:
    path = write_plan(source(connection_string="${env:AZ_CS}"))
    keyed = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + KEY
    found = graded(path, AZ_CS=keyed)
    assert [f.location.path for f in found] == ["sources.azure.connection_string"]
    assert "connection string holding the storage account's key" in found[0].why
    assert KEY not in found[0].why
    with_sas = "BlobEndpoint=https://acct.blob.core.windows.net;SharedAccessSignature=" + SAS
    assert graded(path, AZ_CS=with_sas) == []


@pytest.mark.parametrize(
    "auth",
    [
        {"kind": "managed_identity"},
        {"kind": "default"},
        {"kind": "service_principal", "tenant_id": "t", "client_id": "c", "certificate": "/p.pem"},
    ],
)
def test_entra_identities_raise_nothing(write_plan: Writer, auth: dict[str, Any]) -> None:
    edit = source(account_url="https://acct.blob.core.windows.net", auth=auth)
    assert graded(write_plan(edit)) == []


def test_outside_hdh_a_shared_key_is_only_noted(write_plan: Writer) -> None:
    def rehearsal(plan: dict[str, Any]) -> None:
        plan["policy"] = {"profile": "rehearsal", "rehearsal": True}

    found = graded(write_plan(rehearsal), AZ_SAS=KEY)
    assert [f.severity for f in found] == ["info"]


def test_a_source_no_dataset_reads_is_not_graded(write_plan: Writer) -> None:
    def spare(plan: dict[str, Any]) -> None:
        plan["sources"]["spare"] = {
            "kind": "azure_blob",
            "account_url": "https://other.blob.core.windows.net",
            "credential": "${env:AZ_SAS}",
        }

    found = graded(write_plan(spare), AZ_SAS=KEY)
    assert [f.subject for f in found] == ["azure"]


def test_static_keys_on_an_s3_source_are_noted_a_profile_is_not(write_plan: Writer) -> None:
    def s3_source(auth: dict[str, Any] | None) -> Callable[[dict[str, Any]], None]:
        def edit(plan: dict[str, Any]) -> None:
            plan["sources"]["azure"] = {
                "kind": "s3",
                "endpoint": "https://s3.example.fr",
                "bucket": "exports",
                **(
                    {"auth": auth}
                    if auth
                    else {"credentials": {"access_key": "${env:A}", "secret_key": "${env:B}"}}
                ),
            }
            del plan["waves"][0]["datasets"][0]["container"]

        return edit

    found = graded(write_plan(s3_source(None)))
    assert [(f.severity, f.location.path) for f in found] == [("info", "sources.azure.credentials")]
    assert graded(write_plan(s3_source({"kind": "profile", "profile": "exports"}))) == []

"""``auth:`` on Azure sources: the fields each kind needs, and what reaches the backend."""

from __future__ import annotations

import pytest

from hdh_migrate.engine.specs import source_spec
from hdh_migrate.plan import check_text

KEYED = """\
    account_url: https://hdhexports.blob.core.windows.net
    credential: ${env:AZURE_STORAGE_SAS}
"""
URL_ONLY = "    account_url: https://hdhexports.blob.core.windows.net\n"


def errors_of(text: str) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in check_text(text).errors]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (URL_ONLY + "    auth: {kind: managed_identity}\n", {"auth": "managed_identity"}),
        (URL_ONLY + "    auth: {kind: managed_identity, client_id: abc}\n",
         {"auth": "managed_identity", "client_id": "abc"}),
        (URL_ONLY + "    auth: {kind: default}\n", {"auth": "default"}),
        (URL_ONLY + "    auth: {kind: service_principal, tenant_id: t, client_id: c,"
         " client_secret: '${env:AZURE_CLIENT_SECRET}'}\n",
         {"auth": "service_principal", "tenant_id": "t", "client_id": "c"}),
        (URL_ONLY + "    auth: {kind: service_principal, tenant_id: t, client_id: c,"
         " certificate: /etc/hdh/sp.pem, authority: 'https://login.microsoftonline.us'}\n",
         {"auth": "service_principal", "tenant_id": "t", "client_id": "c",
          "authority": "https://login.microsoftonline.us"}),
        (KEYED + "    auth: {kind: sas}\n", {"auth": "sas"}),
        (KEYED, {}),
    ],
)  # fmt: skip
def test_valid_kinds_reach_the_backend(minimal_text: str, source: str, expected: dict) -> None:
    plan = check_text(minimal_text.replace(KEYED, source)).plan
    assert plan is not None
    config = source_spec(plan.effective("ir-referentiels")).config
    names = ("auth", "client_id", "tenant_id", "authority")
    found = {k: getattr(config, k) for k in names}
    assert {k: v for k, v in found.items() if v is not None} == expected
    if "certificate" in source:
        assert config.certificate == "/etc/hdh/sp.pem"
    if "client_secret" in source:
        assert str(config.client_secret) == "${env:AZURE_CLIENT_SECRET}"


@pytest.mark.parametrize(
    ("source", "path", "message"),
    [
        (KEYED + "    auth: {kind: managed_identity}\n", "sources.azure.auth",
         "uses no key"),
        (URL_ONLY + "    auth: {kind: sas}\n", "sources.azure.credential",
         "missing required key 'credential'"),
        (URL_ONLY + "    auth: {kind: service_principal, client_id: c,"
         " client_secret: '${env:S}'}\n", "sources.azure.auth.tenant_id", "missing required key"),
        (URL_ONLY + "    auth: {kind: service_principal, tenant_id: t, client_id: c}\n",
         "sources.azure.auth", "exactly one of client_secret and certificate"),
        (URL_ONLY + "    auth: {kind: managed_identity, tenant_id: t}\n",
         "sources.azure.auth.tenant_id", "does not apply to auth kind managed_identity"),
        (URL_ONLY + "    auth: {kind: managed_identity, authority: 'https://login.x'}\n",
         "sources.azure.auth.authority", "does not apply to auth kind managed_identity"),
        (URL_ONLY + "    auth: {kind: service_principal, tenant_id: t, client_id: c,"
         " client_secret: '${env:S}', authority: 'http://127.0.0.1:9'}\n",
         "sources.azure.auth.authority", "only reached over https"),
        ("    account_url: http://127.0.0.1:10000/devstoreaccount1\n"
         "    auth: {kind: managed_identity}\n", "sources.azure.account_url",
         "only sent over https"),
        (URL_ONLY + "    auth: {kind: msi}\n", "sources.azure.auth.kind", ""),
    ],
)  # fmt: skip
def test_auth_rules(minimal_text: str, source: str, path: str, message: str) -> None:
    errors = errors_of(minimal_text.replace(KEYED, source))
    assert path in [p for p, _ in errors], errors
    assert message in dict(errors)[path]

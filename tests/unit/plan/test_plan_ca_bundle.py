"""``ca_bundle:`` on Azure sources, S3 sources and S3 targets: validated with the plan,
handed (resolved) to the backend that verifies with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack import tls
from hdh_migrate.backends.registry import open_backend
from hdh_migrate.engine.specs import source_spec, target_spec
from hdh_migrate.plan import check_text

AZURE_AT = "    container: snds\n"
TARGET_AT = "    bucket: hdh-snds\n"


def errors_of(text: str) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in check_text(text).errors]


def test_ca_bundle_is_accepted_on_sources_and_targets(minimal_text: str) -> None:
    text = minimal_text.replace(AZURE_AT, AZURE_AT + "    ca_bundle: /etc/hdh/ca.pem\n")
    text = text.replace(TARGET_AT, TARGET_AT + "    ca_bundle: ${env:HDH_CA}\n")
    text = text.replace(
        "targets:\n",
        "  old:\n    kind: s3\n    endpoint: https://s3.internal\n    bucket: old-exports\n"
        "    ca_bundle: /etc/hdh/internal-ca.pem\n"
        "    credentials: {access_key: '${env:A}', secret_key: '${env:B}'}\ntargets:\n",
    )
    result = check_text(text)
    assert result.valid, [e.one_line() for e in result.errors]
    assert result.plan is not None
    assert result.plan.sources["azure"].ca_bundle == "/etc/hdh/ca.pem"
    assert result.plan.sources["old"].ca_bundle == "/etc/hdh/internal-ca.pem"
    assert result.plan.targets["snc"].ca_bundle == "${env:HDH_CA}"


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        (TARGET_AT, TARGET_AT + "    ca_bundle: /ca.pem\n    verify_tls: false\n",
         "targets.snc.ca_bundle", "ca_bundle is given but verify_tls is false"),
        ("    provider: ovh-snc\n    region: eu-west-rbx-snc\n",
         "    provider: generic\n    region: x\n    endpoint: http://127.0.0.1:9000\n"
         "    ca_bundle: /ca.pem\n",
         "targets.snc.ca_bundle", "ca_bundle is given but the endpoint is plain http://"),
        ("https://hdhexports.blob.core.windows.net", "http://127.0.0.1:10000/devstoreaccount1\n"
         "    ca_bundle: /ca.pem",
         "sources.azure.ca_bundle", "ca_bundle is given but the endpoint is plain http://"),
        (AZURE_AT, AZURE_AT + "    ca_bundle: ''\n", "sources.azure.ca_bundle", ""),
    ],
)  # fmt: skip
def test_a_ca_bundle_that_would_not_be_used_is_an_error(
    minimal_text: str, old: str, new: str, path: str, message: str
) -> None:
    errors = errors_of(minimal_text.replace(old, new))
    assert [p for p, _ in errors] == [path]
    assert message in errors[0][1]


def test_the_specs_hand_the_resolved_path_to_the_backends(
    minimal_text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HDH_CA", str(tmp_path / "ca.pem"))
    text = minimal_text.replace(AZURE_AT, AZURE_AT + "    ca_bundle: /etc/hdh/ca.pem\n")
    text = text.replace(TARGET_AT, TARGET_AT + "    ca_bundle: ${env:HDH_CA}\n")
    plan = check_text(text).plan
    assert plan is not None
    eff = plan.effective("ir-referentiels")
    assert source_spec(eff).config.ca_bundle == "/etc/hdh/ca.pem"  # type: ignore[union-attr]
    assert target_spec(plan, "snc").config.ca_bundle == str(tmp_path / "ca.pem")  # type: ignore[union-attr]
    plain = check_text(minimal_text).plan
    assert plain is not None
    assert target_spec(plain, "snc").config.ca_bundle is None  # type: ignore[union-attr]


def test_the_s3_client_verifies_with_the_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    tls.write_authority(tls.new_authority(), bundle, tmp_path / "ca.key")
    config = {"bucket": "b", "endpoint_url": "https://s3.example.net", "ca_bundle": str(bundle)}
    backend = open_backend("s3", config)
    assert backend.client._endpoint.http_session._verify == str(bundle)  # type: ignore[attr-defined]
    default = open_backend("s3", {"bucket": "b", "endpoint_url": "https://s3.example.net"})
    assert default.client._endpoint.http_session._verify is True  # type: ignore[attr-defined]

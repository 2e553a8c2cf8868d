"""Portable plans: ``${env:NAME}`` / ``${env:NAME:-default}`` in endpoints, buckets, hosts and
ports, resolved at load then validated; errors name the reference, never the value; the
resolved endpoints are shown only in their validated form (issue 10 items 2, issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hdh_migrate.engine.endpoints import azure_blob_endpoint, plan_endpoints, public_url
from hdh_migrate.plan import check_text
from hdh_migrate.secrets import SecretRef

REHEARSAL = Path(__file__).resolve().parents[3] / "plans" / "rehearsal.yaml"
SECRETISH = "http://user:pa55w0rd-NEVER@10.9.8.7:1234/?sig=TOKEN-NEVER"


def rehearsal_text(**replace: str) -> str:
    text = REHEARSAL.read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    return text


def test_the_rehearsal_plan_follows_the_port_offset(devstack_env: None) -> None:
    result = check_text(REHEARSAL.read_text())
    assert result.valid, [e.one_line() for e in result.errors]
    plan = result.plan
    assert plan is not None
    assert plan.targets["seaweedfs"].endpoint == "http://127.0.0.1:19"
    wave = plan.waves[0]
    assert wave.cutover is not None
    assert [h.ssh.port for h in wave.cutover.switch if h.ssh] == [13]
    lines = [e.line() for e in plan_endpoints(plan)]
    assert lines[:2] == [
        "source azurite (azure_blob): http://127.0.0.1:17/devstoreaccount1 rehearsal",
        "target seaweedfs (s3/seaweedfs): http://127.0.0.1:19 hdh-rehearsal",
    ]
    assert "hook wave-1-rehearsal (ssh): ssh://127.0.0.1:13 switch[0]" in lines
    assert not any("S3CRET" in line for line in lines)


def test_an_unset_variable_is_an_error_naming_it(
    devstack_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HDH_S3_ENDPOINT")
    result = check_text(REHEARSAL.read_text())
    assert not result.valid
    first = result.errors[0]
    assert first.path == "targets.seaweedfs.endpoint"
    assert "HDH_S3_ENDPOINT is not set" in first.message
    assert "devstack env" in (first.hint or "")


def test_a_default_applies_when_unset_or_empty(
    devstack_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = rehearsal_text(**{"${env:HDH_SFTP_PORT}": "${env:HDH_NO_SUCH_PORT:-2299}"})
    monkeypatch.setenv("HDH_S3_ENDPOINT", "")
    text = text.replace("${env:HDH_S3_ENDPOINT}", "${env:HDH_S3_ENDPOINT:-http://localhost:8333}")
    plan = check_text(text).plan
    assert plan is not None
    assert plan.targets["seaweedfs"].endpoint == "http://localhost:8333"
    assert plan.waves[0].cutover and plan.waves[0].cutover.switch[0].ssh
    assert plan.waves[0].cutover.switch[0].ssh.port == 2299


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("${env:HDH_S3_ENDPOINT}", "http://10.9.8.7:1234/p-NEVER", "plain http:// is allowed"),
        ("${env:HDH_S3_ENDPOINT}", SECRETISH, "no user info, query or fragment"),
        ("hdh-rehearsal", "Not_A_Bucket-NEVER", "expected an S3 bucket name"),
        ("${env:HDH_SFTP_PORT}", "22-NEVER", "expected an integer"),
        ("${env:HDH_SFTP_PORT}", "70000", "less than or equal to 65535"),
    ],
)
def test_a_resolved_value_is_validated_and_never_echoed(
    devstack_env: None, monkeypatch: pytest.MonkeyPatch, field: str, value: str, message: str
) -> None:
    monkeypatch.setenv("HDH_PORTABLE_VALUE", value)
    text = rehearsal_text(**{field: "${env:HDH_PORTABLE_VALUE}"})
    if field == "hdh-rehearsal":
        text = text.replace("bucket: hdh-rehearsal", "bucket: ${env:HDH_PORTABLE_VALUE}")
    result = check_text(text)
    assert not result.valid
    shown = " ".join(e.one_line() for e in result.errors)
    assert message in shown
    assert "comes from ${env:HDH_PORTABLE_VALUE}" in shown
    assert "NEVER" not in shown and value not in shown


def test_a_secret_reference_cannot_carry_a_default(devstack_env: None) -> None:
    text = rehearsal_text(**{"${env:HDH_S3_SECRET_KEY}": "${env:HDH_S3_SECRET_KEY:-letmein}"})
    result = check_text(text)
    assert not result.valid
    assert result.errors[0].path == "targets.seaweedfs.credentials.secret_key"
    assert "cannot have a default" in result.errors[0].message
    assert "letmein" not in result.errors[0].one_line()


def test_secret_ref_default_syntax(monkeypatch: pytest.MonkeyPatch) -> None:
    ref = SecretRef.parse("${env:HDH_X_UNSET:-fallback:with-colon}")
    assert (ref.name, ref.default) == ("HDH_X_UNSET", "fallback:with-colon")
    assert str(ref) == "${env:HDH_X_UNSET:-fallback:with-colon}"
    monkeypatch.delenv("HDH_X_UNSET", raising=False)
    assert ref.reveal() == "fallback:with-colon"
    monkeypatch.setenv("HDH_X_UNSET", "set")
    assert ref.reveal() == "set"
    assert SecretRef.parse("${env:PLAIN}").default is None


def test_public_forms_never_show_userinfo_query_or_keys() -> None:
    assert public_url(SECRETISH) == "http://10.9.8.7:1234"
    assert public_url("https://s3.example.fr/base/?X-Amz-Signature=abc") == (
        "https://s3.example.fr/base"
    )
    assert public_url("https://exa mple.fr") == "(invalid)"
    assert public_url("ftp://x") == "(invalid)"
    conn = "AccountName=prodacct;AccountKey=S3CRET==;EndpointSuffix=core.windows.net"
    assert azure_blob_endpoint(conn) == "https://prodacct.blob.core.windows.net"
    assert azure_blob_endpoint("AccountKey=S3CRET;AccountName=Bad Name") == "(invalid)"
    assert azure_blob_endpoint("UseDevelopmentStorage=true") == (
        "http://127.0.0.1:10000/devstoreaccount1"
    )


def test_audit_prints_the_resolved_endpoints_first(
    devstack_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from hdh_migrate.cli.main import run

    run(["audit", str(REHEARSAL), "--no-inventory", "--format", "json"])
    out, err = capsys.readouterr()
    assert err.splitlines()[:2] == [
        "endpoint source azurite (azure_blob): http://127.0.0.1:17/devstoreaccount1 rehearsal",
        "endpoint target seaweedfs (s3/seaweedfs): http://127.0.0.1:19 hdh-rehearsal",
    ]
    assert out.lstrip().startswith("{") and "S3CRET" not in out + err


@pytest.mark.parametrize(
    "value",
    [
        "http://user:pa55-NEVER@127.0.0.1:9000",
        "https://s3.example.fr/?sig=NEVER",
        "https://h/#NEVER",
    ],
)
def test_an_endpoint_never_carries_user_info_or_query(
    devstack_env: None, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HDH_S3_ENDPOINT", value)
    result = check_text(REHEARSAL.read_text())
    assert not result.valid
    shown = result.errors[0].one_line()
    assert "no user info, query or fragment" in shown and "NEVER" not in shown

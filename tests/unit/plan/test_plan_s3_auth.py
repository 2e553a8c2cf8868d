"""``auth:`` on S3 targets and sources: which kinds need which fields, and what each kind
hands to the backend (key pair and session token, a profile, or nothing: the chain)."""

from __future__ import annotations

import pytest

from hdh_migrate.backends.registry import open_backend
from hdh_migrate.backends.s3_config import S3Settings
from hdh_migrate.engine.specs import target_spec
from hdh_migrate.plan import check_text
from hdh_migrate.stages.items import Spec

CREDENTIALS = """\
    credentials:
      access_key: ${env:OVH_S3_ACCESS_KEY}
      secret_key: ${file:/etc/hdh/ovh-secret}
"""


def errors_of(text: str) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in check_text(text).errors]


@pytest.mark.parametrize(
    ("auth", "spec_keys"),
    [
        ("    auth: {kind: profile, profile: hdh-migration}\n", {"profile"}),
        ("    auth: {kind: default}\n", set()),
    ],
)
def test_chain_kinds_need_no_credentials(minimal_text: str, auth: str, spec_keys: set[str]) -> None:
    plan = check_text(minimal_text.replace(CREDENTIALS, auth)).plan
    assert plan is not None
    config = target_spec(plan, "snc").backend_spec
    assert isinstance(config, S3Settings)
    names = ("access_key", "secret_key", "session_token", "profile")
    assert {n for n in names if getattr(config, n) is not None} == spec_keys
    if spec_keys:
        assert config.profile == "hdh-migration"


def test_profile_kind_without_a_name_uses_aws_profile(
    minimal_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = check_text(minimal_text.replace(CREDENTIALS, "    auth: {kind: profile}\n")).plan
    assert plan is not None
    monkeypatch.setenv("AWS_PROFILE", "ops")
    assert _s3(target_spec(plan, "snc")).profile == "ops"
    monkeypatch.delenv("AWS_PROFILE")
    assert _s3(target_spec(plan, "snc")).profile == "default"


def test_static_is_the_default_and_carries_a_session_token(minimal_text: str) -> None:
    with_token = CREDENTIALS + "      session_token: ${env:AWS_SESSION_TOKEN}\n"
    plan = check_text(minimal_text.replace(CREDENTIALS, with_token)).plan
    assert plan is not None and plan.targets["snc"].auth.kind == "static"
    assert str(_s3(target_spec(plan, "snc")).session_token) == "${env:AWS_SESSION_TOKEN}"


def _s3(spec: Spec) -> S3Settings:
    config = spec.backend_spec
    assert isinstance(config, S3Settings)
    return config


@pytest.mark.parametrize(
    ("replacement", "path", "message"),
    [
        ("", "targets.snc.credentials", "missing required key 'credentials'"),
        ("    auth: {kind: static}\n", "targets.snc.credentials", "missing required key"),
        (CREDENTIALS + "    auth: {kind: default}\n", "targets.snc.credentials",
         "credentials are not used with auth kind default"),
        ("    auth: {kind: default, profile: x}\n", "targets.snc.auth.profile",
         "profile does not apply"),
        ("    auth: {kind: sso}\n", "targets.snc.auth.kind", ""),
    ],
)  # fmt: skip
def test_auth_rules(minimal_text: str, replacement: str, path: str, message: str) -> None:
    errors = errors_of(minimal_text.replace(CREDENTIALS, replacement))
    assert [p for p, _ in errors] == [path]
    assert message in errors[0][1]


def test_the_session_token_reaches_the_client() -> None:
    config = {
        "bucket": "b",
        "endpoint_url": "https://s3.example.net",
        "access_key": "AKIAEXAMPLE",
        "secret_key": "secret",
        "session_token": "the-session-token",
    }
    credentials = open_backend("s3", config).client._get_credentials()  # type: ignore[attr-defined]
    assert credentials.token == "the-session-token"


def test_a_profile_and_a_key_pair_together_are_refused() -> None:
    from hdh_migrate.errors import UsageError

    with pytest.raises(UsageError, match="not both"):
        open_backend("s3", {"bucket": "b", "profile": "p", "access_key": "a", "secret_key": "s"})

"""Temporary S3 credentials (access key, secret, session token) against moto with IAM
authentication on: moto checks each request's signature and, for assumed-role keys, that
the session token sent is the one STS issued. SeaweedFS has no STS for static identities,
so this is where session tokens are proven: given in the plan (``session_token``) and
obtained by botocore from a profile that assumes a role (``role_arn`` + ``source_profile``,
refreshed before it expires)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import enable_iam_authentication

from hdh_migrate.backends.registry import open_backend
from hdh_migrate.errors import AuthError, HdhError
from hdh_migrate.secrets import SecretRef

ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
)


@pytest.fixture
def sts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A user with keys and a role it may assume; yields the user's keys and the role ARN.
    IAM authentication is on for everything the test then does."""
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_user(UserName="migrator")
        iam.put_user_policy(UserName="migrator", PolicyName="all", PolicyDocument=ALLOW_ALL)
        key = iam.create_access_key(UserName="migrator")["AccessKey"]
        role = iam.create_role(RoleName="hdh-writer", AssumeRolePolicyDocument=TRUST)["Role"]
        iam.put_role_policy(RoleName="hdh-writer", PolicyName="all", PolicyDocument=ALLOW_ALL)
        with enable_iam_authentication():
            yield {
                "access_key": key["AccessKeyId"],
                "secret_key": key["SecretAccessKey"],
                "role_arn": role["Arn"],
            }


def assumed(user: dict[str, str]) -> dict[str, str]:
    client = boto3.client(
        "sts",
        region_name="us-east-1",
        aws_access_key_id=user["access_key"],
        aws_secret_access_key=user["secret_key"],
    )
    answer = client.assume_role(RoleArn=user["role_arn"], RoleSessionName="hdh-run")
    return answer["Credentials"]  # type: ignore[no-any-return]


def round_trip(store: Any) -> None:
    store.ensure_bucket()
    store.write("k", io.BytesIO(b"temporary"), 9)
    assert store.open_read("k").read() == b"temporary"


def s3(monkeypatch: pytest.MonkeyPatch, **config: Any) -> Any:
    for name, value in list(config.items()):
        if name in ("access_key", "secret_key", "session_token"):
            monkeypatch.setenv(f"HDH_T_{name.upper()}", value)
            config[name] = SecretRef("env", f"HDH_T_{name.upper()}")
    return open_backend("s3", {"bucket": "hdh-temp", "sdk_attempts": 1, **config})


def test_a_session_token_is_sent_and_checked(
    sts: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = assumed(sts)
    keys = {"access_key": creds["AccessKeyId"], "secret_key": creds["SecretAccessKey"]}
    round_trip(s3(monkeypatch, **keys, session_token=creds["SessionToken"]))

    wrong = s3(monkeypatch, **keys, session_token="not-the-" + creds["SessionToken"][:20])
    with pytest.raises(HdhError) as caught:
        wrong.open_read("k")
    assert isinstance(caught.value, AuthError) and caught.value.exit_code == 7
    assert creds["SessionToken"][:20] not in caught.value.one_line()

    without = s3(monkeypatch, **keys)  # temporary keys without their token: unknown keys
    with pytest.raises(AuthError):
        without.open_read("k")


def test_a_profile_that_assumes_a_role_gets_temporary_credentials(
    sts: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "credentials").write_text(
        f"[base]\naws_access_key_id = {sts['access_key']}\n"
        f"aws_secret_access_key = {sts['secret_key']}\n"
    )
    (tmp_path / "config").write_text(
        f"[profile writer]\nrole_arn = {sts['role_arn']}\nsource_profile = base\n"
        "region = us-east-1\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    store = s3(monkeypatch, profile="writer")
    round_trip(store)
    frozen = store.client._request_signer._credentials.get_frozen_credentials()
    assert frozen.access_key != sts["access_key"] and frozen.token  # the role's, with a token

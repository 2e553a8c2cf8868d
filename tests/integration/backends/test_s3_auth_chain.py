"""S3 credentials the way the aws CLI finds them, against the real SeaweedFS: a profile in
the shared credentials file, ``credential_process`` (refreshed before it expires), the
environment — and one-line errors when none of them yields credentials."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.backends.registry import open_backend
from hdh_migrate.errors import AuthError, HdhError, UsageError

pytestmark = pytest.mark.stack

AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
)

# Prints the stack's keys (from the environment the tool runs in) as a credential_process
# answer that expires in a minute, and counts its calls.
PROCESS = """\
import datetime, json, os, sys
with open(sys.argv[1], "a") as calls:
    calls.write("call\\n")
if len(sys.argv) > 2:
    sys.stderr.write("internal failure, token=SECRET-THAT-MUST-NOT-LEAK\\n")
    sys.exit(1)
expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1)
print(json.dumps({
    "Version": 1,
    "AccessKeyId": os.environ["HDH_S3_ACCESS_KEY"],
    "SecretAccessKey": os.environ["HDH_S3_SECRET_KEY"],
    "Expiration": expires.isoformat(),
}))
"""


@pytest.fixture
def aws_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stack: Any) -> Path:
    """Empty AWS config and credentials files of our own; no AWS variable, no IMDS."""
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "aws"
    home.mkdir()
    (home / "config").write_text("")
    (home / "credentials").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return home


def s3(stack: Any, bucket: str, **auth: Any) -> Any:
    config = {"endpoint_url": stack.s3_endpoint, "bucket": bucket, **auth}
    return open_backend("s3", config)


def round_trip(store: Any) -> None:
    store.ensure_bucket()
    try:
        store.write("k", io.BytesIO(b"chain"), 5)
        assert store.open_read("k").read() == b"chain"
        store.delete("k")
    finally:
        store.delete_bucket(force=True)


def add_process_profile(home: Path, name: str, calls: Path, *extra: str) -> None:
    script = home / "process.py"
    script.write_text(PROCESS)
    command = " ".join([sys.executable, str(script), str(calls), *extra])
    with (home / "config").open("a") as config:
        config.write(f"[profile {name}]\ncredential_process = {command}\n")


def test_a_profile_of_the_shared_credentials_file(
    stack: Any, aws_home: Path, unique_name: str
) -> None:
    (aws_home / "credentials").write_text(
        f"[hdh-test]\naws_access_key_id = {stack.s3_access_key}\n"
        f"aws_secret_access_key = {stack.s3_secret_key}\n"
    )
    round_trip(s3(stack, unique_name, profile="hdh-test"))
    with pytest.raises(UsageError, match="AWS profile 'other' not found"):
        s3(stack, unique_name, profile="other")


def test_credential_process_is_called_again_before_expiry(
    stack: Any, aws_home: Path, unique_name: str
) -> None:
    calls = aws_home / "calls"
    add_process_profile(aws_home, "proc", calls)
    store = s3(stack, unique_name, profile="proc")
    round_trip(store)
    # The answer expires within botocore's refresh window: every request renews it, as a
    # long run renews credentials that expire under it.
    assert len(calls.read_text().splitlines()) >= 2


def test_a_failing_credential_process_is_one_line_and_leaks_nothing(
    stack: Any, aws_home: Path, unique_name: str
) -> None:
    add_process_profile(aws_home, "broken", aws_home / "calls", "fail")
    with pytest.raises(HdhError) as caught:
        list(s3(stack, unique_name, profile="broken").list())
    error = caught.value
    assert isinstance(error, AuthError) and error.exit_code == 7
    line = error.one_line()
    assert "credential provider failed" in line and "\n" not in line
    assert "SECRET-THAT-MUST-NOT-LEAK" not in line


def test_the_default_chain_reads_the_environment(
    stack: Any, aws_home: Path, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", stack.s3_access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", stack.s3_secret_key)
    round_trip(s3(stack, unique_name))


def test_no_credentials_anywhere_is_exit_7(stack: Any, aws_home: Path, unique_name: str) -> None:
    with pytest.raises(HdhError) as caught:
        list(s3(stack, unique_name).list())
    assert isinstance(caught.value, AuthError), caught.value.one_line()
    assert "no usable credentials" in caught.value.one_line()


def test_a_wrong_key_from_a_profile_is_refused(
    stack: Any, aws_home: Path, unique_name: str
) -> None:
    (aws_home / "credentials").write_text(
        f"[bad]\naws_access_key_id = {stack.s3_access_key}\naws_secret_access_key = nope\n"
    )
    with pytest.raises(HdhError) as caught:
        list(s3(stack, unique_name, profile="bad").list())
    assert caught.value.exit_code == 7, caught.value.one_line()
    assert "nope" not in json.dumps(caught.value.one_line())

"""The local stack really answers: signed S3 writes, Azurite, pinned-host-key SFTP, the HSM."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import boto3
import paramiko
import pytest
from azure.storage.blob import BlobServiceClient
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import devstack
import devstack.orchestrate
from devstack.orchestrate import running_pid, services
from devstack.services.base import Context

pytestmark = pytest.mark.stack


def _s3(endpoint: str, access: str, secret: str):  # type: ignore[no-untyped-def]
    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=config,
    )


@pytest.mark.parametrize("which", ["s3_endpoint", "rclone_s3_endpoint"])
def test_s3_signed_write_round_trip(stack: devstack.Stack, unique_name: str, which: str) -> None:
    s3 = _s3(getattr(stack, which), stack.s3_access_key, stack.s3_secret_key)
    body = secrets.token_bytes(4096)
    s3.create_bucket(Bucket=unique_name)
    s3.put_object(Bucket=unique_name, Key="a/b.bin", Body=body)
    assert s3.get_object(Bucket=unique_name, Key="a/b.bin")["Body"].read() == body
    s3.delete_object(Bucket=unique_name, Key="a/b.bin")
    s3.delete_bucket(Bucket=unique_name)


@pytest.mark.parametrize("which", ["s3_endpoint", "rclone_s3_endpoint"])
def test_s3_rejects_a_wrong_secret(stack: devstack.Stack, unique_name: str, which: str) -> None:
    s3 = _s3(getattr(stack, which), stack.s3_access_key, "not-the-secret")
    with pytest.raises(ClientError):
        s3.create_bucket(Bucket=unique_name)


def test_azurite_round_trip(stack: devstack.Stack, unique_name: str) -> None:
    client = BlobServiceClient.from_connection_string(stack.azurite_connection_string)
    container = client.get_container_client(unique_name)
    container.create_container()
    body = secrets.token_bytes(2048)
    container.upload_blob("x/y.bin", body)
    assert container.download_blob("x/y.bin").readall() == body
    assert stack.azurite_account_url.endswith("/devstoreaccount1")
    container.delete_container()


def _ssh(stack: devstack.Stack, known_hosts: Path) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        stack.sftp_host,
        port=stack.sftp_port,
        username=stack.sftp_user,
        key_filename=str(stack.sftp_key_path),
        look_for_keys=False,
        allow_agent=False,
        timeout=5,
    )
    return client


def test_sftp_with_pinned_host_key(stack: devstack.Stack, unique_name: str) -> None:
    with _ssh(stack, stack.sftp_known_hosts) as ssh:
        sftp = ssh.open_sftp()
        path = f"{stack.sftp_root}/{unique_name}.bin"
        body = secrets.token_bytes(1000)
        with sftp.open(path, "wb") as out:
            out.write(body)
        with sftp.open(path, "rb") as back:
            assert back.read() == body
        sftp.remove(path)
        sftp.close()


def test_sftp_refuses_an_unknown_host_key(stack: devstack.Stack, tmp_path: Path) -> None:
    other = Ed25519PrivateKey.generate().public_key()
    line = other.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[{stack.sftp_host}]:{stack.sftp_port} {line.decode()}\n")
    with pytest.raises(paramiko.SSHException):
        _ssh(stack, wrong)
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(paramiko.SSHException):
        _ssh(stack, empty)


def _hsm_child(stack: devstack.Stack, code: str) -> subprocess.CompletedProcess[str]:
    """Run PKCS#11 code in a child so this process never loads the module."""
    env = {**stack.env(), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )


_HSM_PRELUDE = """
import os, secrets, pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
lib = pkcs11.lib(os.environ["HDH_HSM_MODULE"])
tok = lib.get_token(token_label=os.environ["HDH_HSM_TOKEN"])
s = tok.open(user_pin=os.environ["HDH_HSM_PIN"], rw=True)
kek = s.get_key(label=os.environ["HDH_HSM_KEK_LABEL"], object_class=ObjectClass.SECRET_KEY)
"""


def test_hsm_wraps_and_unwraps(stack: devstack.Stack) -> None:
    code = (
        _HSM_PRELUDE
        + """
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap
plain = secrets.token_bytes(32)
dek = s.create_object({Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES,
    Attribute.VALUE: plain, Attribute.TOKEN: False, Attribute.EXTRACTABLE: True,
    Attribute.SENSITIVE: False})
wrapped = kek.wrap_key(dek, mechanism=Mechanism.AES_KEY_WRAP)
back = kek.unwrap_key(ObjectClass.SECRET_KEY, KeyType.AES, wrapped,
    mechanism=Mechanism.AES_KEY_WRAP,
    template={Attribute.EXTRACTABLE: True, Attribute.SENSITIVE: False})
assert len(wrapped) == 40 and wrapped != plain
assert back[Attribute.VALUE] == plain
print("ok", kek[Attribute.TOKEN], kek[Attribute.SENSITIVE], kek[Attribute.EXTRACTABLE])
"""
    )
    done = _hsm_child(stack, code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", "True", "True", "False"]


def test_hsm_kek_value_cannot_be_read(stack: devstack.Stack) -> None:
    code = (
        _HSM_PRELUDE
        + """
try:
    kek[Attribute.VALUE]
except pkcs11.exceptions.PKCS11Error as exc:
    print("refused", type(exc).__name__)
else:
    print("LEAKED")
"""
    )
    done = _hsm_child(stack, code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("refused"), done.stdout


def test_credentials_are_private_and_not_in_stack_json(stack: devstack.Stack) -> None:
    text = (stack.dir / "stack.json").read_text()
    for secret in (stack.s3_secret_key, stack.hsm_pin, stack.s3_access_key):
        assert secret not in text
        assert secret not in repr(stack) or secret == stack.s3_access_key
    for path in (stack.dir / "creds").iterdir():
        assert path.stat().st_mode & 0o077 == 0, path


def test_up_twice_is_idempotent(stack: devstack.Stack) -> None:
    ctx = Context(stack.dir)
    before = {svc.name: running_pid(svc) for svc in services(ctx)}
    again = devstack.ensure_up()
    after = {svc.name: running_pid(svc) for svc in services(ctx)}
    assert before == after
    assert again == stack
    daemons = {k: v for k, v in before.items() if k != "softhsm"}
    assert all(pid is not None for pid in daemons.values()), daemons


def test_load_matches_ensure_up(stack: devstack.Stack) -> None:
    assert devstack.load() == stack


def _devstack_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "devstack", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_concurrent_up_reuses_the_same_processes(stack: devstack.Stack) -> None:
    ctx = Context(stack.dir)
    before = {svc.name: running_pid(svc) for svc in services(ctx)}
    runs = [_devstack_cli("up") for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert {svc.name: running_pid(svc) for svc in services(ctx)} == before
    for out, _ in outputs:
        assert out.count("(reused)") == 5, out  # every daemon: both Azurites, weed, rclone, sshd


def test_status_reports_every_service_healthy(stack: devstack.Stack) -> None:
    out, err = _devstack_cli("status").communicate(timeout=60)
    lines = out.strip().splitlines()
    assert len(lines) == 6, (out, err)
    assert all(" healthy " in line for line in lines), out


def test_start_failure_names_the_service_and_exits_non_zero(
    stack: devstack.Stack, tmp_path: Path
) -> None:
    # A second stack dir on the same ports: every daemon port is held by the first stack,
    # which this one did not start, so each must refuse with a one-line reason.
    env = {**os.environ, "HDH_DEVSTACK_DIR": str(tmp_path / "other")}
    env.pop("HDH_DEVSTACK_PORT_OFFSET", None)
    run = _devstack_cli("up", env=env)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 1, (out, err)
    reasons = [line for line in err.splitlines() if line.startswith("devstack: ")]
    assert len(reasons) == 5, err
    assert all("already in use by a process we did not start" in r for r in reasons), err
    assert stack == devstack.load()  # the running stack is untouched


def test_down_leaves_a_process_that_is_not_ours(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        pids = tmp_path / "pids"
        pids.mkdir()
        (pids / "seaweedfs.pid").write_text(f"{sleeper.pid}\n")
        stopped = devstack.orchestrate.down(tmp_path)
        assert stopped == [("seaweedfs", sleeper.pid, False)]
        assert sleeper.poll() is None
        assert not (pids / "seaweedfs.pid").exists()
    finally:
        sleeper.kill()
        sleeper.wait()

"""Hooks: local commands (environment, exit status, timeout, bounded output) and the SSH
path (export prefix, retry only before the command started)."""

import contextlib
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from hdh_migrate.engine.hooks import HookRunner, remote_command, ssh_config
from hdh_migrate.errors import AuthError, UnreachableError
from hdh_migrate.plan.cutover import Hook
from hdh_migrate.remote.spec import SshSpec
from hdh_migrate.remote.ssh import CommandOutcome

ENV = {"HDH_TARGET_ENDPOINT": "https://s3.example.fr", "HDH_WAVE": "w1"}


def test_local_hook_gets_the_environment_and_its_output_is_kept(tmp_path: Path) -> None:
    hook = Hook(run=f'echo "$HDH_TARGET_ENDPOINT $HDH_WAVE $HDH_HOOK" > {tmp_path}/o; echo hi')
    result = HookRunner().run(hook, ENV, "switch[1/1]")
    assert result.ok and result.where == "local"
    assert (tmp_path / "o").read_text() == "https://s3.example.fr w1 switch[1/1]\n"
    assert result.output == "hi\n"


def test_local_hook_failure_and_stderr() -> None:
    result = HookRunner().run(Hook(run="echo oops >&2; exit 3"), ENV, "switch[1/1]")
    assert not result.ok and result.exit_status == 3
    assert "exit 3" in result.summary() and "oops" in result.summary()


def test_local_hook_timeout_kills_the_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    hook = Hook(run=f"sleep 30 & echo $! > {pidfile}; wait", timeout=1)
    started = time.monotonic()
    result = HookRunner().run(hook, ENV, "switch[1/1]")
    assert result.timed_out and time.monotonic() - started < 10
    child = int(pidfile.read_text())
    time.sleep(0.2)
    # the background child went with its group (dead, or a zombie nobody reaped)
    with contextlib.suppress(psutil.NoSuchProcess):
        assert psutil.Process(child).status() == psutil.STATUS_ZOMBIE


def test_output_is_bounded_to_the_last_bytes() -> None:
    hook = Hook(run="head -c 300000 /dev/zero | tr '\\0' a; echo END")
    result = HookRunner(max_output=1000).run(hook, ENV, "x")
    assert len(result.output) == 1000 and result.output.endswith("END\n")
    assert result.dropped == 300004 - 1000


def test_remote_command_quotes_every_value() -> None:
    command = remote_command({"A": "it's $HOME; rm -rf /", "B": "x"}, 'echo "$A"')
    quoted = shlex.quote("it's $HOME; rm -rf /")
    assert command == f'export A={quoted}; export B=x; echo "$A"'
    completed = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True)
    assert completed.stdout == "it's $HOME; rm -rf /\n"


SSH = {
    "host": "127.0.0.1",
    "port": 2222,
    "user": "ops",
    "key_file": "/keys/id",
    "known_hosts": "/keys/known_hosts",
}


def _ssh_hook(**kw: Any) -> Hook:
    return Hook.model_validate({"run": "switch-readers", "ssh": SSH, "timeout": 5} | kw)


def test_ssh_hook_retries_only_connection_failures() -> None:
    calls: list[str] = []

    def remote(config: SshSpec, command: str, **kw: Any) -> CommandOutcome:
        calls.append(command)
        if len(calls) < 3:
            raise UnreachableError("cannot connect")
        return CommandOutcome(0, b"done\n")

    result = HookRunner(backoff=0, remote=remote).run(_ssh_hook(), ENV, "switch[1/1]")
    assert result.ok and result.attempts == 3 and result.where == "ssh ops@127.0.0.1:2222"
    assert calls[0].startswith("export HDH_HOOK='switch[1/1]'; export HDH_TARGET_ENDPOINT=")
    assert calls[0].endswith("; switch-readers")


def test_ssh_hook_failure_after_start_is_not_retried() -> None:
    calls = []

    def remote(config: SshSpec, command: str, **kw: Any) -> CommandOutcome:
        calls.append(command)
        return CommandOutcome(1, b"boom\n")

    result = HookRunner(backoff=0, remote=remote).run(_ssh_hook(), ENV, "switch[1/1]")
    assert not result.ok and len(calls) == 1


def test_ssh_auth_error_is_not_retried() -> None:
    def remote(config: SshSpec, command: str, **kw: Any) -> CommandOutcome:
        raise AuthError("host key is not in known_hosts")

    with pytest.raises(AuthError):
        HookRunner(backoff=0, remote=remote).run(_ssh_hook(), ENV, "switch[1/1]")


def test_ssh_config_resolves_references(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPS_USER", "ops2")
    hook = _ssh_hook(ssh=SSH | {"user": "${env:OPS_USER}"})
    assert hook.ssh is not None
    config = ssh_config(hook.ssh)
    assert config.user == "ops2" and config.key == "/keys/id"


def test_failing_hook_is_repeated_only_with_retries(tmp_path: Path) -> None:
    count = tmp_path / "count"
    run = f"echo x >> {count}; test $(wc -l < {count}) -ge 3"
    result = HookRunner().run(Hook(run=run), ENV, "x")
    assert not result.ok and result.attempts == 1
    result = HookRunner().run(Hook(run=run, retries=5), ENV, "x")
    assert result.ok and result.attempts == 2  # runs 2 and 3
    assert len(count.read_text().splitlines()) == 3

"""Cutover hooks: commands that freeze/unfreeze the source and switch readers over.

A hook's ``run`` is a shell command line, as the plan documents it: locally it is run as
``/bin/sh -c RUN`` (no other shell interpretation happens: the values we pass travel in
the environment, never pasted into the text); over SSH it goes to the login shell of the
remote account, prefixed with ``export NAME='value';`` for each variable (sshd usually
refuses to set client environment variables). The environment describes the switch:
``HDH_TARGET_ENDPOINT``, ``HDH_TARGET_BUCKET``, ``HDH_TARGET_PREFIX``, ``HDH_WAVE``,
``HDH_DATASETS`` (comma-separated), ``HDH_PLAN`` (the plan's name) and ``HDH_HOOK``.

Every hook has a timeout (the plan's ``timeout``): a local hook's process group is
killed; a remote hook's channel is closed. Output (stdout and stderr together) is kept
up to ``max_output`` bytes — the last ones — for the cutover report. A hook is retried
when the SSH connection could not be made (the command had not started); a hook that ran
and failed is re-run only when the plan gives it ``retries`` (declaring it safe to
repeat). Re-running a cutover re-runs its hooks, so hooks must be idempotent (the
operator's responsibility).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from hdh_migrate.errors import RetryableError, UnreachableError
from hdh_migrate.plan import resolve_text
from hdh_migrate.plan.cutover import Hook, SshTarget
from hdh_migrate.remote.spec import SshSpec

if TYPE_CHECKING:  # paramiko loads only when a hook runs over SSH (not for --version)
    from hdh_migrate.remote.ssh import CommandOutcome

MAX_OUTPUT = 64 * 1024
SHELL = "/bin/sh"


@dataclass(frozen=True)
class HookResult:
    """One hook run, for the report."""

    label: str
    where: str
    command: str
    exit_status: int | None
    duration_s: float
    output: str
    dropped: int = 0
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    @property
    def timed_out(self) -> bool:
        return self.exit_status is None

    def summary(self) -> str:
        status = "timed out" if self.timed_out else f"exit {self.exit_status}"
        last = self.output.strip().splitlines()[-1:] or [""]
        return f"{self.label} on {self.where}: {status}" + (
            f" ({last[0][:200]})" if last[0] else ""
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "where": self.where,
            "command": self.command,
            "exit_status": self.exit_status,
            "timed_out": self.timed_out,
            "duration_s": round(self.duration_s, 3),
            "output": self.output,
            "output_dropped_bytes": self.dropped,
            "attempts": self.attempts,
        }


RemoteRunner = Callable[..., "CommandOutcome"]


def run_command(*args: Any, **kwargs: Any) -> CommandOutcome:
    """The SSH command runner (``remote.ssh``, shared with the sftp backend), imported on
    first use."""
    from hdh_migrate.remote.ssh import run_command as remote

    return remote(*args, **kwargs)


class HookRunner:
    """Runs hooks locally or over SSH; collaborators injectable for tests."""

    def __init__(
        self,
        *,
        max_output: int = MAX_OUTPUT,
        connect_attempts: int = 3,
        backoff: float = 1.0,
        remote: RemoteRunner = run_command,
    ) -> None:
        self.max_output, self.connect_attempts = max_output, connect_attempts
        self.backoff, self.remote = backoff, remote

    def run(self, hook: Hook, env: Mapping[str, str], label: str) -> HookResult:
        """Run ``hook`` with ``env`` added, again up to ``hook.retries`` times while it fails
        (the plan declares it safe to repeat); never raises for a failing command (see ok).
        ``attempts`` in the result counts every run and connection attempt."""
        env = {**env, "HDH_HOOK": label}
        attempts = 0
        for _ in range(hook.retries + 1):
            result = self._once(hook, env, label)
            attempts += result.attempts
            if result.ok:
                break
        return replace(result, attempts=attempts)

    def _once(self, hook: Hook, env: Mapping[str, str], label: str) -> HookResult:
        if hook.ssh is None:
            return self._local(hook, env, label)
        return self._ssh(hook, hook.ssh, env, label)

    def _local(self, hook: Hook, env: Mapping[str, str], label: str) -> HookResult:
        started = time.monotonic()
        with tempfile.TemporaryFile() as sink:
            process = subprocess.Popen(  # the plan's shell line, by design
                [SHELL, "-c", hook.run],
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={**os.environ, **env},
                start_new_session=True,
            )
            status = _wait(process, float(hook.timeout))
            output, dropped = _tail(sink, self.max_output)
        return HookResult(
            label, "local", hook.run, status, time.monotonic() - started, output, dropped
        )

    def _ssh(self, hook: Hook, ssh: SshTarget, env: Mapping[str, str], label: str) -> HookResult:
        command = remote_command(env, hook.run)
        config = ssh_config(ssh)
        where = f"ssh {config.user}@{config.host}:{config.port}"
        started = time.monotonic()
        for attempt in range(1, self.connect_attempts + 1):
            try:
                outcome = self.remote(
                    config, command, timeout=float(hook.timeout), max_output=self.max_output
                )
                break
            except (UnreachableError, RetryableError):
                if attempt == self.connect_attempts:
                    raise
                time.sleep(self.backoff * attempt)
        text = outcome.output.decode("utf-8", "replace")
        duration = time.monotonic() - started
        return HookResult(
            label, where, hook.run, outcome.exit_status, duration, text, outcome.dropped, attempt
        )


def remote_command(env: Mapping[str, str], run: str) -> str:
    """``export K='v'; …; RUN`` — each value shell-quoted."""
    exports = "".join(
        f"export {name}={shlex.quote(value)}; " for name, value in sorted(env.items())
    )
    return exports + run


def ssh_config(ssh: SshTarget) -> SshSpec:
    """The typed spec of an SshTarget (references resolved, except the key text, which
    stays a reference until the connection is made)."""
    return SshSpec(
        host=resolve_text(ssh.host),
        port=ssh.port,
        user=resolve_text(ssh.user),
        known_hosts=resolve_text(ssh.known_hosts),
        key=ssh.key if ssh.key is not None else resolve_text(ssh.key_file or ""),
    )


def _wait(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    """The exit status, or None after killing the process group on timeout."""
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return None


def _tail(sink: Any, limit: int) -> tuple[str, int]:
    size = sink.seek(0, os.SEEK_END)
    dropped = max(0, size - limit)
    sink.seek(dropped)
    return sink.read(limit).decode("utf-8", "replace"), dropped

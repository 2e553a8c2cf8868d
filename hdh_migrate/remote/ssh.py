"""SSH (paramiko): the only module importing paramiko. It holds the connection code (host
keys checked against ``known_hosts`` only, never added; key or password), the pool of
SFTP channels over one connection, the windowed SFTP read stream, and ``run_command``
for cutover hooks, over the same connection code. ``backends.sftp.SftpBackend`` builds
the storage contract on top of it and names paramiko's types through the aliases below;
``engine.hooks`` runs commands with ``run_command``. Settings come from ``remote.spec``.

Connection errors: an unknown or changed host key, or a refused login → AuthError; an
unreadable ``known_hosts`` → UsageError; a connection that cannot be opened →
UnreachableError until this host was once reached, RetryableError afterwards.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko

from hdh_migrate.errors import (
    AuthError,
    ConnectionFailedError,
    HdhError,
    PreconditionFailedError,
    RetryableError,
    UnreachableError,
    UsageError,
)
from hdh_migrate.remote.spec import SshSettings, SshSpec
from hdh_migrate.secrets import refuse_shared_file, reveal_private

_KEY_TYPES = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)
CONNECTION_ERRORS = (EOFError, ConnectionError, socket.timeout, paramiko.SSHException)
SSHException = paramiko.SSHException
SFTPClient = paramiko.SFTPClient
SFTPAttributes = paramiko.SFTPAttributes
SFTPFile = paramiko.SFTPFile


class _Reject(paramiko.MissingHostKeyPolicy):
    """Refuse unknown host keys with a one-line AuthError naming the host and the file."""

    def __init__(self, settings: SshSettings) -> None:
        self._settings = settings

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: Any) -> None:
        digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
        raise AuthError(
            f"sftp {hostname}: host key {key.get_name()} SHA256:{digest} is not in "
            f"{self._settings.known_hosts}",
            hint="check the fingerprint out of band, then add the key to that known_hosts file",
        )


class Channels:
    """SFTP channels over one SSH connection: at most ``limit`` in use, idle ones reused.
    Reconnects when the connection died. Thread-safe."""

    def __init__(self, connect: Callable[[], paramiko.SSHClient], limit: int) -> None:
        self._connect = connect
        self._slots = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self._idle: list[paramiko.SFTPClient] = []
        self._ssh: paramiko.SSHClient | None = None

    def acquire(self, timeout: float = 300) -> paramiko.SFTPClient:
        if not self._slots.acquire(timeout=timeout):
            raise RetryableError(f"all SFTP channels stayed busy for {timeout:.0f} s")
        try:
            with self._lock:
                return self._take()
        except BaseException:
            self._slots.release()
            raise

    def _take(self) -> paramiko.SFTPClient:
        while self._idle:
            client = self._idle.pop()
            if _alive(client):
                return client
            client.close()
        if self._ssh is None or not _transport_alive(self._ssh):
            self._drop_connection()
            self._ssh = self._connect()
        return self._ssh.open_sftp()

    def release(self, client: paramiko.SFTPClient, broken: bool = False) -> None:
        with self._lock:
            if broken or not _alive(client):
                client.close()
            else:
                self._idle.append(client)
        self._slots.release()

    def _drop_connection(self) -> None:
        for client in self._idle:
            client.close()
        self._idle.clear()
        if self._ssh is not None:
            self._ssh.close()
            self._ssh = None

    def close(self) -> None:
        with self._lock:
            self._drop_connection()


def _transport_alive(ssh: paramiko.SSHClient) -> bool:
    transport = ssh.get_transport()
    return transport is not None and transport.is_active()


def _alive(client: paramiko.SFTPClient) -> bool:
    channel = client.get_channel()
    return channel is not None and not channel.closed and channel.get_transport().is_active()


class SshHost:
    """One SSH server, reached with the host key checked (``_connect``). ``_reached``
    turns a later connection failure from UnreachableError into RetryableError."""

    def __init__(self, settings: SshSettings, name: str) -> None:
        self._settings = settings
        self.name = name
        self._reached = False

    def _connect(self) -> paramiko.SSHClient:
        """A new SSH connection, host key checked. Raises AuthError / UnreachableError."""
        s = self._settings
        ssh = paramiko.SSHClient()
        try:
            ssh.load_host_keys(str(s.known_hosts))
        except (OSError, paramiko.SSHException):
            raise UsageError(
                f"{self.name}: cannot read known_hosts {s.known_hosts}",
                hint="known_hosts must exist and hold the server's verified host key",
            ) from None
        ssh.set_missing_host_key_policy(_Reject(s))
        try:
            ssh.connect(**self._connect_args())
        except (HdhError, OSError, EOFError, paramiko.SSHException) as error:
            ssh.close()
            raise self._connect_error(error) from None
        self._reached = True
        return ssh

    def _connect_args(self) -> dict[str, Any]:
        s = self._settings
        return {
            "hostname": s.host,
            "port": s.port,
            "username": s.user,
            "pkey": load_key(s) if s.key is not None else None,
            "password": s.password.reveal() if s.password is not None else None,
            "look_for_keys": False,
            "allow_agent": False,
            "timeout": s.timeout,
            "banner_timeout": s.timeout,
            "auth_timeout": s.timeout,
        }

    def _connect_error(self, error: BaseException) -> HdhError:
        s = self._settings
        if isinstance(error, HdhError):
            return error
        if isinstance(error, paramiko.BadHostKeyException):
            return AuthError(
                f"sftp {s.host}:{s.port}: host key does not match {s.known_hosts}",
                hint="the server key changed or someone is in between: verify before updating",
            )
        if isinstance(error, paramiko.AuthenticationException):
            return AuthError(
                f"{self.name}: authentication refused", hint="check user, key and password"
            )
        message = f"{self.name}: cannot connect ({type(error).__name__})"
        if self._reached:
            return ConnectionFailedError(message, endpoint=self.name, hint=_UNREACHABLE)
        return UnreachableError(message, hint=_UNREACHABLE)


_UNREACHABLE = "check host and port, and that the SSH server runs"


def load_key(settings: SshSettings) -> paramiko.PKey:
    """The private key from key text or a key file path. Raises AuthError."""
    assert settings.key is not None
    text = reveal_private(settings.key).decode("utf-8", "replace").strip()
    if "PRIVATE KEY-----" not in text:
        try:
            path = Path(text).expanduser()
            refuse_shared_file(path, f"the private key file of sftp {settings.where}")
            text = path.read_text()
        except OSError:
            raise AuthError(f"cannot read the private key file of sftp {settings.where}") from None
    passphrase = settings.passphrase.reveal() if settings.passphrase is not None else None
    for key_type in _KEY_TYPES:
        with contextlib.suppress(paramiko.SSHException, ValueError):
            return key_type.from_private_key(io.StringIO(text), password=passphrase)
    raise AuthError(
        f"cannot load the private key for sftp {settings.where}",
        hint="expected an OpenSSH/PEM ed25519, ECDSA or RSA key (is the passphrase right?)",
    )


class WindowReader(io.RawIOBase):
    """Reads ``[start, end)`` of an open SFTP file, prefetching ``window`` bytes at a time
    (paramiko keeps prefetched data until read, so one window bounds memory)."""

    CHUNK = 32768  # paramiko's largest read request

    def __init__(
        self,
        handle: paramiko.SFTPFile,
        start: int,
        end: int,
        window: int,
        key: str,
        release: Callable[[bool], None],
    ) -> None:
        super().__init__()
        self._handle, self._pos, self._end = handle, start, end
        self._window, self._left, self._key = window, 0, key
        self._release: Callable[[bool], None] | None = release
        self._broken = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._pos >= self._end:
            return 0
        try:
            data = self._next(len(buffer))
        except (OSError, *CONNECTION_ERRORS) as error:
            self._broken = isinstance(error, CONNECTION_ERRORS)
            message = f"sftp read {self._key!r}: {type(error).__name__}"
            raise RetryableError(message, key=self._key) from None
        if not data:
            message = f"sftp read {self._key!r}: the file shrank while being read"
            raise PreconditionFailedError(message, key=self._key)
        buffer[: len(data)] = data
        self._pos += len(data)
        self._left -= len(data)
        return len(data)

    def _next(self, wanted: int) -> bytes:
        if self._left <= 0:
            self._left = min(self._window, self._end - self._pos)
            self._handle.seek(self._pos)
            self._handle.prefetch(self._pos + self._left)
        return bytes(self._handle.read(min(wanted, self._left, self.CHUNK)))

    def close(self) -> None:
        if self._release is not None:
            with contextlib.suppress(Exception):
                self._handle.close()
            self._release(self._broken)
            self._release = None
        super().close()


# -- remote commands (cutover hooks) -----------------------------------------------------------


@dataclass(frozen=True)
class CommandOutcome:
    """What a remote command did. ``output`` holds the last bytes of stdout and stderr
    (combined), ``dropped`` how many earlier bytes were not kept; ``exit_status`` is None
    when the command timed out (its channel was closed)."""

    exit_status: int | None
    output: bytes
    dropped: int = 0

    @property
    def timed_out(self) -> bool:
        return self.exit_status is None


def run_command(
    config: SshSpec | Mapping[str, Any],
    command: str,
    *,
    timeout: float,
    max_output: int = 64 * 1024,
) -> CommandOutcome:
    """Run ``command`` through the login shell of the SSH host described by ``config`` (the
    backend's host, port, user, key/password, known_hosts, connect_timeout; no root).

    The host key is checked exactly as for the backend (known_hosts only, never added).
    Errors raised before the command started — UnreachableError/RetryableError (safe to
    retry), AuthError, UsageError — are the only exceptions; once the command started the
    outcome is returned, whatever it is. On timeout the channel is closed: sshd hangs up
    on the command, which may or may not stop it. Memory holds at most ``max_output`` bytes.
    """
    settings = SshSettings.from_spec(config) if isinstance(config, SshSpec) else SshSettings(config)
    host = SshHost(settings, f"sftp://{settings.where}/")  # the name an SftpBackend on "/" has
    ssh = host._connect()
    try:
        channel = _open_exec(host, ssh, command)
        return _collect(channel, time.monotonic() + timeout, max_output)
    finally:
        ssh.close()


def _open_exec(host: SshHost, ssh: paramiko.SSHClient, command: str) -> paramiko.Channel:
    transport = ssh.get_transport()
    try:
        if transport is None:
            raise EOFError("no transport")
        channel = transport.open_session(timeout=host._settings.timeout)
        channel.set_combine_stderr(True)
        channel.exec_command(command)
    except CONNECTION_ERRORS as error:
        raise RetryableError(
            f"{host.name}: cannot start the command ({type(error).__name__})"
        ) from None
    return channel


def _collect(channel: paramiko.Channel, deadline: float, max_output: int) -> CommandOutcome:
    tail, dropped = bytearray(), 0
    channel.settimeout(0.2)
    while True:
        if time.monotonic() > deadline:
            channel.close()
            return CommandOutcome(None, bytes(tail), dropped)
        try:
            data = channel.recv(32768)
        except TimeoutError:
            continue
        if not data:
            break
        tail += data
        if len(tail) > max_output:
            dropped += len(tail) - max_output
            del tail[: len(tail) - max_output]
    while not channel.exit_status_ready():
        if time.monotonic() > deadline:
            channel.close()
            return CommandOutcome(None, bytes(tail), dropped)
        time.sleep(0.05)
    return CommandOutcome(channel.recv_exit_status(), bytes(tail), dropped)

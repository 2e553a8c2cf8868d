"""SFTP backend (paramiko): the only module importing paramiko. It also runs remote
commands for cutover hooks (``run_command``, at the end), over the same host-key-checked
connection code, so that paramiko stays in this one module.

Config (plain values; secrets as ``SecretRef``, a ``${env:…}``/``${file:…}`` string, or a
plain string in tests)::

    host: sftp.example.org          required
    port: 22
    user: NAME                      required
    key: SECRET                     private key text (``${file:/path/id_ed25519}``), or a path
    key_passphrase: SECRET          optional
    password: SECRET                optional (key, password, or both)
    known_hosts: PATH               REQUIRED: the server's host key must be in it
    root: /srv/data                 required: keys are paths relative to this directory
    page_size: 100                  directory entries requested ahead per round trip
    channels: 4                     SFTP channels at most in use at once on the one connection
    read_window: 8MiB               bytes prefetched at a time by a read stream
    connect_timeout: 15             seconds

Contracts, beyond ``base.Backend``:

- Host keys are checked against ``known_hosts`` only (never the user's, never added): an
  unknown or changed host key raises AuthError naming the host and the file.
- ``list`` walks the tree depth-first with an explicit stack, reading one directory at a
  time and sorting its entries so that keys come out in byte order (a directory ``d``
  sorts as ``d/``). Only regular files are objects; symlinks are not followed. Empty
  directories are invisible; ``delete`` leaves them in place. ``list`` yields no metadata
  (as S3); ``stat`` does.
- ETag: ``"<mtime hex>-<size hex>"`` (SFTP v3 has whole-second mtimes and no content hash):
  an overwrite within the same second with the same size is not detected. ``if_match``
  is compared at open (``conditional_read=False``: the server does not enforce it); the
  open handle then keeps reading the same file even if a writer renames a new one over it.
- Every call borrows one of ``channels`` SFTP channels; an open read stream keeps its
  channel until closed, so a caller holding more open streams than ``channels`` makes the
  next call wait (RetryableError after 300 s).
- ``write`` writes ``.<name>.hdhtmp-<id>`` in the target directory (parents created), checks
  size and any expected checksums (computed locally), then renames it over the key
  (``posix-rename``; with ``if_none_match``, a plain SFTP rename, which OpenSSH refuses
  when the key exists). A failure removes the temporary file.
- Content headers and user metadata live in a sidecar ``.<name>.hdhmeta.json`` naming the
  ETag it belongs to; a sidecar whose ETag no longer matches the file is ignored. Names
  of the form ``.<x>.hdhmeta.json`` and ``.<x>.hdhtmp-…`` are reserved: never listed,
  refused as keys. (These naming, order, ETag and sidecar rules: ``sftp_layout``.)
- Errors: no such file → NotFoundError; permission denied → AuthError; a connection lost
  or reset → RetryableError; a connection that cannot be opened → UnreachableError until
  this backend once connected, RetryableError afterwards; other SFTP failures →
  PermanentError.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import io
import posixpath
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Self, cast

import paramiko

from hdh_migrate.backends import config_values as cv
from hdh_migrate.backends.base import Capabilities, ObjectInfo, WriteOptions
from hdh_migrate.backends.checksums import ALGORITHMS, pump
from hdh_migrate.backends.sftp_layout import (
    MAX_SIDECAR,
    encode_sidecar,
    etag_of,
    is_dir,
    is_file,
    is_reserved,
    may_hold,
    needs_sidecar,
    parse_sidecar,
    sidecar,
    sidecar_path,
    sort_name,
    temp_path,
    valid_key,
)
from hdh_migrate.errors import (
    AuthError,
    HdhError,
    NotFoundError,
    PermanentError,
    PreconditionFailedError,
    RetryableError,
    UnreachableError,
    UsageError,
)

KIND = "sftp"
MiB = 1024 * 1024
_KEY_TYPES = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)
_CONNECTION_ERRORS = (EOFError, ConnectionError, socket.timeout, paramiko.SSHException)


class _Settings:
    """Connection settings; secrets stay references until ``connect``."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.host = cv.required(config, "host", KIND)
        self.port = cv.count(config, "port", 22, KIND)
        self.user = cv.required(config, "user", KIND)
        self.known_hosts = Path(cv.required(config, "known_hosts", KIND)).expanduser()
        self.key = cv.secret(config, "key")
        self.passphrase = cv.secret(config, "key_passphrase")
        self.password = cv.secret(config, "password")
        self.timeout = float(config.get("connect_timeout", 15))
        if self.key is None and self.password is None:
            raise UsageError(f"{KIND} backend: give key or password", hint="key: ${file:/path}")

    @property
    def where(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


class _Reject(paramiko.MissingHostKeyPolicy):
    """Refuse unknown host keys with a one-line AuthError naming the host and the file."""

    def __init__(self, settings: _Settings) -> None:
        self._settings = settings

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: Any) -> None:
        digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
        raise AuthError(
            f"sftp {hostname}: host key {key.get_name()} SHA256:{digest} is not in "
            f"{self._settings.known_hosts}",
            hint="check the fingerprint out of band, then add the key to that known_hosts file",
        )


class _Channels:
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


class SftpBackend:
    """One directory tree on an SFTP server, over one SSH connection."""

    def __init__(
        self,
        settings: _Settings,
        root: str,
        *,
        page_size: int = 100,
        channels: int = 4,
        read_window: int = 8 * MiB,
    ) -> None:
        self._settings = settings
        self.root = posixpath.normpath(root) if root != "/" else "/"
        self.name = f"sftp://{settings.where}{self.root}"
        self.page_size = page_size
        self.read_window = read_window
        self._reached = False
        self._pool = _Channels(self._connect, channels)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        """Build from plain values (see the module docstring). Makes no connection yet."""
        return cls(
            _Settings(config),
            cv.required(config, "root", KIND),
            page_size=cv.count(config, "page_size", 100, KIND),
            channels=cv.count(config, "channels", 4, KIND),
            read_window=cv.size(config, "read_window", 8 * MiB, KIND),
        )

    def __repr__(self) -> str:
        return f"SftpBackend({self.name})"

    # -- connection and errors ----------------------------------------------------------------

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
            "pkey": _load_key(s) if s.key is not None else None,
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
        cls: type[HdhError] = RetryableError if self._reached else UnreachableError
        return cls(f"{self.name}: cannot connect ({type(error).__name__})", hint=_UNREACHABLE)

    @contextlib.contextmanager
    def _channel(self, action: str, key: str | None = None) -> Iterator[paramiko.SFTPClient]:
        """A channel for one operation; SFTP and connection errors are translated."""
        client = self._pool.acquire()
        broken = False
        try:
            yield client
        except HdhError:
            raise
        except (OSError, *_CONNECTION_ERRORS) as error:
            broken = isinstance(error, _CONNECTION_ERRORS)
            raise self._translate(error, action, key) from None
        finally:
            self._pool.release(client, broken)

    def _translate(self, error: BaseException, action: str, key: str | None) -> HdhError:
        where = f"{self.name}: {action}" + (f" {key!r}" if key is not None else "")
        if isinstance(error, _CONNECTION_ERRORS):
            return RetryableError(f"{where}: connection lost ({type(error).__name__})", key=key)
        code = getattr(error, "errno", None)
        if code == errno.ENOENT:
            return NotFoundError(f"{where}: no such file", key=key)
        if code in (errno.EACCES, errno.EPERM):
            return AuthError(f"{where}: permission denied", hint="check the account's rights")
        return PermanentError(f"{where}: {error.args[-1] if error.args else 'failure'}", key=key)

    # -- paths --------------------------------------------------------------------------------

    def _path(self, key: str) -> str:
        """The absolute server path of ``key``. Raises PermanentError for an invalid key."""
        if not valid_key(key):
            raise PermanentError(f"{self.name}: invalid key {key!r}", key=key)
        return posixpath.join(self.root, key)

    # -- the contract -------------------------------------------------------------------------

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Regular files under ``prefix`` in byte order, one directory listing at a time."""
        stack = [self._entries(prefix.rpartition("/")[0])]
        while stack:
            entry = next(stack[-1], None)
            if entry is None:
                stack.pop()
                continue
            key, attrs = entry
            if is_dir(attrs) and may_hold(key + "/", prefix):
                stack.append(self._entries(key))
            elif is_file(attrs) and key.startswith(prefix):
                yield _info(key, attrs)

    def _entries(self, directory: str) -> Iterator[tuple[str, paramiko.SFTPAttributes]]:
        """The sorted entries of one directory (missing → none), listed when first asked."""
        path = posixpath.join(self.root, directory) if directory else self.root
        found: list[paramiko.SFTPAttributes] = []
        with contextlib.suppress(NotFoundError), self._channel("list", directory or "/") as c:
            found = [a for a in c.listdir_iter(path, self.page_size) if not is_reserved(a.filename)]
        found.sort(key=sort_name)  # the channel is back in the pool while the caller iterates
        for attrs in found:
            yield (f"{directory}/{attrs.filename}" if directory else attrs.filename), attrs

    def stat(self, key: str) -> ObjectInfo:
        """The file's size, mtime, ETag, and the sidecar's headers and metadata."""
        path = self._path(key)
        with self._channel("stat", key) as client:
            attrs = client.stat(path)
            if not is_file(attrs):
                raise NotFoundError(f"{self.name}: {key!r} is not a file", key=key)
            doc = _read_sidecar(client, sidecar_path(path), etag_of(attrs))
        return _info(key, attrs, doc)

    def open_read(
        self, key: str, range: tuple[int, int] | None = None, if_match: str | None = None
    ) -> BinaryIO:
        """A stream of the file or of the inclusive ``range``, prefetched window by window.
        The stream holds one channel until closed."""
        path = self._path(key)
        if range is not None and (range[0] < 0 or range[1] < range[0]):
            raise ValueError(f"invalid range {range}: expected 0 <= start <= end")
        client = self._pool.acquire()
        try:
            handle, start, end = self._open(client, path, key, range, if_match)
        except BaseException as error:
            self._pool.release(client, isinstance(error, _CONNECTION_ERRORS))
            if isinstance(error, OSError | EOFError | paramiko.SSHException):
                raise self._translate(error, "read", key) from None
            raise
        reader = _WindowReader(handle, start, end, self.read_window, key, self._on_close(client))
        return cast(BinaryIO, io.BufferedReader(reader, buffer_size=64 * 1024))

    def _open(
        self,
        client: paramiko.SFTPClient,
        path: str,
        key: str,
        range: tuple[int, int] | None,
        if_match: str | None,
    ) -> tuple[paramiko.SFTPFile, int, int]:
        handle = client.open(path, "rb")
        try:
            attrs = handle.stat()
            size = int(attrs.st_size or 0)
            if not is_file(attrs):
                raise NotFoundError(f"{self.name}: {key!r} is not a file", key=key)
            if if_match is not None and if_match != etag_of(attrs):
                raise PreconditionFailedError(f"{self.name}: {key!r} changed (ETag)", key=key)
            if range is not None and range[0] >= size:
                raise PermanentError(f"{self.name}: range {range} is past the end", key=key)
            start, end = range if range is not None else (0, size - 1)
            return handle, start, min(end, size - 1) + 1
        except BaseException:
            handle.close()
            raise

    def _on_close(self, client: paramiko.SFTPClient) -> Callable[[bool], None]:
        def release(broken: bool) -> None:
            self._pool.release(client, broken)

        return release

    def write(
        self, key: str, stream: BinaryIO, size: int, options: WriteOptions | None = None
    ) -> ObjectInfo:
        """Write a temporary file, check it, then rename it over ``key`` (atomic)."""
        opts = options or WriteOptions()
        path = self._path(key)
        temp = temp_path(path, uuid.uuid4().hex[:12])
        with self._channel("write", key) as client:
            self._makedirs(client, posixpath.dirname(path), key)
            try:
                checksums, attrs = self._upload(client, temp, stream, size, opts, key)
                self._publish(client, temp, path, opts, etag_of(attrs), key)
            except BaseException:
                with contextlib.suppress(Exception):
                    client.remove(temp)
                raise
        md5 = checksums.get("md5")
        return _info(key, attrs, sidecar(opts, ""), base64.b64decode(md5) if md5 else None)

    def _upload(
        self,
        client: paramiko.SFTPClient,
        temp: str,
        stream: BinaryIO,
        size: int,
        opts: WriteOptions,
        key: str,
    ) -> tuple[dict[str, str], paramiko.SFTPAttributes]:
        unknown = set(opts.checksums) - set(ALGORITHMS)
        if unknown:
            raise PermanentError(f"{self.name}: unsupported checksum {sorted(unknown)}", key=key)
        with client.open(temp, "wb") as handle:
            handle.set_pipelined(True)
            checksums = pump(stream, size, handle.write, key=key, expected=opts.checksums)
        attrs = client.stat(temp)
        if attrs.st_size != size:
            raise PermanentError(f"{self.name}: {key!r}: stored size differs", key=key)
        return checksums, attrs

    def _publish(
        self,
        client: paramiko.SFTPClient,
        temp: str,
        path: str,
        opts: WriteOptions,
        etag: str,
        key: str,
    ) -> None:
        """Sidecar to a temporary name, data over the key, then the sidecar in place."""
        meta_path, doc = sidecar_path(path), sidecar(opts, etag)
        meta_temp = f"{temp}.meta" if needs_sidecar(doc) else None
        if meta_temp is not None:
            with client.open(meta_temp, "wb") as handle:
                handle.write(encode_sidecar(doc))
        try:
            self._rename(client, temp, path, opts.if_none_match, key)
        except BaseException:
            if meta_temp is not None:
                with contextlib.suppress(Exception):
                    client.remove(meta_temp)
            raise
        if meta_temp is not None:
            client.posix_rename(meta_temp, meta_path)
        else:
            with contextlib.suppress(FileNotFoundError):
                client.remove(meta_path)

    def _rename(
        self, client: paramiko.SFTPClient, temp: str, path: str, exclusive: bool, key: str
    ) -> None:
        if not exclusive:
            client.posix_rename(temp, path)
            return
        try:
            client.rename(temp, path)  # OpenSSH: link(2) + unlink(2), refuses an existing path
        except OSError as error:
            with contextlib.suppress(FileNotFoundError):
                client.stat(path)
                raise PreconditionFailedError(f"{self.name}: {key!r} exists", key=key) from None
            raise error

    def _makedirs(self, client: paramiko.SFTPClient, directory: str, key: str) -> None:
        """Create ``directory`` and its parents below the root (the root must exist)."""
        with contextlib.suppress(FileNotFoundError):
            if is_dir(client.stat(directory)):
                return
        relative = posixpath.relpath(directory, self.root)
        parts = [] if relative == "." else relative.split("/")
        for depth in range(1, len(parts) + 1):
            current = posixpath.join(self.root, *parts[:depth])
            try:
                client.mkdir(current)
            except OSError:
                if not is_dir(client.stat(current)):
                    message = f"{self.name}: {current} is not a directory"
                    raise PermanentError(message, key=key) from None

    def delete(self, key: str) -> None:
        """Remove the file and its sidecar; a missing file is fine."""
        path = self._path(key)
        with self._channel("delete", key) as client:
            for target in (path, sidecar_path(path)):
                with contextlib.suppress(FileNotFoundError):
                    client.remove(target)

    def capabilities(self) -> Capabilities:
        return Capabilities(
            conditional_write=True,
            user_metadata=True,
            checksum_algorithms=ALGORITHMS,
        )

    def close(self) -> None:
        self._pool.close()

    # -- the root (tests, rehearsals) ---------------------------------------------------------

    def ensure_root(self) -> None:
        """Create the root directory and its missing parents. Idempotent."""
        with self._channel("create root") as client:
            current = ""
            for part in self.root.strip("/").split("/"):
                current = f"{current}/{part}"
                with contextlib.suppress(OSError):
                    client.mkdir(current)

    def remove_root(self) -> None:
        """Delete the root directory and everything below it. A missing root is fine."""
        with contextlib.suppress(NotFoundError), self._channel("remove root") as client:
            _remove_tree(client, self.root)


def _remove_tree(client: paramiko.SFTPClient, top: str) -> None:
    """Depth-first removal with an explicit stack (no recursion limit)."""
    stack, directories = [top], []
    while stack:
        current = stack.pop()
        directories.append(current)
        for attrs in client.listdir_attr(current):  # a full listing: no requests interleaved
            path = posixpath.join(current, attrs.filename)
            if is_dir(attrs):
                stack.append(path)
            else:
                client.remove(path)
    for directory in reversed(directories):
        client.rmdir(directory)


_UNREACHABLE = "check host and port, and that the SSH server runs"


def _load_key(settings: _Settings) -> paramiko.PKey:
    """The private key from key text or a key file path. Raises AuthError."""
    assert settings.key is not None
    text = settings.key.reveal()
    if "PRIVATE KEY-----" not in text:
        try:
            text = Path(text).expanduser().read_text()
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


def _read_sidecar(client: paramiko.SFTPClient, path: str, etag: str) -> dict[str, Any] | None:
    """The sidecar document when it exists and belongs to ``etag``, else None."""
    try:
        with client.open(path, "rb") as handle:
            raw = handle.read(MAX_SIDECAR)
    except FileNotFoundError:
        return None
    return parse_sidecar(raw, etag)


def _info(
    key: str,
    attrs: paramiko.SFTPAttributes,
    sidecar: Mapping[str, Any] | None = None,
    md5: bytes | None = None,
) -> ObjectInfo:
    mtime = attrs.st_mtime
    return ObjectInfo(
        key=key,
        size=int(attrs.st_size or 0),
        etag=etag_of(attrs),
        last_modified=datetime.fromtimestamp(mtime, UTC) if mtime is not None else None,
        content_md5=md5,
        content=dict((sidecar or {}).get("content", {})),
        metadata=dict((sidecar or {}).get("metadata", {})),
    )


class _WindowReader(io.RawIOBase):
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
        except (OSError, *_CONNECTION_ERRORS) as error:
            self._broken = isinstance(error, _CONNECTION_ERRORS)
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
    config: Mapping[str, Any], command: str, *, timeout: float, max_output: int = 64 * 1024
) -> CommandOutcome:
    """Run ``command`` through the login shell of the SSH host described by ``config`` (the
    backend's host, port, user, key/password, known_hosts, connect_timeout; no root).

    The host key is checked exactly as for the backend (known_hosts only, never added).
    Errors raised before the command started — UnreachableError/RetryableError (safe to
    retry), AuthError, UsageError — are the only exceptions; once the command started the
    outcome is returned, whatever it is. On timeout the channel is closed: sshd hangs up
    on the command, which may or may not stop it. Memory holds at most ``max_output`` bytes.
    """
    backend = SftpBackend(_Settings(config), "/")
    ssh = backend._connect()
    try:
        channel = _open_exec(backend, ssh, command)
        return _collect(channel, time.monotonic() + timeout, max_output)
    finally:
        ssh.close()


def _open_exec(backend: SftpBackend, ssh: paramiko.SSHClient, command: str) -> paramiko.Channel:
    transport = ssh.get_transport()
    try:
        if transport is None:
            raise EOFError("no transport")
        channel = transport.open_session(timeout=backend._settings.timeout)
        channel.set_combine_stderr(True)
        channel.exec_command(command)
    except _CONNECTION_ERRORS as error:
        raise RetryableError(
            f"{backend.name}: cannot start the command ({type(error).__name__})"
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

"""SFTP backend: one directory tree on an SFTP server. The connection, the channel pool,
the read stream and every paramiko type come from ``hdh_migrate.remote.ssh`` (the only
module importing paramiko, which also runs remote commands for cutover hooks:
``run_command``, re-exported here), the connection settings from ``remote.spec``.

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
import io
import posixpath
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, BinaryIO, Self, cast

from hdh_migrate import config_values as cv
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
from hdh_migrate.backends.specs import SftpSpec, spec_values
from hdh_migrate.errors import (
    AuthError,
    HdhError,
    NotFoundError,
    PermanentError,
    PreconditionFailedError,
    RetryableError,
)
from hdh_migrate.remote.spec import KIND
from hdh_migrate.remote.spec import SshSettings as _Settings
from hdh_migrate.remote.ssh import (
    CONNECTION_ERRORS,
    Channels,
    CommandOutcome,
    SFTPAttributes,
    SFTPClient,
    SFTPFile,
    SSHException,
    SshHost,
    WindowReader,
    run_command,
)

__all__ = ["KIND", "CommandOutcome", "SftpBackend", "run_command"]

MiB = 1024 * 1024


class SftpBackend(SshHost):
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
        root = posixpath.normpath(root) if root != "/" else "/"
        super().__init__(settings, f"sftp://{settings.where}{root}")
        self.root = root
        self.page_size = page_size
        self.read_window = read_window
        self._pool = Channels(self._connect, channels)

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

    @classmethod
    def from_spec(cls, spec: SftpSpec) -> Self:
        """The backend of a plan's typed spec, through the checks plain config gets."""
        return cls.from_config(spec_values(spec))

    def __repr__(self) -> str:
        return f"SftpBackend({self.name})"

    @contextlib.contextmanager
    def _channel(self, action: str, key: str | None = None) -> Iterator[SFTPClient]:
        """A channel for one operation; SFTP and connection errors are translated."""
        client = self._pool.acquire()
        broken = False
        try:
            yield client
        except HdhError:
            raise
        except (OSError, *CONNECTION_ERRORS) as error:
            broken = isinstance(error, CONNECTION_ERRORS)
            raise self._translate(error, action, key) from None
        finally:
            self._pool.release(client, broken)

    def _translate(self, error: BaseException, action: str, key: str | None) -> HdhError:
        where = f"{self.name}: {action}" + (f" {key!r}" if key is not None else "")
        if isinstance(error, CONNECTION_ERRORS):
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

    def _entries(self, directory: str) -> Iterator[tuple[str, SFTPAttributes]]:
        """The sorted entries of one directory (missing → none), listed when first asked."""
        path = posixpath.join(self.root, directory) if directory else self.root
        found: list[SFTPAttributes] = []
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
            self._pool.release(client, isinstance(error, CONNECTION_ERRORS))
            if isinstance(error, OSError | EOFError | SSHException):
                raise self._translate(error, "read", key) from None
            raise
        reader = WindowReader(handle, start, end, self.read_window, key, self._on_close(client))
        return cast(BinaryIO, io.BufferedReader(reader, buffer_size=64 * 1024))

    def _open(
        self,
        client: SFTPClient,
        path: str,
        key: str,
        range: tuple[int, int] | None,
        if_match: str | None,
    ) -> tuple[SFTPFile, int, int]:
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

    def _on_close(self, client: SFTPClient) -> Callable[[bool], None]:
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
        client: SFTPClient,
        temp: str,
        stream: BinaryIO,
        size: int,
        opts: WriteOptions,
        key: str,
    ) -> tuple[dict[str, str], SFTPAttributes]:
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
        client: SFTPClient,
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

    def _rename(self, client: SFTPClient, temp: str, path: str, exclusive: bool, key: str) -> None:
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

    def _makedirs(self, client: SFTPClient, directory: str, key: str) -> None:
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


def _remove_tree(client: SFTPClient, top: str) -> None:
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


def _read_sidecar(client: SFTPClient, path: str, etag: str) -> dict[str, Any] | None:
    """The sidecar document when it exists and belongs to ``etag``, else None."""
    try:
        with client.open(path, "rb") as handle:
            raw = handle.read(MAX_SIDECAR)
    except FileNotFoundError:
        return None
    return parse_sidecar(raw, etag)


def _info(
    key: str,
    attrs: SFTPAttributes,
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

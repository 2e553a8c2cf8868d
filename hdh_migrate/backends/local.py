"""A directory as a backend: keys are relative paths under ``root``.

Keys map to paths component by component; empty components, ``.``, ``..``, NUL and names
starting with ``.hdh-`` (reserved for temp files and the metadata tree) are refused, so a
key can never escape the root. Symbolic links inside the root are never followed: the
listing skips them, and reads walk the key's directories with ``O_NOFOLLOW`` under
directory file descriptors, so a link (even one swapped in after listing) reads as "not
found" instead of exposing a file outside the root; writes refuse a parent that resolves
outside the root. Writes go to a temp file in the target directory, are fsynced, then published
with ``os.replace`` (``os.link`` when ``if_none_match``: atomic create-if-absent), and the
directory is fsynced. Files are created mode 0600.

Metadata (content headers, user metadata, validated checksums) lives in a JSON sidecar
``<root>/.hdh-meta/<key>.json`` that records the identity (inode, mtime, size) of the
data file it describes; a sidecar whose identity does not match the file is ignored, so a
crash or a racing writer can lose metadata but never attach it to the wrong bytes.

ETag = ``<inode>-<mtime_ns>-<size>`` in hex: every publish creates a new inode, so an
overwrite always changes it. ``list`` walks directories lazily, each directory sorted so
keys come out in byte order; memory is bounded by the largest single directory, not by
the tree. ``list`` fills size/etag/last_modified only (like S3 listings); ``stat`` adds
the metadata.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import errno
import io
import json
import os
import stat as stat_mod
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Self

from hdh_migrate.backends.base import Capabilities, ObjectInfo, WriteOptions
from hdh_migrate.backends.checksums import ALGORITHMS, pump
from hdh_migrate.backends.memory import slice_range
from hdh_migrate.backends.specs import LocalSpec
from hdh_migrate.errors import NotFoundError, PermanentError, PreconditionFailedError

RESERVED = ".hdh-"
META_DIR = ".hdh-meta"


def _etag(st: os.stat_result) -> str:
    return f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"


def key_parts(key: str) -> list[str]:
    """The path components of ``key``; raises PermanentError for a key that is not safe."""
    parts = key.split("/")
    for part in parts:
        if part in ("", ".", "..") or "\0" in part or part.startswith(RESERVED):
            raise PermanentError(
                f"key {key!r} cannot be stored in a directory",
                key=key,
                hint="keys are relative, without empty, '.', '..' or '.hdh-' components",
            )
    return parts


class LocalBackend:
    """Objects as files under ``root``. Config: ``root`` (required), ``page_size`` (ignored:
    the walk is lazy), ``create`` (make ``root`` if missing, default True)."""

    def __init__(self, root: str | Path, *, create: bool = True) -> None:
        self.root = Path(root).expanduser().absolute()
        self.name = f"local://{self.root}"
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
        if not self.root.is_dir():
            raise PermanentError(f"{self.name} is not a directory", hint="create it first")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        if "root" not in config:
            raise PermanentError("local backend needs a 'root' directory")
        return cls(config["root"], create=bool(config.get("create", True)))

    @classmethod
    def from_spec(cls, spec: LocalSpec) -> Self:
        return cls(spec.root, create=spec.create)

    # -- paths -----------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*key_parts(key))

    def _meta_path(self, key: str) -> Path:
        parts = key_parts(key)
        return self.root.joinpath(META_DIR, *parts[:-1], parts[-1] + ".json")

    # -- listing ---------------------------------------------------------------------------

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every file whose key starts with ``prefix``, in key order, walked lazily."""
        head, _, _ = prefix.rpartition("/")
        try:
            start = self.root.joinpath(*key_parts(head)) if head else self.root
        except PermanentError:
            return
        yield from self._walk(str(start), head + "/" if head else "", prefix)

    def _walk(self, directory: str, key_prefix: str, prefix: str) -> Iterator[ObjectInfo]:
        # Plain strings, not pathlib: pathlib interns every component it parses, which
        # would grow memory with the number of names listed.
        for entry in _sorted_entries(directory):
            if entry.endswith("/"):
                key = key_prefix + entry
                if key.startswith(prefix) or prefix.startswith(key):
                    yield from self._walk(os.path.join(directory, entry[:-1]), key, prefix)
            elif (key := key_prefix + entry).startswith(prefix):
                info = _list_info(os.path.join(directory, entry), key)
                if info is not None:
                    yield info

    # -- reading ---------------------------------------------------------------------------

    def stat(self, key: str) -> ObjectInfo:
        parts = self._read_parts(key)
        try:
            parent = self._open_parent(parts)
            try:
                st = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
            finally:
                os.close(parent)
        except OSError:  # missing, or a link on the way (ELOOP, ENOTDIR)
            raise NotFoundError(f"{self.name}: no object {key!r}", key=key) from None
        if not stat_mod.S_ISREG(st.st_mode):
            raise NotFoundError(f"{self.name}: {key!r} is not a regular file", key=key)
        return self._with_sidecar(_file_info(key, st), st)

    def _read_parts(self, key: str) -> builtins.list[str]:
        """``key_parts`` for a read: a key no directory can hold (a ``.hdh-`` sidecar name,
        ``..``) names no object here, so reading it is NotFoundError, as on a bucket."""
        try:
            return key_parts(key)
        except PermanentError:
            raise NotFoundError(f"{self.name}: no object {key!r}", key=key) from None

    def _open_parent(self, parts: Sequence[str]) -> int:
        """A file descriptor on the directory holding ``parts[-1]``, reached without
        following any symbolic link below the root (OSError ELOOP/ENOTDIR otherwise)."""
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for part in parts[:-1]:
                nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = nxt
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _open_file(self, key: str) -> io.BufferedReader:
        """The regular file named by ``key``, opened without following a link."""
        parts = self._read_parts(key)
        try:
            parent = self._open_parent(parts)
            try:
                flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
                fd = os.open(parts[-1], flags, dir_fd=parent)
            finally:
                os.close(parent)
        except OSError:
            raise NotFoundError(f"{self.name}: no object {key!r}", key=key) from None
        if not stat_mod.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise NotFoundError(f"{self.name}: {key!r} is not a regular file", key=key)
        return os.fdopen(fd, "rb")

    def _with_sidecar(self, info: ObjectInfo, st: os.stat_result) -> ObjectInfo:
        try:
            sidecar = json.loads(self._meta_path(info.key).read_text("utf-8"))
        except (FileNotFoundError, NotADirectoryError, ValueError):
            return info
        if sidecar.get("identity") != _etag(st):
            return info
        checksums: dict[str, str] = sidecar.get("checksums", {})
        md5 = checksums.get("md5")
        return ObjectInfo(
            key=info.key,
            size=info.size,
            etag=info.etag,
            last_modified=info.last_modified,
            content_md5=_b64decode(md5) if md5 else None,
            content=sidecar.get("content", {}),
            metadata=sidecar.get("metadata", {}),
            extra={f"checksum_{k}": v for k, v in checksums.items() if k != "md5"},
        )

    def open_read(
        self, key: str, range: tuple[int, int] | None = None, if_match: str | None = None
    ) -> BinaryIO:
        """The open file (or a bounded view of the inclusive ``range``). The ETag is checked
        on the opened file itself, so the bytes read are the bytes the ETag names."""
        handle = self._open_file(key)
        try:
            return self._prepare_read(handle, key, range, if_match)
        except BaseException:
            handle.close()
            raise

    def _prepare_read(
        self,
        handle: io.BufferedReader,
        key: str,
        range: tuple[int, int] | None,
        if_match: str | None,
    ) -> BinaryIO:
        st = os.fstat(handle.fileno())
        if if_match is not None and if_match != _etag(st):
            raise PreconditionFailedError(f"{self.name}: {key!r} changed (ETag)", key=key)
        if range is None:
            return handle
        window = slice_range(range, st.st_size, key)
        handle.seek(window.start)
        return io.BufferedReader(_Bounded(handle, window.stop - window.start))

    # -- writing ---------------------------------------------------------------------------

    def write(
        self, key: str, stream: BinaryIO, size: int, options: WriteOptions | None = None
    ) -> ObjectInfo:
        """Temp file + fsync + rename; a short/long stream or bad checksum leaves nothing."""
        opts = options or WriteOptions()
        path = self._path(key)
        tmp = self._make_temp(path, key)
        try:
            with tmp.open("wb") as out:
                checksums = pump(
                    stream, size, _fs_sink(out.write, key), key=key, expected=opts.checksums
                )
                _fs(out.flush, key)
                _fs(lambda: os.fsync(out.fileno()), key)
                st = os.fstat(out.fileno())
            has_meta = bool(opts.content or opts.metadata or checksums)
            if has_meta and not opts.if_none_match:  # metadata lands with the bytes
                self._write_sidecar(key, st, opts, checksums)
            self._publish(tmp, path, key, opts.if_none_match)
            if not has_meta:
                self._drop_sidecar(key)
            elif opts.if_none_match:  # only once we know the key was ours to create
                self._write_sidecar(key, st, opts, checksums)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        info = _file_info(key, st)
        return self._with_sidecar(info, st)

    def _make_temp(self, path: Path, key: str) -> Path:
        for _ in range(3):  # a concurrent delete may prune the directory we just made
            _fs(lambda: path.parent.mkdir(parents=True, exist_ok=True), key)
            self._inside(path.parent, key)
            try:
                fd, name = tempfile.mkstemp(dir=path.parent, prefix=RESERVED + "tmp-")
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise _fs_error(exc, key) from None
            os.close(fd)
            return Path(name)
        raise PermanentError(f"{self.name}: cannot create a temp file for {key!r}", key=key)

    def _inside(self, directory: Path, key: str) -> None:
        """Refuse a directory that a symbolic link takes out of the root."""
        real, root = os.path.realpath(directory), os.path.realpath(self.root)
        if real != root and not real.startswith(root + os.sep):
            raise PermanentError(
                f"{self.name}: a parent of {key!r} is a link out of the root", key=key
            )

    def _publish(self, tmp: Path, path: Path, key: str, if_none_match: bool) -> None:
        if if_none_match:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise PreconditionFailedError(
                    f"{self.name}: {key!r} already exists", key=key
                ) from None
            except OSError as exc:
                raise _fs_error(exc, key) from None
            tmp.unlink()
        else:
            _fs(lambda: os.replace(tmp, path), key)
        _fsync_dir(path.parent)

    def _write_sidecar(
        self, key: str, st: os.stat_result, opts: WriteOptions, checksums: Mapping[str, str]
    ) -> None:
        meta = self._meta_path(key)
        record = {
            "identity": _etag(st),
            "content": dict(opts.content),
            "metadata": dict(opts.metadata),
            "checksums": dict(checksums),
        }
        _fs(lambda: meta.parent.mkdir(parents=True, exist_ok=True), key)
        fd, name = tempfile.mkstemp(dir=meta.parent, prefix=RESERVED + "tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(record, out, sort_keys=True)
        _fs(lambda: os.replace(name, meta), key)

    def _drop_sidecar(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            self._meta_path(key).unlink()

    # -- deleting ----------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        """Unlink the file and its sidecar; prune directories left empty. Idempotent."""
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            pass
        except OSError as exc:
            raise _fs_error(exc, key) from None
        self._drop_sidecar(key)
        meta = self._meta_path(key)
        _prune(path.parent, self.root)
        _prune(meta.parent, self.root)

    def capabilities(self) -> Capabilities:
        return Capabilities(
            conditional_read=True,
            conditional_write=True,
            checksum_algorithms=ALGORITHMS,
        )

    def close(self) -> None:
        """Nothing to release."""


# -- helpers ------------------------------------------------------------------------------


def _list_info(path: str, key: str) -> ObjectInfo | None:
    try:
        st = os.lstat(path)  # a symbolic link is not an object: never followed
    except FileNotFoundError:
        return None  # deleted while listing
    return _file_info(key, st) if stat_mod.S_ISREG(st.st_mode) else None


def _sorted_entries(directory: str) -> list[str]:
    """Names in one directory, directories suffixed with '/', sorted as keys sort (one
    string per entry: memory is bounded by the largest directory, ~100 bytes an entry)."""
    try:
        with os.scandir(directory) as entries:
            found = [
                e.name + "/" if e.is_dir(follow_symlinks=False) else e.name
                for e in entries
                if not e.name.startswith(RESERVED)
            ]
    except (FileNotFoundError, NotADirectoryError):
        return []
    found.sort()
    return found


def _file_info(key: str, st: os.stat_result) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=st.st_size,
        etag=_etag(st),
        last_modified=datetime.fromtimestamp(st.st_mtime_ns / 1e9, UTC),
    )


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text)


def _fs_error(exc: OSError, key: str) -> PermanentError:
    reason = os.strerror(exc.errno) if exc.errno else type(exc).__name__
    hint = "a parent of this key is a file" if exc.errno == errno.ENOTDIR else None
    return PermanentError(f"cannot write {key!r}: {reason}", key=key, hint=hint)


def _fs(action: Callable[[], object], key: str) -> None:
    try:
        action()
    except OSError as exc:
        raise _fs_error(exc, key) from None


def _fs_sink(write: Callable[[bytes], int], key: str) -> Callable[[bytes], object]:
    def sink(data: bytes) -> object:
        try:
            return write(data)
        except OSError as exc:
            raise _fs_error(exc, key) from None

    return sink


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prune(directory: Path, stop: Path) -> None:
    """Remove empty directories from ``directory`` up to (not including) ``stop``."""
    while directory != stop and stop in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


class _Bounded(io.RawIOBase):
    """At most ``limit`` bytes of ``inner`` from its current position; closes ``inner``."""

    def __init__(self, inner: io.BufferedReader, limit: int) -> None:
        self._inner = inner
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._left <= 0:
            return 0
        view = memoryview(buffer)[: self._left]
        n = self._inner.readinto(view)
        self._left -= n
        return n

    def close(self) -> None:
        self._inner.close()
        super().close()

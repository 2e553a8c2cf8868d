"""How the SFTP backend lays objects out on a file tree (pure rules, no paramiko).

- A key is a relative ``/``-separated path: no empty, ``.`` or ``..`` segment, no NUL.
- Reserved names, never listed and refused as keys: the metadata sidecar
  ``.<name>.hdhmeta.json`` and temporary files ``.<name>.hdhtmp-<id>`` (a sidecar's
  temporary copy is ``.<name>.hdhtmp-<id>.meta``).
- Listing order: within a directory, a subdirectory ``d`` sorts as ``d/``, so a
  depth-first walk yields keys in byte order.
- ETag: ``"<mtime hex>-<size hex>"`` — whole seconds, as SFTP v3 reports them.
- The sidecar is JSON ``{"v": 1, "etag": …, "content": {…}, "metadata": {…}}``; it belongs
  to the file version whose ETag it names and is ignored otherwise.
"""

from __future__ import annotations

import json
import posixpath
import stat
from collections.abc import Mapping
from typing import Any, Protocol

from hdh_migrate.backends.base import CONTENT_HEADERS, WriteOptions

META_SUFFIX = ".hdhmeta.json"
TEMP_MARK = ".hdhtmp-"
MAX_SIDECAR = 1024 * 1024


class FileAttributes(Protocol):
    """The part of an SFTP ``stat``/``readdir`` answer the rules need."""

    filename: str
    st_mode: int | None
    st_size: int | None
    st_mtime: int | None


def is_reserved(name: str) -> bool:
    """True for the sidecar and temporary names the backend keeps to itself."""
    return name.startswith(".") and (name.endswith(META_SUFFIX) or TEMP_MARK in name)


def valid_key(key: str) -> bool:
    """True when ``key`` may name an object (see the module rules)."""
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") or "\x00" in p for p in parts):
        return False
    return not is_reserved(parts[-1])


def etag_of(attrs: FileAttributes) -> str:
    """The weak ETag of a file version: whole-second mtime and size."""
    return f'"{int(attrs.st_mtime or 0):x}-{int(attrs.st_size or 0):x}"'


def is_dir(attrs: FileAttributes) -> bool:
    return stat.S_ISDIR(attrs.st_mode or 0)


def is_file(attrs: FileAttributes) -> bool:
    return stat.S_ISREG(attrs.st_mode or 0)


def sort_name(attrs: FileAttributes) -> str:
    """Directories sort as ``name/`` so the walk yields keys in byte order."""
    return attrs.filename + "/" if is_dir(attrs) else attrs.filename


def may_hold(directory_prefix: str, prefix: str) -> bool:
    """Whether keys under ``directory_prefix`` (ending in ``/``) can start with ``prefix``."""
    return directory_prefix.startswith(prefix) or prefix.startswith(directory_prefix)


def temp_path(path: str, token: str) -> str:
    directory, base = posixpath.split(path)
    return posixpath.join(directory, f".{base}{TEMP_MARK}{token}")


def sidecar_path(path: str) -> str:
    directory, base = posixpath.split(path)
    return posixpath.join(directory, f".{base}{META_SUFFIX}")


def sidecar(opts: WriteOptions, etag: str) -> dict[str, Any]:
    """The sidecar document of a write (content headers limited to ``CONTENT_HEADERS``)."""
    content = {k: v for k, v in opts.content.items() if k in CONTENT_HEADERS and v}
    return {"v": 1, "etag": etag, "content": content, "metadata": dict(opts.metadata)}


def needs_sidecar(doc: Mapping[str, Any]) -> bool:
    return bool(doc["content"] or doc["metadata"])


def encode_sidecar(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, ensure_ascii=False).encode("utf-8")


def parse_sidecar(raw: bytes, etag: str) -> dict[str, Any] | None:
    """The sidecar document when it is valid and belongs to ``etag``, else None."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("etag") != etag:
        return None
    return doc

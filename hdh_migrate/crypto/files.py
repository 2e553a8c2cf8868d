"""Local files in and out: what ``hdh-migrate encrypt``/``decrypt`` run.

Both write to a temporary file next to OUT (mode 0600) and make it visible only at the
end: ``decrypt`` only after the whole object authenticated (every tag, the final flag,
EOF), so a tampered or truncated object never leaves plaintext at OUT.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from hdh_migrate.crypto.cipher import Envelope, KeyProvider
from hdh_migrate.crypto.decrypt import DecryptingReader
from hdh_migrate.crypto.encrypt import Encryptor
from hdh_migrate.crypto.format import DEFAULT_SEGMENT_SIZE
from hdh_migrate.errors import UsageError

COPY_BUFFER = 1 << 20


@dataclass(frozen=True)
class FileResult:
    """What was written: sizes, the object id in the header, the KEK reference."""

    path: Path
    object_id: str
    kek_ref: str
    plaintext_length: int
    ciphertext_length: int


def encrypt_file(
    src: Path,
    out: Path,
    provider: KeyProvider,
    object_id: str | None = None,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
    force: bool = False,
) -> FileResult:
    """Encrypt ``src`` into ``out`` (object id defaults to the source file name)."""
    with _open_source(src) as handle:
        length = os.fstat(handle.fileno()).st_size
        enc = Encryptor(provider, object_id or src.name, length, segment_size)
        with _atomic_output(out, force) as sink:
            _copy(enc.reader(handle), sink)
    header = enc.cipher.header
    return FileResult(out, header.object_id, header.kek_ref, length, enc.ciphertext_length)


def decrypt_file(
    src: Path,
    out: Path,
    provider: KeyProvider,
    object_id: str | None = None,
    force: bool = False,
) -> FileResult:
    """Decrypt ``src`` into ``out``; OUT appears only if the whole object authenticated.
    With ``object_id``, the header must name that object."""
    with _open_source(src) as handle:
        return decrypt_stream(handle, out, provider, object_id, force)


def decrypt_stream(
    src: BinaryIO,
    out: Path,
    provider: KeyProvider,
    object_id: str | None = None,
    force: bool = False,
    envelope: Envelope | None = None,
) -> FileResult:
    """Decrypt the HDH1 stream ``src`` (a local file, a target object) into ``out``, which
    appears only once the whole object authenticated."""
    if out.exists() and not force:
        raise UsageError(f"{out} already exists", hint="choose another -o or pass --force")
    reader = DecryptingReader(src, provider, object_id, envelope=envelope)
    with _atomic_output(out, force) as sink:
        _copy(reader, sink)
    header = reader.header
    return FileResult(
        out, header.object_id, header.kek_ref, header.plaintext_length, header.ciphertext_length
    )


def _open_source(src: Path) -> BinaryIO:
    try:
        return src.open("rb")
    except FileNotFoundError:
        raise UsageError(f"{src} does not exist") from None
    except (IsADirectoryError, PermissionError):
        raise UsageError(f"{src} cannot be read as a file") from None


def _copy(reader: io.RawIOBase, sink: BinaryIO) -> None:
    view = memoryview(bytearray(COPY_BUFFER))
    while count := reader.readinto(view):
        sink.write(view[:count])


class _atomic_output:
    """A 0600 temporary file next to ``out``, linked to ``out`` on success, removed on error."""

    def __init__(self, out: Path, force: bool) -> None:
        if out.exists() and not force:
            raise UsageError(f"{out} already exists", hint="choose another -o or pass --force")
        if not out.parent.is_dir():
            raise UsageError(f"directory {out.parent} does not exist")
        self.out, self.force = out, force

    def __enter__(self) -> BinaryIO:
        fd, name = tempfile.mkstemp(dir=self.out.parent, prefix=f".{self.out.name}.", suffix=".tmp")
        self.tmp = Path(name)
        self.handle: BinaryIO = os.fdopen(fd, "wb")
        return self.handle

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self.handle.flush()
                os.fsync(self.handle.fileno())
            self.handle.close()
            if exc_type is None:
                self._publish()
        finally:
            self.tmp.unlink(missing_ok=True)

    def _publish(self) -> None:
        if self.force:
            os.replace(self.tmp, self.out)
            return
        try:
            os.link(self.tmp, self.out)  # never replaces a file that appeared meanwhile
        except FileExistsError:
            raise UsageError(f"{self.out} appeared while writing", hint="pass --force") from None
        except OSError:  # no hard links on this filesystem: check, then rename
            if self.out.exists():
                raise UsageError(f"{self.out} appeared while writing") from None
            os.replace(self.tmp, self.out)

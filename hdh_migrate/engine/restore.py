"""Restore: download a dataset's objects from the target, decrypt them, check each against
the plaintext SHA-256 and size the journal recorded at copy time, and write them under a
directory — each file appears only once it authenticated and matched.

Every problem is one object's: a key that is not a safe relative path, a name taken by a
directory or another object, an object that was never verified, a mismatch. Each is
named in the outcome and the rest goes on; only a key the plan no longer opens (rotated
away) stops the restore. Re-running resumes: a file already there with the recorded size
and SHA-256 is kept as is. How files are written (directory fds, temp files, modes) is
``restore_fs``'s business.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

from hdh_migrate.engine.restore_fs import RestoreDir, Unsafe, key_segments
from hdh_migrate.engine.run.object_ids import object_id
from hdh_migrate.errors import HdhError, WrongKeyError
from hdh_migrate.execution import imap_unordered
from hdh_migrate.integrity.hashing import HashingReader
from hdh_migrate.journal import Item, ItemState
from hdh_migrate.stages.clients import Clients
from hdh_migrate.stages.envelopes import open_plaintext
from hdh_migrate.stages.items import Spec

CHUNK = 1 << 20
MISMATCH = "mismatch"  # failure kinds: a mismatch is exit 4, any other failure exit 5
REFUSED = "refused"


@dataclass(frozen=True)
class RestoreItem:
    key: str
    relative: str
    object_id: str
    target_key: str
    size: int
    plaintext_sha256: str | None
    state: str = ItemState.VERIFIED.value


@dataclass
class RestoreOutcome:
    dataset: str
    restored: int = 0
    bytes: int = 0
    present: int = 0  # already restored by an earlier run (same size and SHA-256)
    failed: list[tuple[str, str]] = field(default_factory=list)
    mismatched: int = 0


@dataclass(frozen=True)
class Result:
    problem: str | None = None
    kind: str = REFUSED
    present: bool = False


def restore_items(
    items: Iterator[Item], dataset: str, prefix: str, only: str
) -> Iterator[RestoreItem]:
    """Every item of ``dataset`` whose relative key starts with ``only`` (those never
    verified are yielded too, to be named as not restored)."""
    for item in items:
        relative = item.key[len(prefix) :]
        if relative.startswith(only):
            yield RestoreItem(
                item.key,
                relative,
                object_id(item),
                item.target_key or "",
                item.size,
                item.plaintext_sha256,
                str(getattr(item.state, "value", item.state)),
            )


def restore_one(
    item: RestoreItem, where: RestoreDir, target: Spec, kek: Spec, clients: Clients
) -> Result:
    """Restore one object; the Result says why not when it was not (nothing left)."""
    if item.state != ItemState.VERIFIED.value or not item.target_key:
        return Result(f"not restored: the object is {item.state}, not verified")
    try:
        parts = key_segments(item.relative)
        parent = where.parent(parts)
    except Unsafe as exc:
        return Result(f"cannot be restored safely: {exc}")
    try:
        return _into(item, where, parent, parts[-1], target, kek, clients)
    finally:
        os.close(parent)


def _into(
    item: RestoreItem,
    where: RestoreDir,
    parent: int,
    name: str,
    target: Spec,
    kek: Spec,
    clients: Clients,
) -> Result:
    if where.existing(parent, name) is not None:
        if where.same_content(parent, name, item.size, item.plaintext_sha256):
            return Result(present=True)
        return Result("a different file or a directory already has this name; remove it")
    temp, fd = where.new_temp()
    try:
        problem = _download(item, fd, target, kek, clients)
        if problem is None:
            where.publish(temp, parent, name)
            return Result()
        return Result(problem, MISMATCH)
    except Unsafe as exc:
        return Result(f"cannot be restored safely: {exc}")
    finally:
        where.drop_temp(temp)


def _download(item: RestoreItem, fd: int, target: Spec, kek: Spec, clients: Clients) -> str | None:
    with os.fdopen(fd, "wb") as out:
        try:
            with open_plaintext(
                clients.backend(target), item.target_key, clients.key(kek), item.object_id
            ) as reader:
                plain = HashingReader(reader)  # type: ignore[arg-type]
                while chunk := plain.read(CHUNK):
                    out.write(chunk)
        except WrongKeyError:
            raise  # the plan names another (or a rotated-away) key: stop at the first object
        except HdhError as exc:
            return exc.one_line()
        out.flush()
        os.fsync(out.fileno())
    return _mismatch(item, plain)


def _mismatch(item: RestoreItem, plain: HashingReader) -> str | None:
    if plain.bytes_read != item.size:
        return f"decrypted {plain.bytes_read} bytes, the source had {item.size}"
    if item.plaintext_sha256 and plain.sha256 != item.plaintext_sha256:
        return "plaintext SHA-256 differs from the one recorded at copy time"
    return None


def restore_all(
    items: Iterator[RestoreItem],
    root: Path,
    target: Spec,
    kek: Spec,
    clients: Clients,
    dataset: str,
    executor: Executor,
    window: int,
) -> RestoreOutcome:
    """Restore every item through ``executor`` with at most ``window`` in flight."""
    outcome = RestoreOutcome(dataset)
    where = RestoreDir(root)

    def task(item: RestoreItem) -> Result:
        return restore_one(item, where, target, kek, clients)

    try:
        for item, future in imap_unordered(executor, task, items, window):
            _tally(outcome, item, future.result())
    finally:
        where.close()
    return outcome


def _tally(outcome: RestoreOutcome, item: RestoreItem, result: Result) -> None:
    if result.problem is not None:
        outcome.failed.append((item.key, result.problem))
        outcome.mismatched += result.kind == MISMATCH
    elif result.present:
        outcome.present += 1
    else:
        outcome.restored += 1
        outcome.bytes += item.size

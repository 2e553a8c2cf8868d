"""Restore: download a dataset's objects from the target, decrypt them, check each against
the plaintext SHA-256 and size the journal recorded at copy time, and write them under a
directory — each file appears only once it authenticated and matched (temp name, rename).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from hdh_migrate.errors import HdhError, UsageError, WrongKeyError
from hdh_migrate.execution import imap_unordered
from hdh_migrate.integrity.hashing import HashingReader
from hdh_migrate.journal import Item, ItemState
from hdh_migrate.stages.clients import Clients
from hdh_migrate.stages.envelopes import open_plaintext
from hdh_migrate.stages.items import Spec

CHUNK = 1 << 20


@dataclass(frozen=True)
class RestoreItem:
    key: str
    relative: str
    object_id: str
    target_key: str
    size: int
    plaintext_sha256: str | None


@dataclass
class RestoreOutcome:
    dataset: str
    restored: int = 0
    bytes: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def restore_items(
    items: Iterator[Item], dataset: str, prefix: str, only: str
) -> Iterator[RestoreItem]:
    """Verified items of ``dataset`` whose relative key starts with ``only``."""
    for item in items:
        if item.state != ItemState.VERIFIED or not item.target_key:
            continue
        relative = item.key[len(prefix) :]
        if relative.startswith(only):
            yield RestoreItem(
                item.key,
                relative,
                f"{dataset}/{relative}",
                item.target_key,
                item.size,
                item.plaintext_sha256,
            )


def safe_path(root: Path, relative: str) -> Path:
    """``root/relative``, refusing keys that would land outside ``root``."""
    parts = PurePosixPath(relative).parts
    if not parts or relative.startswith("/") or any(p in ("..", ".") for p in parts):
        raise UsageError(f"object key {relative!r} cannot be restored safely under {root}")
    return root.joinpath(*parts)


def restore_one(
    item: RestoreItem, root: Path, target: Spec, kek: Spec, clients: Clients
) -> str | None:
    """Restore one object; None when it matched, else why not (nothing left behind)."""
    final = safe_path(root, item.relative)
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.with_name(f".{final.name}.hdh-restore-{os.getpid()}")
    try:
        with (
            open_plaintext(
                clients.backend(target), item.target_key, clients.key(kek), item.object_id
            ) as reader,
            temp.open("wb") as out,
        ):
            plain = HashingReader(reader)  # type: ignore[arg-type]
            while chunk := plain.read(CHUNK):
                out.write(chunk)
        problem = _mismatch(item, plain)
    except WrongKeyError:
        temp.unlink(missing_ok=True)
        raise  # the plan names another (or a rotated-away) key: stop at the first object
    except HdhError as exc:
        problem = exc.one_line()
    if problem is None:
        os.replace(temp, final)
    else:
        temp.unlink(missing_ok=True)
    return problem


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

    def task(item: RestoreItem) -> str | None:
        return restore_one(item, root, target, kek, clients)

    for item, future in imap_unordered(executor, task, items, window):
        problem = future.result()
        if problem is None:
            outcome.restored += 1
            outcome.bytes += item.size
        else:
            outcome.failed.append((item.key, problem))
    return outcome

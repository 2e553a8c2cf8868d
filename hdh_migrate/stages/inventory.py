"""Inventory: stream a source listing, keep what the dataset selects, flag what cannot move.

Nothing is held in memory beyond one backend page. Flags are decided up front so the
operator hears about them before the copy starts, not when an upload fails:
oversized (the ciphertext exceeds the target's object limit), archive tier (needs
rehydration, hours), and names the target cannot hold or that collide there with another
key (``stages.names``: too long, long segments, empty segments, trailing slashes, case or
Unicode twins; the runner refuses those per object).

Glob rule for include/exclude: a pattern without ``/`` matches the object's base name; a
pattern with ``/`` matches the whole key relative to the dataset prefix (``fnmatch``,
``*`` crosses ``/``). An object is kept when it matches some include (or there are none)
and no exclude.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from hdh_migrate.backends.base import Backend, ObjectInfo
from hdh_migrate.crypto import ciphertext_length
from hdh_migrate.crypto.format import MAX_HEADER_LEN
from hdh_migrate.stages.names import NameChecker, NameRules


@dataclass(frozen=True)
class Selection:
    """What a dataset takes from its source and where it puts it."""

    dataset: str
    prefix: str = ""
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    target_prefix: str = ""
    max_object_size: int | None = None
    names: NameRules = field(default_factory=NameRules)
    segment_size: int = 1 << 20


@dataclass(frozen=True)
class Entry:
    """One selected source object, with its target key and, when it cannot move, why."""

    info: ObjectInfo
    relative: str
    object_id: str
    target_key: str
    flag: str | None = None


#: Selected objects whose names are checked together (``NameChecker.problems``).
BATCH = 1000


def inventory(source: Backend, selection: Selection) -> Iterator[Entry]:
    """The selected objects of ``source`` under the dataset prefix, flagged where needed;
    at most ``BATCH`` of them held at once beyond the backend's page."""
    with NameChecker(selection.names) as names:
        batch: list[tuple[ObjectInfo, str]] = []
        for info in source.list(selection.prefix):
            relative = info.key[len(selection.prefix) :]
            if selected(relative, selection.include, selection.exclude):
                batch.append((info, relative))
                if len(batch) == BATCH:
                    yield from _entries(batch, selection, names)
                    batch = []
        yield from _entries(batch, selection, names)


def selected(relative: str, include: Iterable[str], exclude: Iterable[str]) -> bool:
    includes = tuple(include)
    if includes and not any(_matches(relative, p) for p in includes):
        return False
    return not any(_matches(relative, p) for p in exclude)


def _matches(relative: str, pattern: str) -> bool:
    subject = relative if "/" in pattern else relative.rsplit("/", 1)[-1]
    return fnmatchcase(subject, pattern)


def _entries(
    batch: list[tuple[ObjectInfo, str]], sel: Selection, names: NameChecker
) -> Iterator[Entry]:
    """Entries of ``batch`` in order: an archived or too large object is flagged as such
    and its name is not remembered; the others' names are checked together."""
    keys = [sel.target_prefix + relative for _, relative in batch]
    flags = [_flag(info, key, sel) for (info, _), key in zip(batch, keys, strict=True)]
    named = iter(names.problems([k for k, f in zip(keys, flags, strict=True) if f is None]))
    for (info, relative), key, flag in zip(batch, keys, flags, strict=True):
        why = flag if flag is not None else next(named)
        yield Entry(info, relative, f"{sel.dataset}/{relative}", key, why)


def _flag(info: ObjectInfo, target_key: str, sel: Selection) -> str | None:
    """Archive tier or too large (names are ``NameChecker``'s)."""
    tier = info.extra.get("access_tier", "")
    if tier.lower() == "archive":
        return "archive tier: rehydrate the blob to Hot or Cool before it can be read"
    sealed = ciphertext_length(info.size, sel.segment_size, MAX_HEADER_LEN)
    if sel.max_object_size is not None and sealed > sel.max_object_size:
        return f"too large for the target: {sealed} bytes encrypted > {sel.max_object_size}"
    return None

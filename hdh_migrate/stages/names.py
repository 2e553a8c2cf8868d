"""Names the target cannot hold, found at inventory time rather than at upload time.

S3 keys are opaque bytes on AWS, but S3 gateways in front of a filesystem or a filer
(SeaweedFS, and some appliances) are not: a path segment is limited (255 bytes), ``a//b``
is stored as ``a/b``, ``x/`` is a folder and lands on ``x``; a case-insensitive or
Unicode-normalising store folds ``A``/``a`` or NFC/NFD twins into one object. Such a key is
either *impossible* (it cannot be stored under its own name) or *collides* with another
key of the dataset (two sources, one target object: the second copy would silently
overwrite the first, already verified, one).

``NameRules`` says what a target does, from its preset (``key_rules`` and
``limits.max_key_length``); unknown behaviour is assumed to fold (the safe guess).
``NameChecker`` checks keys one at a time in bounded memory: the folded form of every key
seen goes to a temporary SQLite index, so collisions are found whatever the listing order
and the object count. The first key listed keeps the target name; a later one that folds
onto it is refused, naming both.
"""

from __future__ import annotations

import re
import sqlite3
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Normalisation = Literal["NFC", "NFD", "NFKC", "NFKD"]
NAME_PROBLEM = "name: "  # prefix of every flag this module raises (the runner refuses them)
#: C0 controls and DEL (a regex: a per-character loop was 25 % of the inventory's CPU)
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_LOOKUP = 500  # folded forms per lookup statement (SQLite's bound parameters: 999 at least)


@dataclass(frozen=True)
class NameRules:
    """How a target treats object keys."""

    max_key_bytes: int = 1024
    max_segment_bytes: int | None = None
    folds_empty_segments: bool = True  # a//b is stored as a/b
    folds_trailing_slash: bool = True  # x/ is a folder, and the same name as x
    case_insensitive: bool = False
    normalises: Normalisation | None = None

    def folded(self, key: str) -> str:
        """The name the target actually stores for ``key``."""
        if self.normalises is not None:
            key = unicodedata.normalize(self.normalises, key)
        if self.case_insensitive:
            key = key.casefold()
        if self.folds_empty_segments:
            key = "/".join(s for s in key.split("/") if s) + ("/" if key.endswith("/") else "")
        if self.folds_trailing_slash:
            key = key.rstrip("/")
        return key

    def impossible(self, key: str) -> str | None:
        """Why the target cannot hold ``key`` under its own name, or None."""
        size = len(key.encode("utf-8"))
        if size > self.max_key_bytes:
            return f"target key longer than {self.max_key_bytes} bytes"
        if _CONTROL.search(key):
            return "target key holds control characters"
        # no segment is longer than the whole key: most keys need no split
        if self.max_segment_bytes is not None and size > self.max_segment_bytes:
            longest = max(len(s.encode("utf-8")) for s in key.split("/"))
            if longest > self.max_segment_bytes:
                return (
                    f"a path segment is {longest} bytes, the target allows {self.max_segment_bytes}"
                )
        if self.folds_empty_segments and "//" in key.rstrip("/"):
            return "empty path segment ('//'): the target would store it without it"
        if self.folds_trailing_slash and key.endswith("/"):
            return "ends with '/': the target keeps it as a folder, not as this object"
        return None


class NameChecker:
    """Checks one dataset's target keys; ``close()`` removes the temporary index."""

    def __init__(self, rules: NameRules, directory: str | Path | None = None) -> None:
        self.rules = rules
        self._dir = tempfile.TemporaryDirectory(prefix="hdh-names-", dir=directory)
        self._db = sqlite3.connect(Path(self._dir.name) / "names.sqlite", isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE seen (folded BLOB PRIMARY KEY, key TEXT NOT NULL)")
        self._db.execute("BEGIN")

    def problem(self, key: str) -> str | None:
        """Why ``key`` cannot be copied under its name (impossible, or it folds onto a key
        seen before), or None. Each key is remembered by its folded form."""
        return self.problems([key])[0]

    def problems(self, keys: Sequence[str]) -> list[str | None]:
        """``problem`` of each key in order, as if asked one by one, in two statements per
        batch (a lookup of the batch's folded forms, an insert of the new ones) instead of
        one per key (docs/benchmarks.md, "inventory")."""
        found: list[str | None] = [None] * len(keys)
        folded: list[tuple[int, str, bytes]] = []
        for index, key in enumerate(keys):
            why = self.rules.impossible(key)
            if why is not None:
                found[index] = NAME_PROBLEM + why
                continue
            folded.append((index, key, self.rules.folded(key).encode("utf-8", "surrogatepass")))
        # by the folded form itself, not a hash of it: a listing comes in key order, so
        # the index grows at its end (a hash lands anywhere: 7.4 vs 4.0 µs per key)
        first = self._seen({form for _, _, form in folded})
        added: list[tuple[bytes, str]] = []
        for index, key, form in folded:
            other = first.get(form)
            if other is None:
                first[form] = key
                added.append((form, key))
            elif other != key:
                how = self._how(key, other)
                found[index] = NAME_PROBLEM + f"collides at the target with {other!r} ({how})"
        self._db.executemany("INSERT INTO seen (folded, key) VALUES (?, ?)", added)
        return found

    def _seen(self, forms: set[bytes]) -> dict[bytes, str]:
        """The first key remembered for each of the folded ``forms`` seen before."""
        ordered, first = sorted(forms), dict[bytes, str]()
        for at in range(0, len(ordered), _LOOKUP):
            chunk = ordered[at : at + _LOOKUP]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT folded, key FROM seen WHERE folded IN ({marks})"  # noqa: S608
            first.update(self._db.execute(query, chunk).fetchall())
        return first

    def _how(self, key: str, other: str) -> str:
        if self.rules.case_insensitive and key.casefold() == other.casefold():
            return "the target ignores case"
        if self.rules.normalises is not None:
            return f"the target normalises Unicode to {self.rules.normalises}"
        return "the target folds empty segments and trailing slashes"

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()

    def __enter__(self) -> NameChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

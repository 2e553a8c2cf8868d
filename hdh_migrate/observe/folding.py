"""Fold repetitive per-object notes into one summary per dataset (unless ``--verbose``).

A run over Azure blobs notes, for most objects, the system properties S3 cannot carry
(``object.not_carried``): a third of all event lines. Folded, the dataset's
``dataset.not_carried`` summary says how many objects and which items, once.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hdh_migrate.events import Reporter

FOLDED = frozenset({"object.not_carried"})


class Folding:
    """Passes every event to ``inner`` except the folded ones, summarised at ``dataset.done``."""

    def __init__(self, inner: Reporter) -> None:
        self.inner = inner
        self._objects: Counter[str] = Counter()
        self._items: dict[str, Counter[str]] = {}

    def event(self, name: str, /, **fields: Any) -> None:
        if name in FOLDED:
            dataset = str(fields.get("dataset", ""))
            self._objects[dataset] += 1
            self._items.setdefault(dataset, Counter()).update(map(str, fields.get("items", ())))
            return
        if name == "dataset.done":
            self._summarise(str(fields.get("dataset", "")))
        self.inner.event(name, **fields)

    def _summarise(self, dataset: str) -> None:
        count = self._objects.pop(dataset, 0)
        items = self._items.pop(dataset, Counter())
        if count:
            self.inner.event(
                "dataset.not_carried", dataset=dataset, objects=count, items=dict(items)
            )

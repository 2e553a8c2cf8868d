"""Object ids and target keys are computed once, by the inventory, and journaled with each
item (schema 3); everything after reads them from the item instead of rebuilding them
from the key. Journals written before schema 3 get theirs from the plan's prefixes, once,
when a plan opens them."""

from __future__ import annotations

from hdh_migrate.errors import StateError
from hdh_migrate.journal import Item, JournalStore
from hdh_migrate.plan import Plan


def fill_object_ids(journal: JournalStore, plan: Plan) -> None:
    """Items journaled before the inventory recorded object ids get theirs, from the
    plan's prefixes (once per journal: a no-op afterwards)."""
    for _, ds in plan.iter_datasets():
        journal.fill_object_ids(ds.name, ds.prefix, ds.target_prefix)


def object_id(item: Item) -> str:
    """The object id the inventory recorded for ``item`` (its HDH1 header names it)."""
    if item.object_id is None:
        raise StateError(
            f"journal item {item.key!r} of dataset {item.dataset!r} has no object id",
            hint="run `hdh-migrate run` once: its inventory records every object's id",
        )
    return item.object_id


def landing(item: Item) -> str:
    """The target key the inventory recorded for ``item``."""
    if not item.target_key:
        raise StateError(
            f"journal item {item.key!r} of dataset {item.dataset!r} has no target key",
            hint="run `hdh-migrate run` once: its inventory records every object's target key",
        )
    return item.target_key

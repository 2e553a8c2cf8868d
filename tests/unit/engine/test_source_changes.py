"""A source object that changes between its listing and its copy (issue 18 item 3): the
journal and the manifest record the version actually copied — its ETag and size with the
hashes of the bytes read — never the listed ETag with the new bytes."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.backends.memory import drop_store
from hdh_migrate.backends.registry import open_backend
from hdh_migrate.engine.run.runner import Migration, plan_digest
from hdh_migrate.events import ListReporter
from hdh_migrate.execution import SerialExecutor
from hdh_migrate.integrity import Ed25519FileSigner, ManifestWriter
from hdh_migrate.journal import ItemState, Journal
from tests.offline_plan import MemoryTargetClients, one_dataset, parse_offline_plan


class ChangingReporter(ListReporter):
    """Rewrites ``path`` with ``data`` when the copy starts (after the listing)."""

    def __init__(self, path: Path, data: bytes) -> None:
        super().__init__()
        self.path, self.data = path, data

    def event(self, name: str, **fields: Any) -> None:
        super().event(name, **fields)
        if name == "copy.start":
            self.path.write_bytes(self.data)
            os.utime(self.path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))


@pytest.fixture
def env(tmp_path):
    (tmp_path / "src" / "data").mkdir(parents=True)
    store = f"t-{uuid.uuid4().hex}"
    yield {"tmp": tmp_path, "store": store, "signer": Ed25519FileSigner.generate("unit")}
    drop_store(store)


def run_once(env, clients, reporter) -> tuple[Any, Any]:
    rest = one_dataset(env["tmp"] / "kek.key", env["tmp"] / "state")
    plan = parse_offline_plan("changes", env["tmp"] / "src", rest, store=env["store"])
    state = env["tmp"] / "state"
    state.mkdir(exist_ok=True)
    with (
        Journal(state / "journal.sqlite") as journal,
        ManifestWriter(state / "manifest.jsonl", env["signer"], "hdh-migrate/unit") as manifest,
    ):
        migration = Migration(
            plan,
            plan_digest(b"plan"),
            journal=journal,
            manifest=manifest,
            executor=SerialExecutor(),
            clients=clients,
            reporter=reporter,
            window=2,
        )
        (outcome,) = migration.run()
        return outcome, journal.get_by_id(_only_id(journal))


def _only_id(journal: Journal) -> str:
    (item,) = list(journal.items(dataset="ds"))
    return item.item_id


@pytest.mark.parametrize("new_size", [1000, 1500], ids=["same-size", "new-size"])
def test_the_journal_and_manifest_record_the_version_actually_copied(env, new_size):
    path = env["tmp"] / "src" / "data" / "a.bin"
    path.write_bytes(os.urandom(1000))
    new = os.urandom(new_size)
    clients = MemoryTargetClients(env["store"])
    outcome, item = run_once(env, clients, ChangingReporter(path, new))

    assert outcome.failed == [], outcome.failed  # was: "decrypted 1500 bytes, expected 1000"
    assert item.state == ItemState.VERIFIED
    current = open_backend("local", {"root": str(env["tmp"] / "src")}).stat("data/a.bin")
    assert (item.etag, item.size) == (current.etag, new_size)
    assert item.plaintext_sha256 == hashlib.sha256(new).hexdigest()
    (record,) = [
        r
        for r in map(json.loads, (env["tmp"] / "state" / "manifest.jsonl").read_text().splitlines())
        if r.get("type") == "object"
    ]
    assert record["source"]["etag"] == current.etag  # not the listed ETag
    assert record["source"]["size"] == new_size
    assert record["plaintext_sha256"] == hashlib.sha256(new).hexdigest()

    puts = clients.puts
    outcome, _ = run_once(env, clients, ListReporter())
    assert (outcome.changed, outcome.copied, clients.puts) == (0, 0, puts)

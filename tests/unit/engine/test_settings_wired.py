"""Every plan setting is read by the code it names: each test changes one field and sees
the effect (retries, per-dataset concurrency, part size, bandwidth)."""

import os
import threading
import time
import uuid

import pytest

import hdh_migrate.engine.run.runner as runner_module
from hdh_migrate.backends.memory import drop_store
from hdh_migrate.engine.run.runner import Migration
from hdh_migrate.engine.run.session import RunSettings, migration
from hdh_migrate.engine.specs import source_spec, target_spec
from hdh_migrate.execution import make_executor
from hdh_migrate.journal import Journal
from hdh_migrate.stages import throttle
from hdh_migrate.stages.copy import copy_object
from hdh_migrate.units import MIB
from tests.offline_plan import (
    MemoryTargetClients,
    offline_migration,
    offline_plan_text,
    parse_offline_plan,
)

REST = """\
keys:
  k: {{kind: file, path: "{tmp}/kek.key", create: true}}
defaults: {{key: k, verify: full{defaults}}}
state_dir: "{tmp}/state"
waves:
  - name: w1
    datasets:
      - name: ds
        source: disk
        prefix: data/
        target: mem
        target_prefix: enc/{dataset}
"""


@pytest.fixture
def env(tmp_path):
    (tmp_path / "src" / "data").mkdir(parents=True)
    store = f"t-{uuid.uuid4().hex}"
    yield {"tmp": tmp_path, "store": store}
    drop_store(store)


def plan_for(env, defaults="", dataset=""):
    rest = REST.format(tmp=env["tmp"], defaults=defaults, dataset=dataset)
    return parse_offline_plan("unit", env["tmp"] / "src", rest, store=env["store"])


def run(env, plan, clients, job_class=Migration, workers=4):
    with (
        make_executor("threads", workers) as executor,
        offline_migration(
            plan, env["tmp"] / "state", clients,
            executor=executor, window=2 * workers, job_class=job_class,
        ) as job,
    ):  # fmt: skip
        return job.run()


class Watched(Migration):
    """Counts the copy tasks running at once (``watch`` wraps the copy work unit)."""

    running = 0
    most = 0
    lock = threading.Lock()

    @staticmethod
    def watch(item, clients):
        with Watched.lock:
            Watched.running += 1
            Watched.most = max(Watched.most, Watched.running)
        time.sleep(0.05)
        try:
            return copy_object(item, clients)
        finally:
            with Watched.lock:
                Watched.running -= 1


@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_datasets_concurrency_bounds_its_tasks_in_flight(env, concurrency, monkeypatch):
    monkeypatch.setattr(runner_module, "copy_object", Watched.watch)
    for n in range(9):
        (env["tmp"] / "src" / "data" / f"f{n}").write_bytes(os.urandom(100))
    plan = plan_for(env, dataset=f"\n        concurrency: {concurrency}")
    Watched.most = 0
    (ds,) = run(env, plan, MemoryTargetClients(env["store"]), Watched, workers=4)
    assert ds.copied == 9
    assert Watched.most == concurrency


@pytest.mark.parametrize("part", [5, 6])
def test_part_size_cuts_the_multipart_upload(env, part):
    (env["tmp"] / "src" / "data" / "big").write_bytes(os.urandom(13 * MIB))
    plan = plan_for(env, defaults=f", part_size: {part}MiB, multipart_threshold: 5MiB")
    clients = MemoryTargetClients(env["store"])
    seen = []
    write = clients.target.write

    def recording(key, stream, size, options=None):
        seen.append(options.part_size)
        return write(key, stream, size, options)

    clients.target.write = recording  # type: ignore[method-assign]
    (ds,) = run(env, plan, clients)
    assert ds.verified == 1
    segment = (1 << 20) + 16  # parts hold whole sealed segments: the smallest count ≥ part
    assert seen == [-(-part * MIB // segment) * segment]


@pytest.mark.parametrize("retries", [0, 3])
def test_retries_reach_every_backend_spec(env, retries):
    plan = plan_for(env, defaults=f", retries: {retries}")
    eff = plan.effective("ds")
    for spec in (source_spec(eff), target_spec(plan, "mem", eff)):
        assert spec.retry is not None and spec.retry.attempts == retries + 1


@pytest.mark.parametrize(
    ("plan_rate", "flag", "expected"), [("2MiB/s", None, 2 * MIB), ("2MiB/s", MIB, MIB)]
)
def test_bandwidth_sets_the_process_limit(env, plan_rate, flag, expected):
    rest = REST.format(tmp=env["tmp"], defaults=f", bandwidth: {plan_rate}", dataset="")
    path = env["tmp"] / "plan.yaml"
    path.write_text(offline_plan_text("unit", env["tmp"] / "src", rest, store=env["store"]))
    try:
        with migration(path, RunSettings(bandwidth=flag)):
            assert throttle.PROCESS_BANDWIDTH.rate == expected
    finally:
        throttle.configure(None)


class Upload:
    def __init__(self, key):
        self.key, self.upload_id = key, f"u-{key}"


@pytest.mark.parametrize("declared", [True, False])
def test_open_uploads_are_aborted_only_where_the_capability_is_declared(env, declared):
    from dataclasses import replace

    from hdh_migrate.journal import ItemState

    (env["tmp"] / "src" / "data" / "f").write_bytes(b"x")
    plan = plan_for(env)
    clients = MemoryTargetClients(env["store"])
    target = clients.target
    aborted = []
    declared_caps = replace(target.capabilities(), open_uploads=declared)
    target.capabilities = lambda: declared_caps  # type: ignore[method-assign]
    target.list_multipart_uploads = lambda prefix="": iter([Upload(prefix + "left-open")])  # type: ignore[attr-defined]
    target.abort_multipart = lambda key, upload_id, quiet=False: aborted.append(upload_id)  # type: ignore[attr-defined]
    state = env["tmp"] / "state"
    state.mkdir()
    with Journal(state / "journal.sqlite") as journal:  # a crash caught an object mid-copy
        journal.ensure_dataset("ds", "w1")
        from hdh_migrate.backends.registry import open_backend
        from hdh_migrate.journal import InventoryEntry

        info = open_backend("local", {"root": str(env["tmp"] / "src")}).stat("data/f")
        journal.upsert_inventory([InventoryEntry("ds", "data/f", info.size, info.etag or "")])
        (item,) = journal.items(ItemState.PENDING, "ds")
        journal.mark_copying(item.item_id)
    run(env, plan, clients)
    assert aborted == (["u-enc/left-open"] if declared else [])

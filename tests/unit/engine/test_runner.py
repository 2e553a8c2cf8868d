"""The coordinator on a local source and an in-memory target (no servers)."""

import hashlib
import json
import os
import uuid

import pytest

from hdh_migrate.backends.memory import drop_store
from hdh_migrate.engine.run.runner import Migration, plan_digest
from hdh_migrate.events import ListReporter
from hdh_migrate.execution import SerialExecutor, make_executor
from hdh_migrate.integrity import Ed25519FileSigner, ManifestWriter, verify_manifest
from hdh_migrate.journal import ItemState, Journal
from tests.offline_plan import MemoryTargetClients, parse_offline_plan

REST = """\
keys:
  k: {{kind: file, path: "{key}", create: true}}
defaults: {{key: k, verify: {verify}}}
state_dir: "{state}"
waves:
  - name: w1
    datasets:
      - name: ds
        source: disk
        prefix: data/
        exclude: ["*.tmp"]
        target: mem
        target_prefix: enc/
"""


@pytest.fixture
def env(tmp_path):
    src = tmp_path / "src"
    (src / "data" / "sub").mkdir(parents=True)
    files = {"data/a.bin": os.urandom(3000), "data/sub/b.bin": b"", "data/c.tmp": b"skip"}
    files["data/sub/é 100% #1.bin"] = os.urandom(70_000)
    for rel, data in files.items():
        (src / rel).write_bytes(data)
    store = f"t-{uuid.uuid4().hex}"
    signer = Ed25519FileSigner.generate("unit")
    yield {"tmp": tmp_path, "src": src, "files": files, "store": store, "signer": signer}
    drop_store(store)


def make_plan(env, verify="full"):
    rest = REST.format(key=env["tmp"] / "kek.key", state=env["tmp"] / "state", verify=verify)
    return parse_offline_plan("unit", env["src"], rest, store=env["store"])


def run_once(env, plan, clients, executor=None):
    state = env["tmp"] / "state"
    state.mkdir(exist_ok=True)
    signer = env["signer"]
    reporter = ListReporter()
    with (
        Journal(state / "journal.sqlite") as journal,
        ManifestWriter(state / "manifest.jsonl", signer, "hdh-migrate/unit") as manifest,
    ):
        migration = Migration(
            plan,
            plan_digest(b"plan"),
            journal=journal,
            manifest=manifest,
            executor=executor or SerialExecutor(),
            clients=clients,
            reporter=reporter,
            window=4,
        )
        outcomes = migration.run()
        counts = {c.state: c.count for c in journal.counts("ds")}
    return outcomes, counts, reporter, signer


def test_run_copies_verifies_and_signs_then_a_rerun_does_nothing(env):
    plan = make_plan(env)
    clients = MemoryTargetClients(env["store"])
    outcomes, counts, _, signer = run_once(env, plan, clients, make_executor("threads", 4))
    (ds,) = outcomes
    assert ds.failed == []
    assert (ds.listed, ds.copied, ds.verified) == (3, 3, 3)
    assert counts == {ItemState.VERIFIED: 3}
    stored = {info.key for info in clients.target.list("")}
    assert stored == {"enc/a.bin", "enc/sub/b.bin", "enc/sub/é 100% #1.bin"}
    for rel, data in env["files"].items():
        if rel.endswith(".tmp"):
            continue
        body = clients.target.open_read("enc/" + rel.removeprefix("data/")).read()
        assert len(data) < 16 or data not in body
    report = verify_manifest(env["tmp"] / "state" / "manifest.jsonl", signer.public_key_bytes())
    assert report.ok, report.one_line()
    lines = (env["tmp"] / "state" / "manifest.jsonl").read_text().splitlines()
    digests = {hashlib.sha256(d).hexdigest() for r, d in env["files"].items() if ".tmp" not in r}
    assert digests <= {x for line in lines for x in digests if x in line}

    puts_before = clients.puts
    outcomes, counts, _, _ = run_once(env, plan, clients)
    assert (outcomes[0].copied, outcomes[0].verified, clients.puts) == (0, 0, puts_before)
    assert counts == {ItemState.VERIFIED: 3}


def test_a_changed_source_object_is_copied_again_exactly_once(env):
    plan = make_plan(env)
    clients = MemoryTargetClients(env["store"])
    run_once(env, plan, clients)
    (env["src"] / "data" / "a.bin").write_bytes(b"changed contents")
    outcomes, _, _, _ = run_once(env, plan, clients)
    assert (outcomes[0].changed, outcomes[0].copied, outcomes[0].verified) == (1, 1, 1)
    outcomes, _, _, _ = run_once(env, plan, clients)
    assert outcomes[0].copied == 0


def test_a_corrupted_target_is_reported_failed_and_repaired_by_the_next_run(env):
    plan = make_plan(env, verify="full")
    clients = MemoryTargetClients(env["store"])
    original_write = clients.target.write
    calls = {"n": 0}

    def corrupting_write(key, stream, size, options=None):
        data = bytearray(stream.read())
        calls["n"] += 1
        if key == "enc/a.bin" and calls["n"] == 1:
            data[-1] ^= 1  # the first upload of a.bin lands damaged
        import io

        return original_write(key, io.BytesIO(bytes(data)), size, options)

    clients.target.write = corrupting_write  # type: ignore[method-assign]
    outcomes, counts, reporter, _ = run_once(env, plan, clients)
    assert [k for k, _ in outcomes[0].failed] == ["data/a.bin"]
    assert counts[ItemState.FAILED] == 1
    assert any(name == "object.failed" for name, _ in reporter.events)
    outcomes, counts, _, _ = run_once(env, plan, clients)
    assert outcomes[0].failed == [] and counts == {ItemState.VERIFIED: 3}


def test_metadata_verification_is_upgraded_unless_a_probe_vouches_for_the_target(env):
    from hdh_migrate.backends.probe import ProbeResult, save_probe

    plan = make_plan(env, verify="metadata")
    clients = MemoryTargetClients(env["store"])
    _, _, reporter, _ = run_once(env, plan, clients)
    upgraded = [f for name, f in reporter.events if name == "verify.upgraded"]
    assert upgraded and upgraded[0]["reason"] == "not probed yet"
    verified = [f["mode"] for name, f in reporter.events if name == "object.verified"]
    assert verified == ["full"] * 3

    checks = {"sha256": "validated"}
    vouched = ProbeResult("mem", "http://x", "b", "now", checks, sse_c="enforced")
    save_probe(vouched, env["tmp"] / "state")
    (env["src"] / "data" / "a.bin").write_bytes(b"new")
    _, _, reporter, _ = run_once(env, plan, clients)
    assert not [n for n, _ in reporter.events if n == "verify.upgraded"]
    assert [f["mode"] for n, f in reporter.events if n == "object.verified"] == ["metadata"]


def test_a_manifest_record_lost_in_a_crash_is_written_by_the_next_run(env):
    plan = make_plan(env)
    clients = MemoryTargetClients(env["store"])
    run_once(env, plan, clients)
    manifest = env["tmp"] / "state" / "manifest.jsonl"
    lines = manifest.read_text().splitlines(keepends=True)
    # the crash: the last object record and the checkpoint after it never reached the disk
    records = [line for line in lines if '"checkpoint"' not in line]
    kept, lost = records[:-1], records[-1]
    manifest.write_text("".join(kept))
    outcomes, _, _, signer = run_once(env, plan, clients)
    assert outcomes[0].copied == 0
    report = verify_manifest(manifest, signer.public_key_bytes())
    assert report.ok, report.one_line()
    healed = manifest.read_text()
    object_id = json.loads(lost)["object_id"]
    assert healed.count(f'"object_id":"{object_id}"') == 1

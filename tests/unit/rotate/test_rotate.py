"""``keys rotate`` on a local source and an in-memory target (no servers): sidecars, the
reading rule, resumability, exactly-once manifest records, stale sidecars after a re-copy."""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.backends.memory import MemoryBackend, drop_store
from hdh_migrate.crypto import Encryptor
from hdh_migrate.engine.audit.dataset import _target_listing
from hdh_migrate.engine.restore import RestoreItem, restore_one
from hdh_migrate.engine.restore_fs import RestoreDir
from hdh_migrate.engine.rotate import Rotation, recorded_rewraps, rotation_datasets
from hdh_migrate.engine.run.runner import Migration, plan_digest
from hdh_migrate.engine.specs import key_spec, target_spec
from hdh_migrate.errors import IntegrityAuthError, UsageError
from hdh_migrate.events import ListReporter
from hdh_migrate.execution import SerialExecutor, make_executor
from hdh_migrate.integrity import Ed25519FileSigner, ManifestWriter, verify_manifest
from hdh_migrate.journal import ItemState, Journal
from hdh_migrate.plan import Plan, VerifyMode
from hdh_migrate.reports.model import Diff
from hdh_migrate.stages.envelopes import (
    SIDECAR_PREFIX,
    RewrapItem,
    RotatedKeyError,
    load_envelope,
    open_plaintext,
    read_target_header,
    rewrap_object,
    sidecar_key,
)
from hdh_migrate.stages.items import VerifyItem
from hdh_migrate.stages.verify import verify_object
from tests.offline_plan import MemoryTargetClients, offline_plan_text, parse_offline_plan

REST = """\
keys:
  k1: {{kind: file, path: "{tmp}/k1.key", create: true}}
  k2: {{kind: file, path: "{tmp}/k2.key", create: true}}
  k3: {{kind: file, path: "{tmp}/k3.key", create: true}}
defaults: {{key: {key}, verify: full}}
state_dir: "{tmp}/state"
waves:
  - name: w1
    datasets:
      - name: ds
        source: disk
        prefix: data/
        target: mem
        target_prefix: enc/
      - name: other
        source: disk
        prefix: other/
        key: k3
        target: mem
        target_prefix: enc-other/
"""


@pytest.fixture
def env(tmp_path: Path) -> Any:
    src = tmp_path / "src"
    (src / "data" / "sub").mkdir(parents=True)
    (src / "other").mkdir()
    files = {f"data/f{i:02d}.bin": os.urandom(100 + 37 * i) for i in range(12)}
    files["data/sub/é 100% #1 space.bin"] = os.urandom(70_000)
    files["data/empty.bin"] = b""
    files["other/x.bin"] = b"other key"
    for rel, data in files.items():
        (src / rel).write_bytes(data)
    store = f"t-{uuid.uuid4().hex}"
    yield {
        "tmp": tmp_path,
        "src": src,
        "files": files,
        "store": store,
        "clients": MemoryTargetClients(store),
        "signer": Ed25519FileSigner.generate("unit"),
    }
    drop_store(store)


def make_plan(env: Any, key: str = "k1") -> Plan:
    rest = REST.format(tmp=env["tmp"], key=key)
    return parse_offline_plan("unit", env["src"], rest, store=env["store"])


def state(env: Any) -> Path:
    path = env["tmp"] / "state"
    path.mkdir(exist_ok=True)
    return path


def migrate(env: Any, plan: Plan) -> None:
    with (
        Journal(state(env) / "journal.sqlite") as journal,
        ManifestWriter(state(env) / "manifest.jsonl", env["signer"], "hdh-migrate/unit") as m,
    ):
        job = Migration(
            plan,
            plan_digest(b"p"),
            journal=journal,
            manifest=m,
            executor=SerialExecutor(),
            clients=env["clients"],
            window=4,
        )
        outcomes = job.run()
        assert all(not o.failed for o in outcomes), [o.failed for o in outcomes]


def rotate(env: Any, plan: Plan, rotation_class: type[Rotation] = Rotation, **kw: Any) -> Any:
    reporter = ListReporter()
    with (
        Journal(state(env) / "journal.sqlite") as journal,
        ManifestWriter(state(env) / "manifest.jsonl", env["signer"], "hdh-migrate/unit") as m,
        make_executor("threads", 3) as executor,
    ):
        job = rotation_class(
            plan,
            plan_digest(b"p"),
            journal=journal,
            manifest=m,
            executor=executor,
            clients=env["clients"],
            reporter=reporter,
            window=5,
        )
        return job.run(kw.get("old", "k1"), kw.get("new", "k2"), kw.get("dataset")), reporter


def snapshot(env: Any) -> dict[str, tuple[str | None, str]]:
    target = env["clients"].target
    out = {}
    for info in target.list("enc/"):
        with target.open_read(info.key) as stream:
            out[info.key] = (info.etag, hashlib.sha256(stream.read()).hexdigest())
    return out


def rewrap_records(env: Any) -> list[dict[str, Any]]:
    lines = (state(env) / "manifest.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("type") == "rewrap"]


def verify_items(env: Any, plan: Plan, key: str, mode: str = "full") -> list[Any]:
    spec = target_spec(plan, "mem")
    kek = key_spec(key, plan.keys[key])
    results = []
    with Journal(state(env) / "journal.sqlite") as journal:
        for item in journal.items(ItemState.VERIFIED, "ds"):
            relative = item.key.removeprefix("data/")
            vi = VerifyItem(
                "ds",
                item.key,
                f"ds/{relative}",
                item.target_key or "",
                spec,
                kek,
                mode,
                item.plaintext_sha256,
                item.size,
                item.target_size or 0,
            )
            results.append(verify_object(vi, env["clients"]))
    return results


DS_OBJECTS = 14


def test_rotation_writes_sidecars_leaves_bodies_and_is_idempotent(env: Any) -> None:
    plan = make_plan(env)
    migrate(env, plan)
    before = snapshot(env)
    assert len(before) == DS_OBJECTS

    outcome, reporter = rotate(env, plan)

    assert (outcome.rotated, outcome.skipped, outcome.failed) == (DS_OBJECTS, 0, [])
    assert outcome.recorded == DS_OBJECTS and outcome.datasets == ["ds"]
    assert snapshot(env) == before  # bodies and headers: same ETag, same bytes
    target = env["clients"].target
    sidecars = sorted(i.key for i in target.list(SIDECAR_PREFIX))
    assert sidecars == sorted(sidecar_key(k) for k in before)
    assert sidecar_key("enc/sub/é 100% #1 space.bin") in sidecars
    assert not list(target.list(SIDECAR_PREFIX + "enc-other/"))  # k3 dataset untouched
    records = rewrap_records(env)
    assert len(records) == DS_OBJECTS
    k1 = env["clients"].key(key_spec("k1", plan.keys["k1"])).ref
    k2 = env["clients"].key(key_spec("k2", plan.keys["k2"])).ref
    assert {(r["from_kek_ref"], r["to_kek_ref"]) for r in records} == {(k1, k2)}
    assert {r["object_id"] for r in records} == {f"ds/{k[4:]}" for k in before}
    for record in records:
        header = read_target_header(target, "enc/" + record["object_id"][3:])
        assert record["header_sha256"] == hashlib.sha256(header.raw).hexdigest()
    assert sum(1 for name, _ in reporter.events if name == "object.rotated") == DS_OBJECTS

    again, _ = rotate(env, plan)
    assert (again.rotated, again.skipped, again.recorded) == (0, DS_OBJECTS, 0)
    assert len(rewrap_records(env)) == DS_OBJECTS
    assert verify_manifest(state(env) / "manifest.jsonl", env["signer"].public_key_bytes()).ok


def test_readers_open_with_the_new_key_only(env: Any, tmp_path: Path) -> None:
    plan = make_plan(env)
    migrate(env, plan)
    rotate(env, plan)

    assert all(r.ok for r in verify_items(env, plan, "k2", "full"))
    assert all(r.ok for r in verify_items(env, plan, "k2", "header"))
    for mode in ("full", "header"):  # a configuration error: one line, raised, not per object
        with pytest.raises(RotatedKeyError) as caught:
            verify_items(env, plan, "k1", mode)
        line = caught.value.one_line()
        assert "sidecar .hdh-envelopes/enc/" in line and "name the new key in the plan" in line
        assert "\n" not in line

    target = env["clients"].target
    k1 = env["clients"].key(key_spec("k1", plan.keys["k1"]))
    k2 = env["clients"].key(key_spec("k2", plan.keys["k2"]))
    key = "enc/sub/é 100% #1 space.bin"
    with open_plaintext(target, key, k2, "ds/sub/é 100% #1 space.bin") as reader:
        assert reader.read() == env["files"]["data/sub/é 100% #1 space.bin"]
    with pytest.raises(IntegrityAuthError, match="sidecar"), open_plaintext(target, key, k1, None):
        pass

    item = RestoreItem(
        "data/f03.bin",
        "f03.bin",
        "ds/f03.bin",
        "enc/f03.bin",
        len(env["files"]["data/f03.bin"]),
        None,
    )
    spec = target_spec(plan, "mem")
    out = RestoreDir(tmp_path / "restored")
    done = restore_one(item, out, spec, key_spec("k2", plan.keys["k2"]), env["clients"])
    out.close()
    assert done.problem is None
    assert (tmp_path / "restored" / "f03.bin").read_bytes() == env["files"]["data/f03.bin"]
    r1 = RestoreDir(tmp_path / "r1")
    with pytest.raises(RotatedKeyError, match="sidecar"):
        restore_one(item, r1, spec, key_spec("k1", plan.keys["k1"]), env["clients"])
    r1.close()
    assert list((tmp_path / "r1").iterdir()) == []  # no file, no temporary left


def test_reverify_through_a_plan_naming_the_old_key_stops_and_marks_nothing(env: Any) -> None:
    plan = make_plan(env)
    migrate(env, plan)
    rotate(env, plan)
    with (
        Journal(state(env) / "journal.sqlite") as journal,
        ManifestWriter(state(env) / "manifest.jsonl", env["signer"], "hdh-migrate/unit") as m,
        make_executor("threads", 2) as executor,
    ):
        job = Migration(
            plan,
            plan_digest(b"p"),
            journal=journal,
            manifest=m,
            executor=executor,
            clients=env["clients"],
            window=4,
        )
        with pytest.raises(RotatedKeyError):
            job.reverify(VerifyMode("full"))
        counts = {c.state: c.count for c in journal.counts("ds")}
    assert counts == {ItemState.VERIFIED: DS_OBJECTS}


def test_a_crash_between_sidecar_and_record_is_healed_once(env: Any) -> None:
    plan = make_plan(env)
    migrate(env, plan)

    class Killed(Exception):
        pass

    class Crashing(Rotation):
        appended = 0

        def _append(self, result: Any) -> None:
            if Crashing.appended == 5:
                raise Killed  # the sidecar is written, the record is not
            Crashing.appended += 1
            super()._append(result)

    with pytest.raises(Killed):
        rotate(env, plan, Crashing)
    written = len(list(env["clients"].target.list(SIDECAR_PREFIX)))
    assert 5 < written < DS_OBJECTS + 3  # some rotated but not recorded, others not started
    assert len(rewrap_records(env)) == 5

    outcome, _ = rotate(env, plan)
    assert outcome.failed == []
    assert outcome.rotated + outcome.skipped == DS_OBJECTS
    assert outcome.skipped == written and outcome.recorded == DS_OBJECTS - 5
    records = rewrap_records(env)
    assert len(records) == DS_OBJECTS == len({r["object_id"] for r in records})
    assert verify_manifest(state(env) / "manifest.jsonl", env["signer"].public_key_bytes()).ok
    assert all(r.ok for r in verify_items(env, plan, "k2"))


def test_recopy_drops_the_stale_sidecar_and_plan_update_rotates_stragglers(env: Any) -> None:
    plan = make_plan(env)
    migrate(env, plan)
    rotate(env, plan)
    # the operator updates the plan to k2; one source object changes; a new one arrives
    plan2 = make_plan(env, key="k2")
    (env["src"] / "data" / "f01.bin").write_bytes(b"changed after rotation")
    (env["src"] / "data" / "new.bin").write_bytes(b"new object")
    migrate(env, plan2)
    target = env["clients"].target
    header = read_target_header(target, "enc/f01.bin")
    assert load_envelope(target, "enc/f01.bin", header) is None  # stale sidecar deleted
    assert header.kek_ref == env["clients"].key(key_spec("k2", plan.keys["k2"])).ref
    assert all(r.ok for r in verify_items(env, plan2, "k2"))

    outcome, _ = rotate(env, plan2)  # datasets naming k2 are covered too: nothing left
    assert (outcome.rotated, len(outcome.failed), outcome.recorded) == (0, 0, 0)
    assert outcome.skipped == DS_OBJECTS + 1  # f01 and new.bin: headers under k2, no record
    assert len(rewrap_records(env)) == DS_OBJECTS


def test_rotating_back_and_forth_records_every_rewrap(env: Any) -> None:
    plan = make_plan(env)
    migrate(env, plan)
    assert rotate(env, plan)[0].recorded == DS_OBJECTS
    plan2 = make_plan(env, key="k2")
    back, _ = rotate(env, plan2, old="k2", new="k1")
    assert (back.rotated, back.recorded) == (DS_OBJECTS, DS_OBJECTS)
    forth, _ = rotate(env, plan, old="k1", new="k2")
    assert (forth.rotated, forth.recorded) == (DS_OBJECTS, DS_OBJECTS)
    assert [r["to_kek_ref"] for r in rewrap_records(env)].count(
        env["clients"].key(key_spec("k2", plan.keys["k2"])).ref
    ) == 2 * DS_OBJECTS
    assert all(r.ok for r in verify_items(env, plan2, "k2"))


def test_object_under_a_third_key_fails_with_a_one_line_reason(env: Any) -> None:
    plan = make_plan(env)
    migrate(env, plan)
    target = env["clients"].target
    k3 = env["clients"].key(key_spec("k3", plan.keys["k3"]))
    data = b"under k3"
    sealed = b"".join(Encryptor(k3, "ds/f02.bin", len(data), 1 << 16).encrypt_stream(data))
    target.write("enc/f02.bin", io.BytesIO(sealed), len(sealed))
    outcome, _ = rotate(env, plan)
    assert outcome.rotated == DS_OBJECTS - 1
    ((key, reason),) = outcome.failed
    assert key == "ds/data/f02.bin" and "neither --from" in reason and k3.ref in reason


def test_misplaced_sidecar_is_refused(env: Any) -> None:
    plan = make_plan(env)
    migrate(env, plan)
    rotate(env, plan)
    target = env["clients"].target
    with target.open_read(sidecar_key("enc/f01.bin")) as stream:
        foreign = stream.read()
    target.write(sidecar_key("enc/f02.bin"), io.BytesIO(foreign), len(foreign))
    item = RewrapItem(
        "ds",
        "data/f02.bin",
        "ds/f02.bin",
        "enc/f02.bin",
        target_spec(plan, "mem"),
        key_spec("k1", plan.keys["k1"]),
        key_spec("k2", plan.keys["k2"]),
    )
    result = rewrap_object(item, env["clients"])
    assert result.state == "failed" and "belongs to another header" in (result.reason or "")
    bad = [r for r in verify_items(env, plan, "k2") if not r.ok]
    assert [r.key for r in bad] == ["data/f02.bin"]


def test_usage_errors_are_one_line(env: Any) -> None:
    plan = make_plan(env)
    with pytest.raises(UsageError, match="no key 'nope'"):
        rotation_datasets(plan, "nope", "k2", None)
    with pytest.raises(UsageError, match="both 'k1'"):
        rotation_datasets(plan, "k1", "k1", None)
    with pytest.raises(UsageError, match="dataset 'other' uses key 'k3'"):
        rotation_datasets(plan, "k1", "k2", "other")
    with pytest.raises(UsageError, match="no dataset 'zz'"):
        rotation_datasets(plan, "k1", "k2", "zz")
    assert rotation_datasets(plan, "k3", "k2", None) == ["other"]
    assert rotation_datasets(make_plan(env, key="k2"), "k1", "k2", None) == ["ds"]
    assert rotation_datasets(plan, "k1", "k2", "ds") == ["ds"]


def test_audit_listing_leaves_sidecars_out() -> None:
    store = f"t-{uuid.uuid4().hex}"
    target = MemoryBackend(store)
    try:
        for key in ("a/x", sidecar_key("a/x"), ".hdh-probe/c", "b"):
            target.write(key, io.BytesIO(b"1"), 1)
        assert [i.key for i in _target_listing(target, "", Diff())] == ["a/x", "b"]
    finally:
        drop_store(store)


def test_recorded_rewraps_reads_only_records_to_the_new_key(tmp_path: Path) -> None:
    signer = Ed25519FileSigner.generate("unit")
    path = tmp_path / "m.jsonl"
    with ManifestWriter(path, signer, "hdh-migrate/unit") as writer:
        writer.append({"type": "run", "run_id": "r", "tool_version": "t", "plan_digest": "d"})
        for to in ("A", "B"):
            writer.append(
                {
                    "type": "rewrap",
                    "dataset": "ds",
                    "object_id": f"ds/{to}",
                    "from_kek_ref": "X",
                    "to_kek_ref": to,
                    "header_sha256": "00",
                }
            )
    latest = recorded_rewraps(path)
    assert sorted(latest.values()) == ["A", "B"] and len(latest) == 2
    assert recorded_rewraps(tmp_path / "missing.jsonl") == {}


def test_cli_usage_errors_exit_2_in_one_line(
    env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hdh_migrate.cli.main import run

    path = tmp_path / "plan.yaml"
    rest = REST.format(tmp=env["tmp"], key="k1")
    path.write_text(offline_plan_text("unit", env["src"], rest, store=env["store"]))
    base = ["keys", "rotate", str(path)]
    assert run([*base, "--from", "k1", "--to", "k1"]) == 2
    assert run([*base, "--from", "k1", "--to", "nope"]) == 2
    assert run([*base, "--from", "k1", "--to", "k2", "--dataset", "other"]) == 2
    assert run([*base, "--from", "k1", "--to", "k2"]) == 2  # nothing has run: no journal
    lines = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert len(lines) == 4, lines
    assert "both 'k1'" in lines[0] and "no key 'nope'" in lines[1]
    assert "uses key 'k3'" in lines[2] and "nothing has run" in lines[3]

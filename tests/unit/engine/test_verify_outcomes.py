"""Verification outcomes at the coordinator: verified | mismatch | unverifiable.

Only a mismatch changes an object's state; a server error or a lost connection leaves it
as it was (checked again later, exit 5); a wrong key stops at the first object, marks
nothing (exit 7); a verify reports every object not verified, whatever its state.
"""

import io
import os
import uuid

import pytest

from hdh_migrate.backends.memory import drop_store
from hdh_migrate.engine.run.verdict import verdict
from hdh_migrate.errors import (
    IntegrityAuthError,
    ObjectsFailedError,
    RetryableError,
    ThrottledError,
    UnreachableError,
    VerificationError,
    WrongKeyError,
)
from hdh_migrate.execution import SerialExecutor
from hdh_migrate.integrity import Ed25519FileSigner
from hdh_migrate.journal import ItemState, Journal
from hdh_migrate.plan import VerifyMode
from tests.offline_plan import MemoryTargetClients, offline_migration, parse_offline_plan

REST = """\
keys:
  k: {{kind: file, path: "{key}", create: true}}
defaults: {{key: k, verify: {verify}, retries: 1}}
state_dir: "{state}"
waves:
  - name: w1
    datasets:
      - name: ds
        source: disk
        prefix: data/
        target: mem
        target_prefix: enc/
"""


@pytest.fixture
def env(tmp_path):
    src = tmp_path / "src" / "data"
    src.mkdir(parents=True)
    for name in ("a.bin", "b.bin", "c.bin"):
        (src / name).write_bytes(os.urandom(5000))
    store = f"t-{uuid.uuid4().hex}"
    yield {"tmp": tmp_path, "store": store, "signer": Ed25519FileSigner.generate("unit")}
    drop_store(store)


def make_plan(env, verify="full", key="kek.key"):
    rest = REST.format(key=env["tmp"] / key, state=env["tmp"] / "state", verify=verify)
    return parse_offline_plan("unit", env["tmp"] / "src", rest, store=env["store"])


def migration(env, plan, clients):
    return offline_migration(plan, env["tmp"] / "state", clients, signer=env["signer"])


def counts(env):
    with Journal(env["tmp"] / "state" / "journal.sqlite") as journal:
        return {c.state: c.count for c in journal.counts("ds")}


def test_a_503_during_verify_marks_nothing_failed_and_exits_5(env):
    plan = make_plan(env)
    clients = MemoryTargetClients(env["store"])
    with migration(env, plan, clients) as job:
        job.run()
    clients.target.fail_on("open_read", ThrottledError("503 SlowDown"), times=1000)
    with migration(env, plan, clients) as job:
        outcomes = job.reverify(VerifyMode("full"))
    (ds,) = outcomes
    assert ds.failed == [] and len(ds.unverifiable) == 3
    assert "could not be made" in ds.unverifiable[0][1]
    assert counts(env) == {ItemState.VERIFIED: 3}
    error = verdict(outcomes, "verify")
    assert isinstance(error, ObjectsFailedError) and error.exit_code == 5
    puts = clients.puts
    clients.target._faults.clear()
    with migration(env, plan, clients) as job:
        job.run()
    assert clients.puts == puts  # nothing uploaded again


def test_a_target_lost_during_the_runs_verification_leaves_objects_copied(env):
    plan = make_plan(env)
    clients = MemoryTargetClients(env["store"])
    clients.target.fail_on("open_read", UnreachableError("cannot connect"), times=1000)
    with migration(env, plan, clients) as job:
        outcomes = job.run()
    assert outcomes[0].copied == 3 and outcomes[0].failed == []
    assert len(outcomes[0].unverifiable) == 3
    assert counts(env) == {ItemState.COPIED: 3}
    assert verdict(outcomes, "run").exit_code == 5
    puts = clients.puts
    clients.target._faults.clear()
    with migration(env, plan, clients) as job:
        outcomes = job.run()
    assert (outcomes[0].copied, outcomes[0].verified, clients.puts) == (0, 3, puts)
    assert counts(env) == {ItemState.VERIFIED: 3}
    assert verdict(outcomes, "run") is None


def test_a_transient_503_during_verify_is_retried_by_the_plan_policy(env):
    plan = make_plan(env)
    clients = MemoryTargetClients(env["store"])
    with migration(env, plan, clients) as job:
        job.run()
    clients.target.fail_on("open_read", RetryableError("503"), times=1)
    with migration(env, plan, clients) as job:
        (ds,) = job.reverify(VerifyMode("full"))
    assert (ds.verified, ds.unverifiable, ds.failed) == (3, [], [])


def test_a_wrong_kek_stops_verify_at_the_first_object_and_marks_nothing(env):
    for n in range(12):
        (env["tmp"] / "src" / "data" / f"more-{n}.bin").write_bytes(b"x" * n)
    clients = MemoryTargetClients(env["store"])
    with migration(env, make_plan(env), clients) as job:
        job.run()
    wrong = make_plan(env, key="other.key")
    clients = MemoryTargetClients(env["store"])  # same target store, keys opened afresh
    seen = []
    original = clients.target.open_read

    def counting(key, **kwargs):
        seen.append(key)
        return original(key, **kwargs)

    clients.target.open_read = counting  # type: ignore[method-assign]
    for mode in ("full", "header"):
        seen.clear()
        with migration(env, wrong, clients) as job, pytest.raises(WrongKeyError) as caught:
            job.reverify(VerifyMode(mode))
        assert caught.value.exit_code == 7
        read = {k for k in seen if not k.startswith(".hdh-envelopes/")}
        assert len(read) <= 5  # the window (4) and its refill when the first result came, of 15
        assert counts(env) == {ItemState.VERIFIED: 15}
    puts = clients.puts
    with migration(env, make_plan(env), clients) as job:
        job.run()
    assert clients.puts == puts


def test_verify_keeps_reporting_a_mismatch_left_in_the_journal(env):
    plan = make_plan(env)
    clients = MemoryTargetClients(env["store"])
    with migration(env, plan, clients) as job:
        job.run()
    clients.target.write("enc/b.bin", io.BytesIO(b"not an HDH1 object"), 18)
    with migration(env, plan, clients) as job:
        first = job.reverify(VerifyMode("full"))
    assert [k for k, _ in first[0].failed] == ["data/b.bin"]
    assert isinstance(verdict(first, "verify"), VerificationError)
    with migration(env, plan, clients) as job:
        second = job.reverify(VerifyMode("full"))
    assert second[0].verified == 2 and [k for k, _ in second[0].failed] == ["data/b.bin"]
    assert verdict(second, "verify").exit_code == 4


def test_tampered_ciphertext_at_verify_exits_7_and_is_copied_again(env):
    plan = make_plan(env)
    clients = MemoryTargetClients(env["store"])
    with migration(env, plan, clients) as job:
        job.run()
    body = bytearray(clients.target.open_read("enc/a.bin").read())
    body[-5] ^= 1
    clients.target.write("enc/a.bin", io.BytesIO(bytes(body)), len(body))
    with migration(env, plan, clients) as job:
        outcomes = job.reverify(VerifyMode("full"))
    assert outcomes[0].tampered == 1
    error = verdict(outcomes, "verify")
    assert isinstance(error, IntegrityAuthError) and error.exit_code == 7
    assert counts(env) == {ItemState.VERIFIED: 2, ItemState.FAILED: 1}
    with migration(env, plan, clients) as job:
        again = job.run()
    assert again[0].copied == 1 and verdict(again, "run") is None


def test_verify_reports_objects_a_run_could_not_copy(env):
    plan = make_plan(env)
    clients = MemoryTargetClients(env["store"])
    clients.target.fail_on("write", RetryableError("reset"), times=1000, key="enc/c.bin")
    with migration(env, plan, clients) as job:
        job.run()
    with migration(env, plan, clients) as job:
        outcomes = job.reverify(VerifyMode("full"))
    assert outcomes[0].verified == 2
    assert [k for k, _ in outcomes[0].not_verified] == ["data/c.bin"]
    assert verdict(outcomes, "verify").exit_code == 5


def test_verify_none_records_objects_verified_without_reading_the_target(env):
    plan = make_plan(env, verify="none")
    clients = MemoryTargetClients(env["store"])
    reads = []
    original = clients.target.open_read
    clients.target.open_read = lambda key, **kw: reads.append(key) or original(key, **kw)  # type: ignore[method-assign]
    with migration(env, plan, clients) as job:
        outcomes = job.run()
    assert (outcomes[0].copied, outcomes[0].verified, reads) == (3, 3, [])
    assert counts(env) == {ItemState.VERIFIED: 3}
    manifest = (env["tmp"] / "state" / "manifest.jsonl").read_text()
    assert manifest.count('"verify":{"mode":"none","result":"ok"}') == 3


@pytest.mark.parametrize(("retries", "expected"), [(0, "unverifiable"), (2, "verified")])
def test_defaults_retries_sets_how_often_a_check_is_tried(env, retries, expected):
    plan = make_plan(env)
    clients = MemoryTargetClients(env["store"])
    with migration(env, plan, clients) as job:
        job.run()
    text = REST.format(key=env["tmp"] / "kek.key", state=env["tmp"] / "state", verify="full")
    text = text.replace("retries: 1", f"retries: {retries}")
    plan = parse_offline_plan("unit", env["tmp"] / "src", text, store=env["store"])
    clients.target.fail_on("open_read", RetryableError("503"), times=2, key="enc/a.bin")
    with migration(env, plan, clients) as job:
        (ds,) = job.reverify(VerifyMode("full"))
    got = "unverifiable" if ds.unverifiable else "verified"
    assert (got, ds.failed) == (expected, [])


def test_a_wrong_kek_stops_restore_at_the_first_object_exit_7(env):
    from hdh_migrate.engine.restore import restore_all, restore_items
    from hdh_migrate.engine.specs import key_spec

    clients = MemoryTargetClients(env["store"])
    with migration(env, make_plan(env), clients) as job:
        job.run()
        ctx = job.context("ds")
    wrong = make_plan(env, key="other.key").effective("ds")
    out = env["tmp"] / "restored"
    with Journal(env["tmp"] / "state" / "journal.sqlite") as journal:
        items = restore_items(journal.items(dataset="ds"), "ds", "data/", "")
        with pytest.raises(WrongKeyError) as caught:
            restore_all(
                items,
                out,
                ctx.target,
                key_spec("k", wrong.key),
                MemoryTargetClients(env["store"]),
                "ds",
                SerialExecutor(),
                1,
            )
    assert caught.value.exit_code == 7
    assert not [p for p in out.rglob("*") if p.is_file()]


def test_an_unknown_verify_mode_is_a_usage_error_before_anything_opens(tmp_path, capsys):
    from hdh_migrate.cli.main import run

    assert run(["verify", str(tmp_path / "any.yaml"), "--mode", "fulll"]) == 2
    err = capsys.readouterr().err.strip()
    assert "'fulll' is not a verification mode" in err and len(err.splitlines()) == 1


def test_a_sample_is_drawn_per_object_from_the_typed_mode(env):
    plan = make_plan(env, verify="sample:50%")
    for n in range(20):
        (env["tmp"] / "src" / "data" / f"s{n}.bin").write_bytes(os.urandom(100))
    clients = MemoryTargetClients(env["store"])
    with migration(env, plan, clients) as job:
        job.run()
        modes = [f["mode"] for name, f in job.reporter.events if name == "object.verified"]
    assert set(modes) == {"full", "header"} and len(modes) == 23


def test_verify_mode_header_checks_every_object_by_header():
    from hdh_migrate.engine.run.runner import _concrete_mode
    from hdh_migrate.engine.run.session import verify_mode

    mode = verify_mode("header")
    assert {_concrete_mode(mode, f"ds/{n}", "seed") for n in range(200)} == {"header"}
    assert verify_mode("sample:5%") == VerifyMode("sample", 5.0) and verify_mode(None) is None

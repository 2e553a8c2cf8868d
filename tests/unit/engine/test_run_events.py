"""The run's events: versioned envelope valid against docs/events.schema.json, run.started
and run.finished, verification split by how, and a clean stop on interrupt()."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from hdh_migrate.backends.memory import drop_store
from hdh_migrate.engine.run.runner import Migration, plan_digest
from hdh_migrate.events import ListReporter
from hdh_migrate.execution import SerialExecutor
from hdh_migrate.integrity import Ed25519FileSigner, ManifestWriter
from hdh_migrate.journal import ItemState, Journal
from hdh_migrate.observe import Envelope
from tests.offline_plan import MemoryTargetClients, one_dataset, parse_offline_plan

SCHEMA = json.loads((Path(__file__).parents[3] / "docs" / "events.schema.json").read_text())


@pytest.fixture
def env(tmp_path: Path) -> Any:
    src = tmp_path / "src" / "data"
    src.mkdir(parents=True)
    for i in range(40):
        (src / f"o{i:02d}.bin").write_bytes(os.urandom(100 + i))
    store = f"t-{uuid.uuid4().hex}"
    signer = Ed25519FileSigner.generate("u")
    yield {"tmp": tmp_path, "src": tmp_path / "src", "store": store, "signer": signer}
    drop_store(store)


class Stamped(ListReporter):
    """What --json prints: every event in the envelope."""

    def __init__(self) -> None:
        super().__init__()
        self.envelope = Envelope("run-1")
        self.records: list[dict[str, Any]] = []

    def event(self, name: str, /, **fields: Any) -> None:
        super().event(name, **fields)
        self.records.append(json.loads(json.dumps(self.envelope.wrap(name, fields))))


def migrate(env: Any, verify: str, reporter: Any, clients: Any) -> tuple[Migration, list[Any]]:
    rest = one_dataset(env["tmp"] / "k.key", env["tmp"] / "st", verify=verify)
    plan = parse_offline_plan("ev", env["src"], rest, store=env["store"])
    (env["tmp"] / "st").mkdir(exist_ok=True)
    with (
        Journal(env["tmp"] / "st" / "journal.sqlite") as journal,
        ManifestWriter(env["tmp"] / "st" / "m.jsonl", env["signer"], "hdh-migrate/ev") as manifest,
    ):
        job = Migration(
            plan,
            plan_digest(b"p"),
            journal=journal,
            manifest=manifest,
            executor=SerialExecutor(),
            clients=clients,
            reporter=reporter,
            window=2,
        )
        reporter.job = job
        outcomes = job.run()
        reporter.counts = {c.state: c.count for c in journal.counts("ds")}
    return job, outcomes


def test_every_event_of_a_run_validates_against_the_published_schema(env: Any) -> None:
    reporter = Stamped()
    _, outcomes = migrate(env, "sample:25%", reporter, MemoryTargetClients(env["store"]))
    for record in reporter.records:
        jsonschema.validate(record, SCHEMA)
    names = [r["event"] for r in reporter.records]
    assert names[0] == "run.started" and names[-1] == "run.finished"
    started = reporter.records[0]
    assert started["datasets"] == ["ds"] and started["plan_digest"].startswith("sha256:")
    assert started["targets"] and started["sources"], started
    finished = reporter.records[-1]
    by = finished["verified_by"]
    assert sum(by.values()) == finished["verified"] == 40
    assert by.get("full", 0) > 0 and by.get("sampled", 0) > 0  # a sample is not a full check
    assert outcomes[0].verified_by == by
    assert [r["seq"] for r in reporter.records] == list(range(1, len(reporter.records) + 1))


def test_a_bad_event_fails_the_schema() -> None:
    bad = Envelope("r").wrap("object.verified", {"dataset": "d", "key": "k", "mode": "x"})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)  # no "how"


class StopAfter(ListReporter):
    """Interrupts the run (as the SIGINT handler does) after ``n`` copies."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n, self.copied = n, 0

    def event(self, name: str, /, **fields: Any) -> None:
        super().event(name, **fields)
        if name == "object.copied":
            self.copied += 1
            if self.copied == self.n:
                self.job.interrupt()


def test_interrupt_takes_no_new_work_then_a_rerun_finishes_without_reuploads(env: Any) -> None:
    clients = MemoryTargetClients(env["store"])
    reporter = StopAfter(5)
    job, outcomes = migrate(env, "full", reporter, clients)
    assert job.interrupted
    copied = outcomes[0].copied
    # what was in flight (the window of 2) finished, nothing more; marks are committed by
    # groups of one window (engine/run/group_commit.py), so the 5th copy's event can come with
    # one more already-finished copy of its group: 5 + (2 - 1) + 2 at most
    assert 5 <= copied <= 5 + 1 + 2
    assert outcomes[0].verified == 0
    assert reporter.counts == {ItemState.COPIED: copied, ItemState.PENDING: 40 - copied}
    finished = [f for n, f in reporter.events if n == "run.finished"]
    assert finished and finished[0]["interrupted"] is True
    assert clients.puts == copied
    again = ListReporter()
    _, outcomes = migrate(env, "full", again, clients)
    assert outcomes[0].copied == 40 - copied and outcomes[0].verified == 40
    assert clients.puts == 40  # what was copied before the interrupt was not sent again


def test_the_run_report_says_how_objects_were_verified(env: Any) -> None:
    from datetime import UTC, datetime

    from hdh_migrate.reports.run_report import RunReport

    _, outcomes = migrate(env, "sample:25%", ListReporter(), MemoryTargetClients(env["store"]))
    now = datetime.now(UTC)
    report = RunReport("run", "ev", "r", now, now, True, tuple(outcomes))
    by = report.to_dict()["totals"]["verified_by"]
    assert by == outcomes[0].verified_by and by["sampled"] > 0
    assert f"{by['full']} by full read-back, {by['sampled']} sampled" in report.markdown()


def test_object_retry_events_name_each_retry_cause_and_validate(env: Any) -> None:
    from hdh_migrate.errors import RetryableError, ThrottledError

    clients = MemoryTargetClients(env["store"])
    try:
        raise ConnectionResetError(104, "Connection reset by peer")
    except ConnectionResetError:
        reset = RetryableError("mem: put: connection dropped")
    clients.target.fail_on("write", reset, times=1)
    clients.target.fail_on("open_read", ThrottledError("mem: read: SlowDown (HTTP 503)"), times=1)
    reporter = Stamped()
    migrate(env, "full", reporter, clients)
    retries = [r for r in reporter.records if r["event"] == "object.retry"]
    for record in retries:
        jsonschema.validate(record, SCHEMA)
    by_phase = {r["phase"]: r for r in retries}
    assert set(by_phase) == {"copy", "verify"}, retries
    copy, verify = by_phase["copy"], by_phase["verify"]
    assert copy["causes"] == {"connection_reset": 1} and copy["cause"] == "connection_reset"
    assert copy["attempts"] == 1 and copy["throttled"] == 0
    assert verify["causes"] == {"throttled": 1} and verify["throttled"] == 1
    assert "SlowDown" not in json.dumps(retries)  # causes, not the server's words
    finished = reporter.records[-1]
    assert finished["event"] == "run.finished" and finished["verified"] == 40


class InFlight(ListReporter):
    """Reads the job's in-flight gauge at every event, as a metrics scrape would."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []

    def event(self, name: str, /, **fields: Any) -> None:
        super().event(name, **fields)
        if hasattr(self, "job"):
            self.seen.append(self.job.objects_in_flight)


def test_objects_in_flight_rise_within_the_window_and_fall_to_zero(env: Any) -> None:
    reporter = InFlight()
    job, _ = migrate(env, "full", reporter, MemoryTargetClients(env["store"]))
    assert max(reporter.seen) >= 1 and all(0 <= n <= 2 for n in reporter.seen)  # window 2
    assert reporter.seen[-1] == 0 and job.objects_in_flight == 0


def test_the_journal_reports_each_commit_time(tmp_path: Path) -> None:
    times: list[float] = []
    with Journal(tmp_path / "j.sqlite") as journal:
        journal.on_commit = times.append
        journal.begin_run("r", "sha256:x", "0")
        journal.ensure_dataset("ds", "w1")
    assert len(times) >= 2 and all(0 <= t < 10 for t in times)


def test_a_full_verify_after_a_sampled_run_counts_every_object_as_fully_read_back(
    env: Any,
) -> None:
    """What the cutover gate reads (journal verify modes): the strongest check passed."""
    from hdh_migrate.plan import VerifyMode

    clients = MemoryTargetClients(env["store"])
    migrate(env, "sample:25%", ListReporter(), clients)
    path = env["tmp"] / "st" / "journal.sqlite"
    with Journal(path) as journal:
        sampled = journal.verified_modes("ds")
    assert sampled.get("header", 0) > 0 and sum(sampled.values()) == 40
    rest = one_dataset(env["tmp"] / "k.key", env["tmp"] / "st", verify="sample:25%")
    plan = parse_offline_plan("ev", env["src"], rest, store=env["store"])
    for mode, expected in (("full", {"full": 40}), ("sample:10%", {"full": 40})):
        with (
            Journal(path) as journal,
            ManifestWriter(env["tmp"] / "st" / "m.jsonl", env["signer"], "hdh-migrate/ev") as m,
        ):
            job = Migration(
                plan,
                plan_digest(b"p"),
                journal=journal,
                manifest=m,
                executor=SerialExecutor(),
                clients=clients,
            )
            (outcome,) = job.reverify(VerifyMode.parse(mode))
            assert outcome.verified == 40
            assert journal.verified_modes("ds") == expected  # a weaker recheck keeps "full"

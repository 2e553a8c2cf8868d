"""The watchers of a long run: stats, envelope, folding, log file, metrics, ticker."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from hdh_migrate.events import ListReporter
from hdh_migrate.observe import EVENTS_SCHEMA, Envelope, Fanout, RunStats
from hdh_migrate.observe.folding import Folding
from hdh_migrate.observe.logfile import LogFile
from hdh_migrate.observe.metrics import Metrics
from hdh_migrate.observe.ticker import Ticker

MIB = 1 << 20


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_stats_count_events_and_compute_rate_and_eta() -> None:
    clock = FakeClock()
    stats = RunStats(clock)
    stats.event("copy.start", dataset="d", objects=4, bytes=40 * MIB)
    stats.event("object.copied", dataset="d", key="a", bytes=10 * MIB)
    stats.event("object.retry", dataset="d", key="a", attempts=2, throttled=1)
    stats.event("object.failed", dataset="d", key="b", reason="x")
    clock.now += 10
    t = stats.snapshot()
    assert (t.objects_copied, t.bytes_copied, t.retries, t.throttles, t.failed) == (
        1,
        10 * MIB,
        2,
        1,
        1,
    )
    assert t.rate == pytest.approx(MIB)
    assert t.eta == pytest.approx(30.0)
    line = stats.line()
    assert "copied 1/4 objects" in line and "1.0 MiB/s" in line and "ETA 0m30s" in line
    assert "retries 2" in line and "failed 1" in line
    assert "MB" not in line.replace("MiB", "")  # one unit system


def test_stats_move_inside_a_large_object_by_the_bytes_read() -> None:
    clock, read = FakeClock(), [7 * MIB]  # the meter before this run: not ours
    stats = RunStats(clock, read=lambda: read[0])
    stats.event("copy.start", dataset="d", objects=1, bytes=100 * MIB)
    clock.now += 10
    read[0] += 20 * MIB  # a single object in flight, not finished
    t = stats.snapshot()
    assert (t.objects_copied, t.bytes_copied, t.bytes_read, t.bytes_moved) == (
        0,
        0,
        20 * MIB,
        20 * MIB,
    )
    assert t.rate == pytest.approx(2 * MIB) and t.eta == pytest.approx(40.0)
    assert "copied 0/1 objects, 20.0 MiB/100.0 MiB, 2.0 MiB/s, ETA 0m40s" in stats.line()
    assert t.to_dict()["bytes_moved"] == 20 * MIB
    read[0] += 200 * MIB  # retried reads count again: never past the total
    assert stats.snapshot().bytes_moved == 100 * MIB


def test_envelope_stamps_schema_time_run_and_a_gapless_sequence() -> None:
    env = Envelope("r1")
    seqs: list[int] = []
    lock = threading.Lock()

    def emit() -> None:
        for _ in range(200):
            record = env.wrap("x", {})
            with lock:
                seqs.append(record["seq"])

    threads = [threading.Thread(target=emit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seqs) == list(range(1, 801))
    record = env.wrap("object.copied", {"key": "k"})
    assert record["schema"] == EVENTS_SCHEMA and record["run_id"] == "r1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["ts"])
    assert record["event"] == "object.copied" and record["key"] == "k"


def test_folding_summarises_per_object_notes_per_dataset() -> None:
    inner = ListReporter()
    fold = Folding(inner)
    for key in ("a", "b", "c"):
        fold.event("object.not_carried", dataset="d", key=key, items=["x-ms-blob-type"])
    fold.event("object.copied", dataset="d", key="a", bytes=1)
    fold.event("dataset.done", dataset="d")
    names = [name for name, _ in inner.events]
    assert names == ["object.copied", "dataset.not_carried", "dataset.done"]
    summary = inner.events[1][1]
    assert summary == {"dataset": "d", "objects": 3, "items": {"x-ms-blob-type": 3}}


def test_log_file_filters_by_level_is_private_and_escapes_control_characters(
    tmp_path: Path,
) -> None:
    path = tmp_path / "logs" / "run.log"
    log = LogFile(path, level="info", fmt="text", envelope=Envelope("r"))
    log.event("object.verified", dataset="d", key="quiet")  # debug: filtered out
    log.event("object.failed", dataset="d", key="evil\nFAKE LINE \x1b[31m", reason="boom")
    log.close()
    assert path.stat().st_mode & 0o777 == 0o600
    lines = path.read_text().splitlines()
    assert len(lines) == 1, lines
    assert "ERROR" in lines[0] and "\\n" in lines[0] and "\\u001b" in lines[0]
    json_log = LogFile(tmp_path / "j.log", level="debug", fmt="json", envelope=Envelope("r"))
    json_log.event("object.verified", dataset="d", key="k", mode="full", how="full")
    json_log.close()
    record = json.loads((tmp_path / "j.log").read_text())
    assert record["level"] == "debug" and record["schema"] == EVENTS_SCHEMA


def test_log_file_takes_an_event_after_it_was_closed(tmp_path: Path) -> None:
    log = LogFile(tmp_path / "run.log")
    log.event("run.finished", interrupted=False)
    log.close()  # the watch ended; `run --json` still ends with run.done
    log.event("run.done", datasets=[])
    names = [json.loads(x)["event"] for x in (tmp_path / "run.log").read_text().splitlines()]
    assert names == ["run.finished", "run.done"]


def test_log_file_refuses_to_write_through_a_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "link.log").symlink_to(victim)
    with pytest.raises(OSError):
        LogFile(tmp_path / "link.log")
    assert victim.read_text() == "keep"


def test_metrics_are_served_on_loopback_and_written_to_a_textfile(tmp_path: Path) -> None:
    metrics = Metrics()
    fan = Fanout([metrics])
    fan.event("copy.start", dataset="d", objects=2, bytes=30)
    fan.event("object.copied", dataset="d", key="a", bytes=10)
    fan.event("object.copied", dataset="d", key="b", bytes=20)
    fan.event("object.verified", dataset="d", key="a", mode="full", how="full")
    causes = {"throttled": 2, "connection_reset": 1}
    fan.event("object.retry", dataset="d", key="b", attempts=3, causes=causes, throttled=2)
    fan.event("object.retry", dataset="d", key="a", attempts=1, phase="verify")  # no causes
    in_flight = [5]
    metrics.watch(lambda: in_flight[0])
    for seconds in (0.002, 0.004, 0.3):
        metrics.commit(seconds)
    port = metrics.serve(0)
    url = f"http://127.0.0.1:{port}/metrics"
    body = urllib.request.urlopen(url, timeout=5).read().decode()
    assert 'hdh_migrate_bytes_total{dataset="d",outcome="ok",phase="copy"} 30.0' in body
    assert 'hdh_migrate_objects_total{dataset="d",outcome="full",phase="verify"} 1.0' in body
    retries = 'hdh_migrate_retries_total{{cause="{}",dataset="d",phase="{}"}} {}'
    assert retries.format("throttled", "copy", "2.0") in body
    assert retries.format("connection_reset", "copy", "1.0") in body
    assert retries.format("other", "verify", "1.0") in body
    assert 'hdh_migrate_throttles_total{dataset="d"} 2.0' in body
    assert "hdh_migrate_in_flight_objects 5.0" in body
    assert "hdh_migrate_journal_commit_seconds_count 3.0" in body
    assert 'hdh_migrate_journal_commit_seconds_bucket{le="0.005"} 2.0' in body
    assert re.search(r"hdh_migrate_peak_rss_bytes [1-9]", body)
    in_flight[0] = 0
    assert "hdh_migrate_in_flight_objects 0.0" in urllib.request.urlopen(url).read().decode()
    out = tmp_path / "hdh.prom"
    metrics.write(out)
    assert 'hdh_migrate_planned_bytes{dataset="d",phase="copy"} 30.0' in out.read_text()


def test_ticker_calls_at_its_interval_and_zero_disables() -> None:
    calls: list[float] = []
    with Ticker(0.05, lambda: calls.append(time.monotonic())):
        time.sleep(0.3)
    assert len(calls) >= 3
    calls.clear()
    with Ticker(0, lambda: calls.append(0.0)):
        time.sleep(0.1)
    assert calls == []

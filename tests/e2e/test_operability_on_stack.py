"""Watching a real run on Azurite → SeaweedFS, as an operator would (issue 15): Ctrl-C and
SIGTERM stop cleanly and resume; off a terminal a stats line comes at its interval; the
metrics endpoint is scraped mid-run and the textfile matches the journal at the end; the
log file and --json events validate against the published schema."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import jsonschema
import pytest

pytestmark = pytest.mark.stack
MIB = 1 << 20
SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "events.schema.json").read_text())


def seed(world: Any, count: int, size: int) -> None:
    for i in range(count):
        world.put(f"data/o{i:03d}.bin", os.urandom(size))


def start(world: Any, *args: str, root: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    """The console script in its own process, stdout/stderr piped (not a terminal)."""
    command = [sys.executable, "-m", "hdh_migrate", *root, "run", str(world.plan), *args]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
    )


def states(world: Any) -> dict[str, int]:
    with sqlite3.connect(world.state / "journal.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return dict(db.execute("SELECT state, count(*) FROM items GROUP BY state").fetchall())


def wait_for_copies(world: Any, process: subprocess.Popen[str], n: int = 2) -> None:
    """Until the journal holds ``n`` copied objects (the run is mid-flight)."""
    deadline = time.monotonic() + 120
    path = world.state / "journal.sqlite"
    while time.monotonic() < deadline and process.poll() is None:
        if path.exists():
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                try:
                    done = db.execute(
                        "SELECT count(*) FROM items WHERE state IN ('copied', 'verified')"
                    ).fetchone()[0]
                except sqlite3.OperationalError:
                    done = 0
            if done >= n:
                return
        time.sleep(0.1)
    raise AssertionError("the run never got going")


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_cleanly_reports_and_the_next_run_resumes(
    world: Any, sig: signal.Signals, code: int
) -> None:
    seed(world, 24, 256 * 1024)
    process = start(world, "--json", "--concurrency", "2", "--bandwidth", "1MiB/s")
    wait_for_copies(world, process)
    process.send_signal(sig)
    out, err = process.communicate(timeout=120)
    assert process.returncode == code, err
    line = [x for x in err.splitlines() if x.startswith("error: interrupted:")]
    assert len(line) == 1, err
    match = re.search(r"interrupted: (\d+) copied, 0 in flight abandoned, (\d+) pending", line[0])
    assert match, line
    assert "run again to continue" in line[0] and "Traceback" not in err
    events = [json.loads(x) for x in out.splitlines()]
    for event in events:
        jsonschema.validate(event, SCHEMA)
    (stopped,) = [e for e in events if e["event"] == "run.interrupted"]
    assert stopped["signal"] == sig and stopped["pending"] == int(match.group(2)) > 0
    reports = list((world.state / "reports").glob("run-*.json"))
    assert len(reports) == 1  # the partial run report
    partial = json.loads(reports[0].read_text())
    assert partial["totals"]["copied"] == int(match.group(1))
    mid = states(world)
    assert "copying" not in mid  # nothing left half-recorded
    resumed = world.cli("run", str(world.plan))
    assert resumed.returncode == 0, resumed.stderr
    assert states(world) == {"verified": 24}


def test_off_a_terminal_a_stats_line_comes_at_the_interval(world: Any) -> None:
    seed(world, 8, 512 * 1024)
    process = start(world, "--bandwidth", "1MiB/s", root=("--stats", "1s"))
    _out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    stats = [x for x in err.splitlines() if x.startswith("stats: elapsed ")]
    assert len(stats) >= 2, err  # ~4 s of work at 1 MiB/s
    assert re.search(r"copied \d+/8 objects, .* (B|KiB|MiB)/s, ETA ", stats[-1]), stats[-1]


def test_metrics_are_scraped_mid_run_and_the_textfile_matches_the_journal(
    world: Any, tmp_path: Path
) -> None:
    seed(world, 10, 300 * 1024)
    prom = tmp_path / "hdh.prom"
    root = ("--metrics-port", "0", "--metrics-file", str(prom), "--stats", "1s")
    process = start(world, "--bandwidth", "1MiB/s", root=root)
    assert process.stderr is not None
    url = None
    for _ in range(50):
        first = process.stderr.readline()
        found = re.search(r"metrics: (http://127\.0\.0\.1:\d+/metrics)", first)
        if found:
            url = found.group(1)
            break
    assert url, "the metrics address was not printed"
    scraped, copied = "", 'hdh_migrate_bytes_total{dataset="ds",outcome="ok",phase="copy"}'
    in_flight: list[float] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and copied not in scraped and process.poll() is None:
        scraped = urllib.request.urlopen(url, timeout=5).read().decode()
        in_flight.append(gauge(scraped, "hdh_migrate_in_flight_objects"))
        time.sleep(0.2)
    assert copied in scraped  # seen while the run was going
    assert max(in_flight) >= 1  # objects were in flight at some scrape
    assert gauge(scraped, "hdh_migrate_journal_commit_seconds_count") >= 1
    assert gauge(scraped, "hdh_migrate_peak_rss_bytes") > 10 * MIB
    process.communicate(timeout=120)
    assert process.returncode == 0
    text = prom.read_text()
    moved = float(
        re.search(
            r'hdh_migrate_bytes_total\{dataset="ds",outcome="ok",phase="copy"\} (\S+)', text
        ).group(1)  # type: ignore[union-attr]
    )
    with sqlite3.connect(world.state / "journal.sqlite") as db:
        journaled = db.execute("SELECT sum(size) FROM items WHERE state = 'verified'").fetchone()
    assert moved == journaled[0] == 10 * 300 * 1024


def gauge(text: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found, f"{name} missing"
    return float(found.group(1))


@pytest.mark.slow  # ~20 s: the SDK's and the tool's throttle back-offs
def test_retries_are_reported_by_cause_in_events_log_and_metrics(
    world: Any, stack: Any, tmp_path: Path
) -> None:
    """Through a proxy answering half the target's requests 503 SlowDown (the SDK's own
    second attempt absorbs three quarters; ~7 reach the tool's policy): object.retry
    events, log records and the metrics name the cause ``throttled`` — never the server's
    words."""
    from urllib.parse import urlparse

    from tests.support.faultproxy import FaultProxy, Faults

    seed(world, 6, 50_000)
    proxy = FaultProxy(urlparse(stack.s3_endpoint).port or 0, Faults(http_error_fraction=0.5))
    world.plan.write_text(world.plan.read_text().replace(stack.s3_endpoint, proxy.url))
    log, prom = tmp_path / "run.log", tmp_path / "hdh.prom"
    root = ("--log-file", str(log), "--metrics-file", str(prom))
    try:
        done = world.cli(*root, "run", str(world.plan), "--json")
    finally:
        proxy.close()
    assert done.returncode == 0, done.stderr
    assert proxy.counters.injected > 0
    events = [json.loads(x) for x in done.stdout.splitlines()]
    for event in events:
        jsonschema.validate(event, SCHEMA)
    retries = [e for e in events if e["event"] == "object.retry"]
    assert retries, "no retry reached the tool's policy"
    throttled = sum(e["causes"].get("throttled", 0) for e in retries)
    assert throttled > 0 and throttled == sum(e["throttled"] for e in retries)
    logged = [json.loads(x) for x in log.read_text().splitlines()]
    warned = [r for r in logged if r["event"] == "object.retry"]
    assert len(warned) == len(retries) and all(r["level"] == "warning" for r in warned)
    assert all(r["cause"] in r["causes"] for r in warned)
    for text in (log.read_text(), done.stdout):
        assert "SlowDown" not in text and "reduce your request rate" not in text
    metrics = prom.read_text()
    counted = sum(
        float(v)
        for v in re.findall(r'hdh_migrate_retries_total\{cause="throttled",[^}]*\} (\S+)', metrics)
    )
    assert counted == throttled
    assert gauge(metrics.replace('{dataset="ds"}', ""), "hdh_migrate_throttles_total") == throttled


def test_log_file_records_each_object_and_validates(world: Any, tmp_path: Path) -> None:
    seed(world, 5, 1000)
    log = tmp_path / "run.log"
    done = world.cli("--log-file", str(log), "--log-level", "debug", "run", str(world.plan))
    assert done.returncode == 0, done.stderr
    records = [json.loads(x) for x in log.read_text().splitlines()]
    for record in records:
        jsonschema.validate(record, SCHEMA)
    names = [r["event"] for r in records]
    assert names.count("object.copied") == 5 and names.count("object.verified") == 5
    assert names[0] == "run.started" and "run.finished" in names
    assert len({r["run_id"] for r in records}) == 1
    assert log.stat().st_mode & 0o777 == 0o600


def _sigint_ignored() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_a_sampled_dataset_is_reported_as_sampled_and_status_watch_refreshes(
    stack: Any, tmp_path: Path, unique_name: str
) -> None:
    from stack_world import make_world

    world = make_world(stack, tmp_path, unique_name, verify="sample:25%")
    watch = None
    try:
        seed(world, 20, 100)
        done = world.cli("run", str(world.plan))
        assert done.returncode == 0, done.stderr
        assert re.search(r"20 object\(s\) verified \(\d+ full read-back, \d+ sampled", done.stdout)
        data = json.loads(world.cli("status", str(world.plan), "--json").stdout)
        by = data["waves"]["w1"]["ds"]["verified_by"]
        assert by["full"] > 0 and by["sampled"] > 0 and sum(by.values()) == 20
        assert "sampled" in world.cli("status", str(world.plan)).stdout
        watch = subprocess.Popen(
            [sys.executable, "-m", "hdh_migrate", "status", str(world.plan), "--watch", "0.3"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_sigint_ignored,  # as in a CI job started in the background
        )
        assert watch.stderr is not None
        assert watch.stderr.readline().startswith("watching the journal every 0.3 s")
        time.sleep(1.5)  # a few refreshes
        watch.send_signal(signal.SIGINT)
        out, err = watch.communicate(timeout=30)
        assert watch.returncode == 0, err
        assert "sampled" in out and "Traceback" not in err
    finally:
        if watch is not None and watch.returncode is None:
            watch.kill()  # never left running (nor its pipes open) by a failure
            watch.communicate(timeout=30)
        world.source.delete_container()
        world.target.delete_bucket(force=True)


def test_in_a_terminal_the_bar_of_one_large_object_moves_every_second(world: Any) -> None:
    """One object in a pty: the copy bar's byte count (and the overall bar's) must change at
    least once per second while it is copied. 48 MiB at 6 MiB/s (~8 s) keeps the suite's
    time budget; the bars read a byte meter four times a second whatever the object's size,
    so the acceptance's 2 GiB object moves the same way: HDH_PTY_OBJECT_MIB=2048 (and
    HDH_PTY_RATE, default 6MiB/s) runs this very check on it."""
    import pty

    mib = int(os.environ.get("HDH_PTY_OBJECT_MIB", "48"))
    rate = os.environ.get("HDH_PTY_RATE", "6MiB/s")
    world.put("data/big.bin", os.urandom(mib * MIB))
    main, child = pty.openpty()
    env = {**os.environ, "COLUMNS": "160", "LINES": "40", "TERM": "xterm-256color"}
    command = [sys.executable, "-m", "hdh_migrate", "run", str(world.plan), "--bandwidth"]
    process = subprocess.Popen(
        [*command, rate], stdin=child, stdout=child, stderr=child, env=env, close_fds=True
    )
    os.close(child)
    seen: list[tuple[float, str]] = []  # (time, "12.3/48.0 MiB") of the copy bar
    overall: set[str] = set()
    buffer = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        buffer += chunk
        fresh = len(buffer) - len(chunk)  # matches ending before this are older frames
        for found in re.finditer(rb"copy\s+ds\S*\s.*?(" + DONE_OF_TOTAL + rb")", buffer):
            value = found.group(1).decode()
            if found.end() > fresh and (not seen or seen[-1][1] != value):
                seen.append((time.monotonic(), value))
        found_overall = re.findall(rb"overall\S*\s.*?(" + DONE_OF_TOTAL + rb")", buffer)
        overall |= {m.decode() for m in found_overall}
        buffer = buffer[-4096:]
    os.close(main)
    assert process.wait(timeout=120) == 0
    moving = [(t, v) for t, v in seen if in_between(v)]
    assert len(moving) >= 4, seen
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(moving)]
    worst = max(range(len(gaps)), key=gaps.__getitem__)
    assert gaps[worst] <= 1.5, (gaps[worst], moving[max(0, worst - 2) : worst + 3])
    assert len({v for v in overall if in_between(v)}) >= 4, overall  # the overall bar too
    print(f"pty: {len(moving)} distinct copy-bar values, largest gap {max(gaps):.2f} s")


DONE_OF_TOTAL = rb"[\d.]+/[\d.]+ (?:B|[KMGT]iB)"


def in_between(value: str) -> bool:
    """``12.3/48.0 MiB``: neither nothing nor everything done."""
    done, total = value.split(" ")[0].split("/")
    return 0 < float(done) < float(total)

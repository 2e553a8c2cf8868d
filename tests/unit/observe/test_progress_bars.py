"""The terminal bars (issue 15): inventory, per dataset and phase, per wave and overall, moved
by the byte meter between object events; retries, throttles and failures on screen."""

from __future__ import annotations

import io

from rich.console import Console

from hdh_migrate.cli.progress import RichReporter
from hdh_migrate.stages.meter import ByteMeter

MIB = 1 << 20


def bars(reporter: RichReporter) -> dict[str, tuple[float, float | None, str]]:
    reporter._refresh()
    return {
        t.description.strip(): (t.completed, t.total, t.fields["objects"])
        for t in reporter.progress.tasks
    }


def test_bars_for_inventory_waves_datasets_and_overall_move_with_the_meter() -> None:
    meter = ByteMeter()
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=160)
    with RichReporter(meter, console) as screen:
        screen.event("run.started", waves={"w1": ["a", "b"], "w2": ["c"]}, datasets=["a", "b"])
        screen.event("dataset.start", dataset="a", wave="w1")
        meter.add("a", "listed", 3)
        meter.add("a", "listed_bytes", 6 * MIB)
        seen = bars(screen)
        assert seen["list   a"] == (6 * MIB, None, "3 listed")  # listing, total unknown
        meter.add("a", "listed", 1)
        meter.add("a", "listed_bytes", 2 * MIB)
        screen.event("inventory.done", dataset="a", listed=4)
        screen.event("copy.start", dataset="a", objects=4, bytes=8 * MIB)
        meter.add("a", "copy", 3 * MIB)  # bytes read inside an object not finished yet
        seen = bars(screen)
        assert seen["list   a"] == (8 * MIB, 8 * MIB, "4 listed")
        assert seen["copy   a"] == (3 * MIB, 8 * MIB, "0/4")
        assert seen["wave   w1"] == (3 * MIB, 8 * MIB, "1/2 datasets")
        assert seen["wave   w2"] == (0, 0, "0/1 datasets")
        assert seen["overall"][:2] == (3 * MIB, 8 * MIB)
        screen.event("object.copied", dataset="a", key="k", bytes=2 * MIB)
        causes = {"throttled": 2, "timeout": 1}
        screen.event("object.retry", dataset="a", key="k", attempts=3, causes=causes, throttled=2)
        screen.event("object.failed", dataset="a", key="bad\x1b[2J", reason="gone")
        meter.add("a", "copy", 1 * MIB)
        seen = bars(screen)
        assert seen["copy   a"] == (4 * MIB, 8 * MIB, "1/4")
        assert seen["overall"][2] == "1 copied · 3 retries (2 throttled) · 1 failed"
        screen.event("dataset.start", dataset="c", wave="w2")
        screen.event("copy.start", dataset="c", objects=1, bytes=MIB)
        meter.add("c", "copy", 10 * MIB)  # retried reads count again: capped at the total
        seen = bars(screen)
        assert seen["wave   w2"] == (MIB, MIB, "1/1 datasets")
        assert seen["overall"][:2] == (5 * MIB, 9 * MIB)
    text = out.getvalue()
    assert "failed a: bad" in text and "\x1b[2J" not in text  # untrusted text escaped


def test_a_sampled_verify_bar_ends_full_though_it_read_little() -> None:
    meter = ByteMeter()
    screen = RichReporter(meter, Console(file=io.StringIO(), force_terminal=True))
    with screen:
        screen.event("verify.start", dataset="a", objects=2, bytes=100 * MIB)
        meter.add("a", "verify", 10)  # the HDH1 header and final segment only
        screen.event("object.verified", dataset="a", key="k1", mode="header", bytes=60 * MIB)
        screen.event("object.verified", dataset="a", key="k2", mode="header", bytes=40 * MIB)
        assert bars(screen)["verify a"] == (100 * MIB, 100 * MIB, "2/2")


def test_a_single_wave_run_has_no_wave_bar() -> None:
    screen = RichReporter(ByteMeter(), Console(file=io.StringIO(), force_terminal=True))
    with screen:
        screen.event("run.started", waves={"w1": ["a"]}, datasets=["a"])
        screen.event("copy.start", dataset="a", objects=1, bytes=10)
        assert set(bars(screen)) == {"overall", "copy   a"}


def test_the_byte_column_steps_by_at_most_a_mebibyte_whatever_the_size() -> None:
    from rich.progress import Progress

    from hdh_migrate.cli.progress import BinaryDownloadColumn

    progress = Progress()
    column = BinaryDownloadColumn()
    cases = [
        (0, 2 << 30, "0.000/2.000 GiB"),
        (1536 << 20, 2 << 30, "1.500/2.000 GiB"),
        ((1536 << 20) + MIB, 2 << 30, "1.501/2.000 GiB"),  # one MiB more: a new value
        (12 * MIB + MIB // 10, 48 * MIB, "12.1/48.0 MiB"),
        (512, 1000, "512/1000 B"),
        (3 << 40, 5 << 40, "3.000000/5.000000 TiB"),
    ]
    for done, total, text in cases:
        task_id = progress.add_task("x", total=total, completed=done)
        assert column.render(progress.tasks[task_id]).plain == text
    task_id = progress.add_task("list", total=None, completed=3 * MIB)
    assert column.render(progress.tasks[task_id]).plain == "3.0/? MiB"

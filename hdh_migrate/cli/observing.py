"""What watches a long command: the screen (bars or JSON lines), the stats line off a
terminal, progress heartbeats, the log file and the metrics — assembled from the root
options (``cli/state.py``) into one reporter for the engine."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hdh_migrate.cli.progress import JsonLinesReporter, RichReporter
from hdh_migrate.cli.render import stderr
from hdh_migrate.cli.state import STATE
from hdh_migrate.events import NullReporter, Reporter
from hdh_migrate.journal import Journal
from hdh_migrate.observe import Envelope, Fanout, RunStats
from hdh_migrate.observe.folding import Folding
from hdh_migrate.observe.logfile import LogFile
from hdh_migrate.observe.ticker import Ticker
from hdh_migrate.stages.meter import PROCESS_METER

if TYPE_CHECKING:
    from hdh_migrate.engine.run.runner import Migration
    from hdh_migrate.observe.metrics import Metrics


@dataclass
class Observed:
    """The engine's reporter, and what the command may read back."""

    reporter: Reporter
    envelope: Envelope
    stats: RunStats
    metrics: Metrics | None = None

    def bind(self, job: Migration) -> None:
        """Stamp every later event with the run's id; let the metrics read the job's
        objects in flight and time its journal's commits."""
        self.envelope.run_id = job.run_id
        if self.metrics is None:
            return
        self.metrics.watch(lambda: job.objects_in_flight)
        if isinstance(job.journal, Journal):
            job.journal.on_commit = self.metrics.commit


@contextmanager
def observed(as_json: bool) -> Iterator[Observed]:
    """Screen + stats + heartbeats + log file + metrics, started and stopped together."""
    envelope, stats = Envelope(), RunStats(read=lambda: PROCESS_METER.total("copy"))
    with ExitStack() as stack:
        sinks: list[Reporter] = [stats, _screen(as_json, envelope, stack)]
        if STATE.log_file is not None:
            log = LogFile(STATE.log_file, STATE.log_level, STATE.log_format, envelope)
            stack.callback(log.close)
            sinks.append(log)
        metrics = _metrics(stack)
        if metrics is not None:
            sinks.append(metrics)
        fanout = Fanout(sinks)
        reporter: Reporter = fanout if STATE.verbose else Folding(fanout)
        stack.enter_context(Ticker(STATE.stats_seconds, _tick(reporter, stats), final=False))
        yield Observed(reporter, envelope, stats, metrics)


def _screen(as_json: bool, envelope: Envelope, stack: ExitStack) -> Reporter:
    if as_json:
        return JsonLinesReporter(envelope)
    if stderr.is_terminal:
        return stack.enter_context(RichReporter())
    return NullReporter()


def _tick(reporter: Reporter, stats: RunStats) -> Any:
    """Every interval: a ``progress`` heartbeat event, and the stats line on stderr when
    stderr is not a terminal (nohup, systemd, CI: the bars are not drawn there)."""

    def tick() -> None:
        reporter.event("progress", **stats.snapshot().to_dict())
        if not stderr.is_terminal:
            sys.stderr.write(f"stats: {stats.line()}\n")
            sys.stderr.flush()

    return tick


def _metrics(stack: ExitStack) -> Metrics | None:
    if STATE.metrics_port is None and STATE.metrics_file is None:
        return None
    from hdh_migrate.observe.metrics import Metrics

    metrics = Metrics()
    if STATE.metrics_port is not None:
        port = metrics.serve(STATE.metrics_port)
        sys.stderr.write(f"metrics: http://127.0.0.1:{port}/metrics\n")
    if STATE.metrics_file is not None:
        path = STATE.metrics_file
        stack.enter_context(Ticker(max(STATE.stats_seconds, 1.0), lambda: metrics.write(path)))
    return metrics

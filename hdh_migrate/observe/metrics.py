"""Prometheus metrics of a run (``prometheus-client``, imported here only).

Served on a loopback port (``--metrics-port``) for a scraper, and/or written to a
textfile (``--metrics-file``) for node_exporter's textfile collector. Fed by events:

- ``hdh_migrate_bytes_total{dataset,phase,outcome}``, ``hdh_migrate_objects_total{…}``
- ``hdh_migrate_retries_total{dataset,phase,cause}`` (cause: ``stages.retry.CAUSES``),
  ``hdh_migrate_throttles_total{dataset}``
- ``hdh_migrate_planned_objects{dataset,phase}``, ``hdh_migrate_planned_bytes{…}``
- ``hdh_migrate_in_flight_objects`` and ``hdh_migrate_peak_rss_bytes`` (read at scrape
  time, through ``watch``), ``hdh_migrate_journal_commit_seconds`` (a histogram, fed by
  ``commit``)
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client import write_to_textfile as _write_textfile

LOOPBACK = "127.0.0.1"


def peak_rss_bytes() -> int:
    """This process's peak resident set size (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


class Metrics:
    """A ``Reporter`` that keeps Prometheus metrics in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ("dataset", "phase", "outcome")
        self.bytes = Counter(
            "hdh_migrate_bytes",
            "Bytes by dataset, phase and outcome.",
            labels,
            registry=self.registry,
        )
        self.objects = Counter(
            "hdh_migrate_objects",
            "Objects by dataset, phase and outcome.",
            labels,
            registry=self.registry,
        )
        self.retries = Counter(
            "hdh_migrate_retries",
            "Retries, by cause (throttled, connect_failed, connection_reset, timeout, "
            "server_error, mismatch, other).",
            ("dataset", "phase", "cause"),
            registry=self.registry,
        )
        self.throttles = Counter(
            "hdh_migrate_throttles",
            "Throttled attempts (503 SlowDown, 429).",
            ("dataset",),
            registry=self.registry,
        )
        self.planned_objects = Gauge(
            "hdh_migrate_planned_objects",
            "Objects a phase announced.",
            ("dataset", "phase"),
            registry=self.registry,
        )
        self.planned_bytes = Gauge(
            "hdh_migrate_planned_bytes",
            "Bytes a phase announced.",
            ("dataset", "phase"),
            registry=self.registry,
        )
        rss = Gauge("hdh_migrate_peak_rss_bytes", "Peak RSS.", registry=self.registry)
        rss.set_function(peak_rss_bytes)
        self.in_flight = Gauge(
            "hdh_migrate_in_flight_objects",
            "Objects handed to the executor whose result has not come back.",
            registry=self.registry,
        )
        self.commits = Histogram(
            "hdh_migrate_journal_commit_seconds",
            "Journal write transactions, BEGIN to COMMIT.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
            registry=self.registry,
        )

    def watch(self, in_flight: Callable[[], float]) -> None:
        """Read the in-flight gauge from ``in_flight`` at each scrape or write."""
        self.in_flight.set_function(in_flight)

    def commit(self, seconds: float) -> None:
        """One journal transaction took ``seconds``."""
        self.commits.observe(seconds)

    def serve(self, port: int) -> int:
        """Serve ``/metrics`` on 127.0.0.1:``port`` (0 picks a free port); return the port."""
        server, _ = start_http_server(port, addr=LOOPBACK, registry=self.registry)
        return int(server.server_address[1])

    def write(self, path: Path) -> None:
        """Write the textfile (atomically, as the collector expects)."""
        _write_textfile(str(path), self.registry)

    def event(self, name: str, /, **f: Any) -> None:
        dataset = str(f.get("dataset", ""))
        if name == "object.copied":
            self._count(dataset, "copy", "ok", int(f.get("bytes", 0)))
        elif name == "object.verified":
            self._count(dataset, "verify", str(f.get("how") or f.get("mode") or "ok"), 0)
        elif name == "object.failed":
            self._count(dataset, str(f.get("phase", "copy")), "failed", 0)
        elif name == "object.retry":
            phase = str(f.get("phase", "copy"))
            causes = f.get("causes") or {"other": int(f.get("attempts", 1))}
            for cause, count in causes.items():
                self.retries.labels(dataset, phase, str(cause)).inc(int(count))
            self.throttles.labels(dataset).inc(int(f.get("throttled", 0)))
        elif name in ("copy.start", "verify.start"):
            phase = name.split(".", 1)[0]
            self.planned_objects.labels(dataset, phase).set(int(f.get("objects", 0)))
            self.planned_bytes.labels(dataset, phase).set(int(f.get("bytes", 0)))

    def _count(self, dataset: str, phase: str, outcome: str, size: int) -> None:
        self.objects.labels(dataset, phase, outcome).inc()
        self.bytes.labels(dataset, phase, outcome).inc(size)

"""Prometheus metrics of a run (``prometheus-client``, imported here only).

Served on a loopback port (``--metrics-port``) for a scraper, and/or written to a
textfile (``--metrics-file``) for node_exporter's textfile collector. Fed by events:

- ``hdh_migrate_bytes_total{dataset,phase,outcome}``, ``hdh_migrate_objects_total{…}``
- ``hdh_migrate_retries_total{dataset}``, ``hdh_migrate_throttles_total{dataset}``
- ``hdh_migrate_planned_objects{dataset,phase}``, ``hdh_migrate_planned_bytes{…}``
- ``hdh_migrate_peak_rss_bytes`` (read at scrape time)
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
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
            "hdh_migrate_retries", "Retried attempts.", ("dataset",), registry=self.registry
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
            self.retries.labels(dataset).inc(int(f.get("attempts", 1)))
            self.throttles.labels(dataset).inc(int(f.get("throttled", 0)))
        elif name in ("copy.start", "verify.start"):
            phase = name.split(".", 1)[0]
            self.planned_objects.labels(dataset, phase).set(int(f.get("objects", 0)))
            self.planned_bytes.labels(dataset, phase).set(int(f.get("bytes", 0)))

    def _count(self, dataset: str, phase: str, outcome: str, size: int) -> None:
        self.objects.labels(dataset, phase, outcome).inc()
        self.bytes.labels(dataset, phase, outcome).inc(size)

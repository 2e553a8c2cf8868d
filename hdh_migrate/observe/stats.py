"""Running totals of a run, fed by its events: what the stats line, the heartbeat and the
metrics read. Thread-safe; counts are for this run (a resumed run starts from zero)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from hdh_migrate.units import human_size


@dataclass
class Totals:
    """One snapshot. ``*_total`` is what the run announced it would do."""

    elapsed: float = 0.0
    objects_total: int = 0
    bytes_total: int = 0
    objects_copied: int = 0
    bytes_copied: int = 0
    objects_verified: int = 0
    verify_total: int = 0
    retries: int = 0
    throttles: int = 0
    failed: int = 0
    listed: int = 0
    bytes_read: int = 0  # read by copies so far, objects in flight included (retries twice)

    @property
    def bytes_moved(self) -> int:
        """Copy progress by bytes: finished objects, or the bytes read when ahead (a large
        object in flight), never past what the run announced."""
        return min(max(self.bytes_copied, self.bytes_read), max(self.bytes_total, 0))

    @property
    def rate(self) -> float:
        """Bytes moved per second since the start."""
        return self.bytes_moved / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        left = self.bytes_total - self.bytes_moved
        if left <= 0:
            return 0.0
        return left / self.rate if self.rate > 0 else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["elapsed"] = round(self.elapsed, 3)
        data["bytes_moved"] = self.bytes_moved
        data["bytes_per_s"] = round(self.rate, 1)
        data["eta_s"] = None if self.eta is None else round(self.eta, 1)
        return data


class RunStats:
    """A ``Reporter`` that counts. ``snapshot()`` and ``line()`` may be called from any
    thread (the stats ticker, the metrics server)."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, read: Callable[[], int] | None = None
    ) -> None:
        """``read`` gives the bytes copies have read so far (the process byte meter, which
        Dask workers feed too): what moves the numbers inside a large object."""
        self._clock = clock
        self._start = clock()
        self._read = read
        self._read_base = read() if read is not None else 0
        self._t = Totals()
        self._lock = threading.Lock()

    def event(self, name: str, /, **fields: Any) -> None:
        handler = _HANDLERS.get(name)
        if handler is not None:
            with self._lock:
                handler(self._t, fields)

    def snapshot(self) -> Totals:
        with self._lock:
            copy = Totals(**asdict(self._t))
        copy.elapsed = self._clock() - self._start
        if self._read is not None:
            copy.bytes_read = self._read() - self._read_base
        return copy

    def line(self) -> str:
        """One line, like rclone's ``--stats``: elapsed, copy progress, rate, ETA, verify,
        retries, failures. Sizes and rates in binary units (MiB, MiB/s) everywhere."""
        t = self.snapshot()
        eta = "-" if t.eta is None else _duration(t.eta)
        return (
            f"elapsed {_duration(t.elapsed)} · copied {t.objects_copied}/{t.objects_total} "
            f"objects, {human_size(t.bytes_moved)}/{human_size(t.bytes_total)}, "
            f"{human_size(int(t.rate))}/s, ETA {eta} · verified {t.objects_verified}/"
            f"{t.verify_total} · retries {t.retries} · throttled {t.throttles} · "
            f"failed {t.failed}"
        )


def _duration(seconds: float) -> str:
    s = int(seconds)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def _copy_start(t: Totals, f: dict[str, Any]) -> None:
    t.objects_total += int(f.get("objects", 0))
    t.bytes_total += int(f.get("bytes", 0))


def _copied(t: Totals, f: dict[str, Any]) -> None:
    t.objects_copied += 1
    t.bytes_copied += int(f.get("bytes", 0))


def _verify_start(t: Totals, f: dict[str, Any]) -> None:
    t.verify_total += int(f.get("objects", 0))


def _verified(t: Totals, f: dict[str, Any]) -> None:
    t.objects_verified += 1


def _failed(t: Totals, f: dict[str, Any]) -> None:
    t.failed += 1


def _retry(t: Totals, f: dict[str, Any]) -> None:
    t.retries += int(f.get("attempts", 1))
    t.throttles += int(f.get("throttled", 0))


def _inventory(t: Totals, f: dict[str, Any]) -> None:
    t.listed += int(f.get("listed", 0))


_HANDLERS: dict[str, Callable[[Totals, dict[str, Any]], None]] = {
    "copy.start": _copy_start,
    "object.copied": _copied,
    "verify.start": _verify_start,
    "object.verified": _verified,
    "object.failed": _failed,
    "object.retry": _retry,
    "inventory.done": _inventory,
}

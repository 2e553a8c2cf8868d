"""The coordinator's side of the circuit breakers (``hdh_migrate.circuit``): take no new
work once an endpoint's circuit is open, feed the breakers from results computed in other
processes, and stop the run with ``CircuitOpenError`` (exit 8) after recording what was in
flight."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from hdh_migrate.circuit import CIRCUITS, CONNECTION_KINDS, Circuits
from hdh_migrate.stages.items import CopyResult

T = TypeVar("T")


def until_open(items: Iterable[T], circuits: Circuits = CIRCUITS) -> Iterator[T]:
    """``items`` until a circuit opens; the check comes before pulling the next item, so an
    item is never taken (nor marked ``copying``) after the circuit opened."""
    iterator = iter(items)
    while circuits.open_endpoint() is None:
        try:
            yield next(iterator)
        except StopIteration:
            return


def observe(result: CopyResult, circuits: Circuits = CIRCUITS) -> None:
    """Count a result's connection failure at its endpoint (results from other processes
    carry what their workers' breakers saw)."""
    if result.state != "copied" and result.error_kind in CONNECTION_KINDS and result.endpoint:
        circuits.failure(result.endpoint)


def stop_if_open(circuits: Circuits = CIRCUITS) -> None:
    """Raise ``CircuitOpenError`` naming the endpoint when a circuit is open."""
    circuits.check()

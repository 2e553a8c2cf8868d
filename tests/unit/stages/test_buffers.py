"""The process-wide buffer budget: bounded, first come first served, clamped."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from hdh_migrate.backends.base import Capabilities
from hdh_migrate.backends.memory import MemoryBackend
from hdh_migrate.stages.buffers import BufferBudget, parts_in_flight
from hdh_migrate.stages.copy import buffer_estimate

MIB = 1 << 20


def test_reservations_never_exceed_the_capacity():
    budget, peak, held, lock = BufferBudget(10), [0], [0], threading.Lock()

    def worker(n: int) -> None:
        with budget.reserve(n):
            with lock:
                held[0] += n
                peak[0] = max(peak[0], held[0])
            time.sleep(0.005)
            with lock:
                held[0] -= n

    threads = [threading.Thread(target=worker, args=(n,)) for n in [3, 4, 5, 6, 7, 2, 1] * 5]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 7 <= peak[0] <= 10
    assert budget.free == 10


def test_a_reservation_larger_than_the_budget_is_clamped_and_runs_alone():
    budget = BufferBudget(10)
    with budget.reserve(50) as held:
        assert held == 10
        assert budget.free == 0
    assert budget.free == 10


def test_a_large_waiter_is_not_overtaken_by_later_small_ones():
    budget, order = BufferBudget(10), list[str]()
    first = budget.reserve(6)
    first.__enter__()

    def take(name: str, n: int) -> None:
        with budget.reserve(n):
            order.append(name)

    big = threading.Thread(target=take, args=("big", 8))
    big.start()
    time.sleep(0.05)  # the big one is queued first
    small = threading.Thread(target=take, args=("small", 1))
    small.start()
    time.sleep(0.05)
    assert order == []  # 4 bytes are free, but the small one waits behind the big one
    first.__exit__(None, None, None)
    big.join(2)
    small.join(2)
    assert order == ["big", "small"]


@pytest.mark.parametrize(
    ("part", "threads"), [(5 * MIB, 2), (16 * MIB, 2), (64 * MIB, 1), (1 << 30, 1)]
)
def test_parts_in_flight_fit_the_budget(part: int, threads: int):
    assert parts_in_flight(part, capacity=160 * MIB) == threads


def test_buffer_estimate_counts_a_single_put_twice_and_multipart_by_parts():
    class Target(MemoryBackend):  # declares what an S3 target with these settings declares
        def capabilities(self) -> Capabilities:
            return replace(super().capabilities(), multipart_threshold=16 * MIB, parts_in_flight=4)

    class Source(MemoryBackend):  # an Azure-like source reading 3 chunks of 4 MiB ahead
        def capabilities(self) -> Capabilities:
            return replace(super().capabilities(), read_ahead=12 * MIB)

    source, target = MemoryBackend(), Target()
    assert buffer_estimate(source, target, 1000, 1100, 16 * MIB) == 1000 + 2 * 1100
    big = buffer_estimate(source, target, 1 << 32, (1 << 32) + 4096, 16 * MIB)
    assert big == 2 * MIB + 5 * 16 * MIB
    assert buffer_estimate(Source(), target, 1 << 32, 1 << 32, 16 * MIB) == 12 * MIB + 5 * 16 * MIB
    no_threshold = buffer_estimate(source, MemoryBackend(), 1 << 30, 1 << 30, 16 * MIB)
    assert no_threshold == 2 * MIB + 2 * (1 << 30)  # one PUT: the ciphertext twice


def test_etags_compare_without_quotes():
    from hdh_migrate.stages.copy import same_etag

    assert same_etag("0x8D1", '"0x8D1"')
    assert same_etag('"abc-2"', '"abc-2"')
    assert not same_etag("0x8D1", '"0x8D2"')
    assert not same_etag(None, "x")


def test_release_large_buffers_sets_glibc_threshold_or_does_nothing():
    import platform

    from hdh_migrate.stages.buffers import release_large_buffers

    done = release_large_buffers()
    assert done is (platform.libc_ver()[0] == "glibc")

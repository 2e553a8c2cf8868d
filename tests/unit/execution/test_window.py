import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from hdh_migrate.errors import UsageError
from hdh_migrate.execution import SerialExecutor, imap_unordered, make_executor


def test_window_bounds_in_flight_and_returns_every_item():
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def task(i: int) -> int:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.002)
        with lock:
            state["now"] -= 1
        return i * 2

    pulled = []

    def items():
        for i in range(200):
            pulled.append(i)
            yield i

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = {}
        for item, future in imap_unordered(pool, task, items(), window=5):
            # the source is read at most `window` items ahead of the result being handed out
            assert len(pulled) - len(results) <= 5 + 1
            results[item] = future.result()
    assert results == {i: i * 2 for i in range(200)}
    assert state["peak"] <= 5


def test_errors_travel_in_the_future():
    def task(i: int) -> int:
        if i == 3:
            raise ValueError("boom")
        return i

    outcomes = {}
    for item, future in imap_unordered(SerialExecutor(), task, range(6), window=2):
        outcomes[item] = future.exception() is not None
    assert outcomes == {0: False, 1: False, 2: False, 3: True, 4: False, 5: False}


def test_window_must_be_positive():
    with pytest.raises(ValueError):
        list(imap_unordered(SerialExecutor(), str, [1], window=0))


def test_unknown_executor_kind_is_a_usage_error():
    with pytest.raises(UsageError):
        make_executor("mpi")


def test_batched_window_packs_small_items_and_sends_large_ones_alone():
    from hdh_migrate.execution import imap_batched

    sent: list[list[int]] = []

    def batch(items: list[int]) -> list[int]:
        sent.append(items)
        if 13 in items:
            raise RuntimeError("task lost")
        return [i * 2 for i in items]

    sizes = {i: (10 if i != 5 else 1000) for i in range(20)}
    out = {}
    for item, future in imap_batched(
        SerialExecutor(), batch, range(20), 2, sizes.__getitem__, max_items=4, max_weight=100
    ):
        out[item] = future.exception() or future.result()
    assert [5] in sent and all(len(b) <= 4 for b in sent)
    assert sorted(i for b in sent for i in b) == list(range(20))
    failed = next(b for b in sent if 13 in b)
    assert all(isinstance(out[i], RuntimeError) for i in failed)  # every item of a lost task
    assert all(out[i] == i * 2 for i in range(20) if i not in failed)

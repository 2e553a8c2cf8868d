"""The meter and the bandwidth limit pass ``readinto`` through: the hashing and encrypting
readers above them fill their own buffers, with no bytes object allocated and copied per
read (docs/benchmarks.md, "one pass per byte")."""

from __future__ import annotations

import io
from typing import Any

from hdh_migrate.stages.meter import ByteMeter, MeteredReader
from hdh_migrate.stages.throttle import Bandwidth, LimitedReader


class OnlyReadinto(io.RawIOBase):
    """A source that fails the test if ``read`` is called: only ``readinto`` is allowed."""

    def __init__(self, data: bytes) -> None:
        self._src = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._src.readinto(buffer)

    def read(self, n: int = -1) -> bytes:
        raise AssertionError("read() called: readinto was not passed through")


def test_meter_counts_what_readinto_filled() -> None:
    meter = ByteMeter()
    reader = MeteredReader(OnlyReadinto(b"abcdefg"), meter, "ds", "copy")  # type: ignore[arg-type]
    buffer = bytearray(5)
    assert reader.readinto(buffer) == 5 and bytes(buffer) == b"abcde"
    assert reader.readinto(buffer) == 2 and bytes(buffer[:2]) == b"fg"
    assert meter.get("ds", "copy") == 7


def test_meter_readinto_over_a_source_without_one_copies_a_read() -> None:
    class ReadOnly:
        def __init__(self) -> None:
            self._src = io.BytesIO(b"xyz")

        def read(self, n: int = -1) -> bytes:
            return self._src.read(n)

    meter = ByteMeter()
    buffer = bytearray(8)
    assert MeteredReader(ReadOnly(), meter, "ds", "copy").readinto(buffer) == 3  # type: ignore[arg-type]
    assert bytes(buffer[:3]) == b"xyz" and meter.get("ds", "copy") == 3


def test_limited_reader_charges_what_readinto_filled() -> None:
    taken: list[int] = []

    class Counting(Bandwidth):
        def take(self, n: int) -> None:
            taken.append(n)

    reader = LimitedReader(OnlyReadinto(b"0123456789"), Counting(1 << 30))  # type: ignore[arg-type]
    buffer = bytearray(4)
    assert [reader.readinto(buffer) for _ in range(4)] == [4, 4, 2, 0]
    assert taken == [4, 4, 2, 0]

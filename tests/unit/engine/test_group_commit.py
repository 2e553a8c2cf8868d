"""Group commits: marks recorded by size or age, in order, nothing lost at the flush."""

from __future__ import annotations

from hdh_migrate.engine.run.group_commit import GroupCommit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_group_is_recorded_when_full() -> None:
    groups: list[list[int]] = []
    batch = GroupCommit(groups.append, size=3, seconds=60, clock=Clock())
    for n in range(7):
        batch.add(n)
    assert groups == [[0, 1, 2], [3, 4, 5]] and len(batch) == 1
    batch.flush()
    assert groups[-1] == [6] and len(batch) == 0
    batch.flush()
    assert len(groups) == 3  # an empty flush records nothing


def test_a_group_is_recorded_when_its_oldest_result_is_old_enough() -> None:
    groups: list[list[str]] = []
    clock = Clock()
    batch = GroupCommit(groups.append, size=100, seconds=0.2, clock=clock)
    batch.add("a")
    clock.now = 0.1
    batch.add("b")
    assert groups == []
    clock.now = 0.2
    batch.add("c")
    assert groups == [["a", "b", "c"]]
    clock.now = 5.0
    batch.add("d")  # the age counts from the oldest waiting result, not the last flush
    assert groups == [["a", "b", "c"]]

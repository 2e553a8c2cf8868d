"""Names the target cannot hold, and keys that would land on another key's target object
(issue 18 item 6), found before any copy."""

from __future__ import annotations

import unicodedata

import pytest

from hdh_migrate.engine.specs import name_rules
from hdh_migrate.providers import get_preset
from hdh_migrate.stages.names import NameChecker, NameRules

SEAWEED = name_rules(get_preset("seaweedfs"))


def problems(rules: NameRules, keys: list[str]) -> dict[str, str]:
    with NameChecker(rules) as checker:
        return {k: why for k in keys if (why := checker.problem(k)) is not None}


def test_the_seaweedfs_preset_refuses_long_segments_empty_segments_and_trailing_slashes():
    long_segment = "d/" + "s" * 300 + ".bin"
    found = problems(SEAWEED, ["ok/a.bin", long_segment, "a//b", "a/b", "x/", "x"])
    assert set(found) == {long_segment, "a//b", "x/"}
    assert "304 bytes" in found[long_segment] and "255" in found[long_segment]
    assert "empty path segment" in found["a//b"]
    assert "folder" in found["x/"]


def test_total_length_and_control_characters():
    found = problems(NameRules(max_key_bytes=20), ["é" * 11, "a\x01b", "fine"])
    assert set(found) == {"é" * 11, "a\x01b"}  # 22 bytes in UTF-8


def test_case_and_normalisation_twins_collide_only_where_the_target_folds_them():
    nfc = unicodedata.normalize("NFC", "café.txt")
    nfd = unicodedata.normalize("NFD", "café.txt")
    assert problems(SEAWEED, [nfc, nfd, "A.txt", "a.txt"]) == {}  # bytes differ: two objects
    folding = NameRules(case_insensitive=True, normalises="NFC")
    found = problems(folding, [nfc, nfd, "A.txt", "a.txt"])
    assert set(found) == {nfd, "a.txt"}  # the first listed keeps its name
    assert repr(nfc) in found[nfd] and "NFC" in found[nfd]
    assert "'A.txt'" in found["a.txt"] and "case" in found["a.txt"]


def test_a_target_keeping_keys_opaque_accepts_empty_segments_and_trailing_slashes():
    opaque = NameRules(folds_empty_segments=False, folds_trailing_slash=False)
    assert problems(opaque, ["a//b", "a/b", "x/", "x"]) == {}


@pytest.mark.parametrize("count", [20_000])
def test_collisions_are_found_in_bounded_memory_whatever_the_order(count):
    rules = NameRules(case_insensitive=True)
    keys = [f"k/{i:06}.BIN" for i in range(count)] + ["k/000123.bin"]
    found = problems(rules, keys)
    assert list(found) == ["k/000123.bin"]


def test_the_same_key_listed_twice_is_not_a_collision_and_segment_limits_hold_at_the_edge():
    """The INSERT OR IGNORE path: a key seen again (a re-listing) is itself, not a twin;
    a segment is measured only when the key could hold one over the limit."""
    at_limit = "s" * 255
    two_short = "a" * 200 + "/" + "b" * 200  # 401 bytes, no segment over 255
    over = "c" * 256
    found = problems(SEAWEED, ["k", "k", at_limit, two_short, over, "d\x7fe"])
    assert set(found) == {over, "d\x7fe"}
    assert "256 bytes" in found[over] and "control" in found["d\x7fe"]


def test_a_batch_answers_what_the_keys_asked_one_by_one_would() -> None:
    """``problems`` on batches = ``problem`` key by key: twins inside one batch, across
    batches, a key listed again, impossible names (never remembered) in between."""
    import random

    rng = random.Random(12)
    rules = NameRules(case_insensitive=True, normalises="NFC", max_key_bytes=12)
    pool = ["a", "A", "b/c", "B/C", "café", unicodedata.normalize("NFD", "café"), "x" * 13]
    keys = [rng.choice(pool) + rng.choice(["", "1", "2"]) for _ in range(400)]
    expected: list[str | None] = []
    first: dict[str, str] = {}  # the rule, in memory: a folded form keeps its first key
    for key in keys:
        why = rules.impossible(key)
        other = first.setdefault(rules.folded(key), key) if why is None else key
        collides = f"collides at the target with {other!r}" if other != key else None
        expected.append(why or collides)
    with NameChecker(rules) as batched:
        got: list[str | None] = []
        at = 0
        while at < len(keys):
            size = rng.randint(1, 60)
            got += batched.problems(keys[at : at + size])
            at += size
    assert [g is None for g in got] == [e is None for e in expected]
    assert all(e is None or e in g for g, e in zip(got, expected, strict=True) if g is not None)
    assert sum(e is not None for e in expected) > 100 and None in expected

"""Mutated plans never crash validation: every outcome is a result with located errors."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from hdh_migrate.plan import check_text

ROOT = Path(__file__).resolve().parents[3]
SOURCES = sorted([*ROOT.glob("examples/*.yaml"), *ROOT.glob("plans/*.yaml")])
JUNK = ["", "1", "[]", "{}", "null", "true", '"x"', "- a", "[1, 2]", "{a: 1}", "&x y", "*x",
        "~", "1e3", "2024-01-01", ": :", '"${env:X}"', "!!binary aGVsbG8=", "? a"]  # fmt: skip
PUNCTUATION = " \t:-[]{}#&*!|>'\""


def mutate(lines: list[str], rnd: random.Random) -> str:
    for _ in range(rnd.randint(1, 3)):
        j = rnd.randrange(len(lines))
        op = rnd.random()
        if op < 0.3:
            del lines[j]
        elif op < 0.6 and ":" in lines[j]:
            lines[j] = lines[j].split(":", 1)[0] + ": " + rnd.choice(JUNK)
        elif op < 0.8:
            lines.insert(j, lines[rnd.randrange(len(lines))])
        else:
            k = rnd.randrange(len(lines[j]) + 1)
            lines[j] = lines[j][:k] + rnd.choice(PUNCTUATION) + lines[j][k:]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(4))
def test_mutated_plans_give_located_one_line_errors(seed: int) -> None:
    rnd = random.Random(seed)
    texts = [p.read_text(encoding="utf-8").splitlines() for p in SOURCES]

    for _ in range(150):
        result = check_text(mutate(list(rnd.choice(texts)), rnd), "mutated.yaml")
        assert result.valid == (not result.errors)
        for error in result.errors:
            assert error.line >= 1 and error.column >= 1
            assert "\n" not in error.one_line()

"""Row 9: a deeply nested YAML plan is an invalid plan (exit 2, one line), not an
internal RecursionError."""

from __future__ import annotations

import pytest

from hdh_migrate.cli.main import run


@pytest.mark.parametrize(
    "body",
    [
        "x: " + "[" * 400 + "]" * 400,
        "x: " + "{a: " * 400 + "1" + "}" * 400,
        "".join(" " * i + "k:\n" for i in range(400)) + " " * 400 + "k: 1\n",
        "x:\n" + "".join(" " * (2 * i) + "- \n" for i in range(1, 400)),
    ],
)
def test_deep_nesting_is_an_invalid_plan(tmp_path, capsys, body):
    plan = tmp_path / "deep.yaml"
    plan.write_text("version: 1\n" + body)
    for command in (["validate", str(plan)], ["run", str(plan)], ["audit", str(plan)]):
        assert run(command) == 2
        err = capsys.readouterr().err
        assert "internal error" not in err and "Traceback" not in err
        assert "nests deeper" in err or "invalid YAML" in err

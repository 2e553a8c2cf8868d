"""Every file in malformed/ is an invalid plan whose second line states the expected error:

    # expect: LINE:COLUMN DOTTED.PATH | SUBSTRING

(``-`` for no path). ``empty_file.yaml`` is empty, so its expectation lives in EXPECT.
Each must exit 2 with exactly one line on stderr that carries file:line:column and the
path, without a traceback and without any secret value from the file.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hdh_migrate.cli.main import run

MALFORMED = Path(__file__).parent / "malformed"
FILES = sorted(MALFORMED.glob("*.yaml"))
EXPECT = {"empty_file": "1:1 - | empty"}
_EXPECT_LINE = re.compile(r"^# expect: (\d+):(\d+) (\S+) \| (.+)$", re.MULTILINE)

# Values pasted in the plans that must never come back in a message.
SECRETS = [
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "Tr0ub4dor-and-3",
    "Zm9vYmFyYmF6cXV4cXV1eA0K8u3Lw9v2Y1x5T6nQ==",
    "Qm9ndXNTaWduYXR1cmUx",
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
    "S3cr3t-Passw0rd",
]


def expectation(path: Path) -> tuple[int, int, str, str]:
    text = f"# expect: {EXPECT[path.stem]}" if path.stem in EXPECT else path.read_text()
    match = _EXPECT_LINE.search(text)
    assert match, f"{path.name} has no '# expect: L:C path | text' line"
    line, column, dotted, substring = match.groups()
    return int(line), int(column), ("" if dotted == "-" else dotted), substring


def test_there_are_at_least_25_malformed_plans() -> None:
    assert len(FILES) >= 25


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_malformed_plan_exits_2_with_one_located_line(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line, column, dotted, substring = expectation(path)

    code = run(["validate", str(path)])

    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1, err
    prefix = f"error: {path}:{line}:{column}: " + (f"{dotted}: " if dotted else "")
    assert err.startswith(prefix), err
    assert substring in err
    assert "Traceback" not in err
    for secret in SECRETS:
        assert secret not in err


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_malformed_plan_json_lists_errors_without_secrets(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line, column, dotted, _ = expectation(path)

    code = run(["validate", str(path), "--json"])

    out = capsys.readouterr().out
    report = json.loads(out)
    assert code == 2
    assert report["valid"] is False and report["summary"] is None
    first = report["errors"][0]
    assert (first["line"], first["column"], first["path"]) == (line, column, dotted)
    for secret in SECRETS:
        assert secret not in out


@pytest.mark.parametrize("name", ["literal_access_key", "misspelled_nested_key", "tab_indentation"])
def test_console_script_reports_one_line_and_exit_2(name: str) -> None:
    path = MALFORMED / f"{name}.yaml"
    line, column, dotted, substring = expectation(path)
    script = Path(sys.executable).parent / "hdh-migrate"

    done = subprocess.run(
        [str(script), "validate", str(path)], capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"{path}:{line}:{column}: {dotted}".rstrip() in done.stderr
    assert substring in done.stderr
    assert "Traceback" not in done.stderr
    assert "AKIAIOSFODNN7EXAMPLE" not in done.stderr + done.stdout

"""Every exit code the README documents is produced by the CLI in some test (issue 18).

The codes no other test drives through the CLI boundary are produced here (1 internal
error, 8 unreachable, 9 state damage, 130 interrupted, 143 SIGTERM, 5 refused names offline); then a
scan of the test suite checks each documented code appears in a CLI-level assertion:
``returncode == N`` (the console script), ``run([...]) == N`` or ``code == N``
(``hdh_migrate.cli.main.run``), ``result.exit_code == N`` (typer's CliRunner).
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from hdh_migrate.cli.main import run
from hdh_migrate.errors import RunInterrupted
from tests.offline_plan import new_store, offline_plan_text, one_dataset

ROOT = Path(__file__).resolve().parents[2]
CLI_ASSERTION = re.compile(
    r"(?:returncode|\brun\([^()]*(?:\([^()]*\)[^()]*)*\)|\bcode|result\.exit_code)\s*==\s*(\d+)"
)


def documented_codes() -> set[int]:
    text = (ROOT / "README.md").read_text("utf-8")
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    return {int(m) for m in re.findall(r"^\| (\d+) \|", section, flags=re.MULTILINE)}


@pytest.fixture
def plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "src" / "data").mkdir(parents=True)
    path = tmp_path / "plan.yaml"
    rest = one_dataset(tmp_path / "kek.key", tmp_path / "state")
    path.write_text(offline_plan_text("codes", tmp_path / "src", rest, store=new_store()))
    return path


def test_1_an_unexpected_exception_is_an_internal_error(plan, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("hdh_migrate.cli.commands.state.check", broken)
    assert run(["state", "check", str(plan)]) == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: a bug" in err and "Traceback" not in err


def test_5_a_name_the_target_cannot_hold_is_refused_by_run(plan, tmp_path, capsys):
    deep = tmp_path / "src" / "data"
    for _ in range(5):  # 5 segments of 220 bytes: a 1,100-byte key, over S3's 1,024
        deep = deep / ("d" * 220)
    deep.mkdir(parents=True)
    (deep / "f.bin").write_bytes(b"x")
    assert run(["run", str(plan)]) == 5
    assert "longer than 1024 bytes" in capsys.readouterr().err


DEAD_S3 = """\
  dead:
    kind: s3
    provider: seaweedfs
    region: local
    endpoint: http://127.0.0.1:9
    bucket: unit-bucket
    credentials: {access_key: "${env:NOPE_A}", secret_key: "${env:NOPE_S}"}
"""


def test_8_a_target_that_never_answers(plan, capsys, monkeypatch):
    monkeypatch.setenv("NOPE_A", "a")
    monkeypatch.setenv("NOPE_S", "s")
    text = plan.read_text().replace("\nkeys:", "\n" + DEAD_S3 + "keys:", 1)
    plan.write_text(text)
    assert run(["probe", str(plan), "--target", "dead"]) == 8
    assert "does not answer" in capsys.readouterr().err


def test_9_a_damaged_journal_names_the_file_and_the_recovery(plan, tmp_path, capsys):
    state = tmp_path / "state"
    state.mkdir()
    (state / "journal.sqlite").write_bytes(os.urandom(4096))
    assert run(["state", "check", str(plan)]) == 9
    err = capsys.readouterr().err
    assert str(state / "journal.sqlite") in err and "state repair" in err
    assert run(["run", str(plan)]) == 9  # the run refuses it too, before any work


def test_130_interrupted(plan, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("hdh_migrate.cli.commands.state.check", interrupted)
    assert run(["state", "check", str(plan)]) == 130
    assert "Traceback" not in capsys.readouterr().err


def test_143_stopped_by_sigterm_is_128_plus_the_signal(plan, monkeypatch):
    def stopped(*args, **kwargs):
        raise RunInterrupted("stopped by SIGTERM", signum=signal.SIGTERM)

    monkeypatch.setattr("hdh_migrate.cli.commands.state.check", stopped)
    assert run(["state", "check", str(plan)]) == 143  # the real signal: test_operability_on_stack


def test_each_documented_exit_code_is_produced_through_the_cli_by_some_test():
    documented = documented_codes()
    assert {0, 1, 2, 4, 5, 8, 9, 130} <= documented
    produced: dict[int, list[str]] = {}
    for path in (ROOT / "tests").rglob("test_*.py"):
        for match in CLI_ASSERTION.finditer(path.read_text("utf-8")):
            produced.setdefault(int(match.group(1)), []).append(path.name)
    missing = sorted(documented - set(produced))
    assert missing == [], f"no test drives the CLI to exit code(s) {missing}"
    undocumented = sorted(c for c in produced if c not in documented and c < 256)
    assert undocumented == [], f"tests expect exit code(s) {undocumented} the README omits"

"""The two README commands as CI runs them: `make rehearse` is `hdh-migrate rehearse` on the
rehearsal plan (no shell orchestration of examples); `.ci/run` runs `make test`, then
`make rehearse` on a second, purged devstack on other ports, and stops everything."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def recipe(target: str) -> str:
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", text, re.MULTILINE)
    assert match, target
    return match.group(1)


def test_make_rehearse_is_the_rehearse_command() -> None:
    body = recipe("rehearse")
    assert "hdh-migrate rehearse plans/rehearsal.yaml" in body
    assert "devstack env" in body and "--junit" in body and "--summary" in body
    assert "--signing softhsm" in body  # the devstack's HSM signs; a missing one fails loudly
    assert "examples/" not in body
    assert re.search(r"^rehearse: install services-up", (ROOT / "Makefile").read_text(), re.M)


def test_ci_runs_both_commands_on_separate_stacks_and_stops_them() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    subprocess.run(["bash", "-n", str(ROOT / ".ci" / "run")], check=True)
    lines = [line.strip() for line in script.splitlines() if not line.strip().startswith("#")]
    body = "\n".join(lines)
    assert body.index("make test") < body.index("down --purge") < body.index("make rehearse")
    assert "HDH_DEVSTACK_DIR=$SUITE_DIR make test" in body
    assert "export HDH_DEVSTACK_DIR=$REHEARSE_DIR HDH_DEVSTACK_PORT_OFFSET=$REHEARSE_OFFSET" in body
    assert "trap stop_all EXIT" in body and body.count("make services-down") == 2
    assert "make test || status=1" in body and "make rehearse || status=1" in body
    assert body.rstrip().endswith('exit "$status"')

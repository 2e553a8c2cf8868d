"""``hdh-migrate rehearse`` on the real stack (Azurite, SeaweedFS, sshd): the rehearsal plan
passes twice in a row; a target that loses an object fails the rehearsal at verify-full,
naming the step and the object. (The production example rehearsed against stand-ins, with
only the CI packs' variables: tests/integration/test_ci_packs_stack.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devstack.plans import one_dataset_wave, plan_head
from hdh_migrate.backends.registry import open_backend, open_spec
from hdh_migrate.cli.commands import rehearse as rehearse_command
from hdh_migrate.cli.main import run
from hdh_migrate.engine.rehearsal.lifecycle import Rehearsal
from hdh_migrate.engine.specs import target_spec
from tests.integration.junit_cases import cases, status, step_statuses

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[2]


def test_the_rehearsal_plan_passes_twice_in_a_row(
    stack: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "rehearse",
        str(ROOT / "plans" / "rehearsal.yaml"),
        "--work",
        str(tmp_path),
        "--objects",
        "2",
        "--junit",
        str(tmp_path / "junit.xml"),
    ]
    for _ in range(2):
        code = run(argv)
        out, err = capsys.readouterr()
        assert code == 0, out + err
        assert set(step_statuses(tmp_path / "junit.xml").values()) == {"passed"}
    assert f"endpoint target seaweedfs (s3/seaweedfs): {stack.s3_endpoint} hdh-rehearsal" in err
    port = stack.sftp_port
    assert f"endpoint hook wave-1-rehearsal (ssh): ssh://127.0.0.1:{port} switch[0]" in err


def losing_one_object(step: str, rehearsal: Rehearsal) -> None:
    """A target that loses an object after the run: delete one of the copied objects."""
    if step != "rerun":
        return
    plan = rehearsal.plan()
    _, dataset = next(iter(plan.iter_datasets()))
    victim = rehearsal.expected[dataset.name][0].key
    target = open_spec(target_spec(plan, dataset.target).backend_spec)
    target.delete(dataset.target_prefix + victim)
    rehearsal.victim = victim  # type: ignore[attr-defined]


def test_a_target_that_loses_an_object_fails_naming_step_and_object(
    stack: Any,
    tmp_path: Path,
    unique_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    plan = tmp_path / "plan.yaml"
    head = plan_head(
        name=unique_name,
        s3_endpoint="${env:HDH_S3_ENDPOINT}",
        key=tmp_path / "kek",
        state=tmp_path / "state",
    )
    plan.write_text(head + one_dataset_wave())
    made: list[Rehearsal] = []

    def injected(settings: Any, reporter: Any, **options: Any) -> Rehearsal:
        made.append(Rehearsal(settings, reporter, after_step=losing_one_object, **options))
        return made[0]

    monkeypatch.setattr(rehearse_command, "Rehearsal", injected)
    junit, summary = tmp_path / "junit.xml", tmp_path / "summary.md"
    argv = [
        "rehearse",
        str(plan),
        "--work",
        str(tmp_path / "work"),
        "--objects",
        "2",
        "--junit",
        str(junit),
        "--summary",
        str(summary),
    ]
    code = run(argv)
    err = capsys.readouterr().err
    victim = made[0].victim  # type: ignore[attr-defined]
    assert code == 4
    assert "rehearsal failed at step verify-full" in err and victim in err
    found = cases(junit)
    assert [n for n, c in found.items() if status(c) == "failed"] == ["verify-full"]
    failure = found["verify-full"].find("failure")
    assert failure is not None and victim in str(failure.get("message"))
    assert status(found["manifest-verify"]) == "skipped"
    assert "**FAILED** at step `verify-full`" in summary.read_text()
    source = open_backend(
        "azure_blob",
        {"container": unique_name, "connection_string": stack.azurite_connection_string},
    )
    source.delete_container()  # type: ignore[attr-defined]
    target = open_spec(target_spec(made[0].plan(), "seaweedfs").backend_spec)
    target.delete_bucket(force=True)  # type: ignore[attr-defined]

"""Every backend the audit opens is opened read-only; a failure to open is reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.engine.audit import AuditOptions, audit
from hdh_migrate.engine.audit import dataset as audit_dataset
from hdh_migrate.errors import UnreachableError

# plans/rehearsal.yaml is portable: its endpoints and ports come from the environment.
pytestmark = pytest.mark.usefixtures("devstack_env")

REHEARSAL = Path(__file__).resolve().parents[3] / "plans" / "rehearsal.yaml"


def test_backends_are_opened_read_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    opened: list[tuple[str, bool, Any]] = []

    def refuse(spec: Any, *, read_only: bool = False) -> Any:
        opened.append((spec.kind, read_only, spec))
        raise UnreachableError(f"{spec.kind} is down in this test")

    monkeypatch.setattr(audit_dataset, "open_spec", refuse)
    plan = tmp_path / "plan.yaml"
    plan.write_text(REHEARSAL.read_text("utf-8") + f"\nstate_dir: {tmp_path / 's'}\n", "utf-8")
    report = audit(str(plan), AuditOptions(environ={}))
    assert opened and all(read_only for _, read_only, _ in opened)
    assert [d.status for d in report.datasets] == ["unreachable", "unreachable"]
    assert "azure_blob is down" in report.datasets[0].note
    assert report.exit_code == 0 and report.total is not None and report.total.objects == 0
    assert not (tmp_path / "s").exists()


def test_a_local_source_directory_is_never_created(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    opened: list[tuple[str, bool, Any]] = []

    def refuse(spec: Any, *, read_only: bool = False) -> Any:
        opened.append((spec.kind, read_only, spec))
        raise UnreachableError("stop here")

    monkeypatch.setattr(audit_dataset, "open_spec", refuse)
    text = REHEARSAL.read_text("utf-8").replace(
        "    kind: azure_blob\n", f"    kind: local\n    path: {tmp_path / 'src'}\n"
    )
    text = text.replace("    connection_string: ${env:AZURE_STORAGE_CONNECTION_STRING}\n", "")
    text = text.replace(
        "    container: rehearsal        # default container of every dataset below\n", ""
    )
    plan = tmp_path / "plan.yaml"
    plan.write_text(text + f"\nstate_dir: {tmp_path / 's'}\n", "utf-8")
    audit(str(plan), AuditOptions(environ={}))
    (kind, read_only, config) = opened[0]
    assert kind == "local" and read_only and config.create is False

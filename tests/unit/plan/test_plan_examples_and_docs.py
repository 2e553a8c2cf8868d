"""Every committed plan validates; the committed schema and reference docs are up to date."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hdh_migrate.cli.main import run
from hdh_migrate.plan import load_plan
from hdh_migrate.plan.reference import SECTIONS, render
from hdh_migrate.plan.schema import plan_json_schema_text
from hdh_migrate.providers import get_preset

ROOT = Path(__file__).resolve().parents[3]
PLANS = sorted(
    [
        *ROOT.glob("examples/*.yaml"),
        *ROOT.glob("examples/policy/*.yaml"),
        *ROOT.glob("plans/*.yaml"),
    ]
)
FAMILIES = ["ovh-snc", "cloud-temple", "s3ns", "outscale"]


def test_there_is_a_plan_per_provider_family_and_a_rehearsal_plan() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in PLANS}

    assert {f"examples/{family}.yaml" for family in FAMILIES} <= names
    assert "plans/rehearsal.yaml" in names


@pytest.mark.parametrize("path", PLANS, ids=[p.relative_to(ROOT).as_posix() for p in PLANS])
def test_committed_plan_validates(
    path: Path, capsys: pytest.CaptureFixture[str], devstack_env: None
) -> None:
    assert run(["validate", str(path)]) == 0, capsys.readouterr().err
    assert "is valid" in capsys.readouterr().out
    assert run(["validate", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True and report["errors"] == []


@pytest.mark.parametrize("family", FAMILIES)
def test_family_examples_target_their_provider(family: str) -> None:
    plan = load_plan(ROOT / "examples" / f"{family}.yaml")

    assert {t.provider for t in plan.targets.values()} == {family}
    assert plan.policy.profile == "hdh" and not plan.policy.rehearsal
    assert all(plan.effective(d).key is not None for _, d in plan.iter_datasets())
    assert all(w.cutover is not None for w in plan.waves)


def test_rehearsal_plan_is_marked_and_local(devstack_env: None) -> None:
    plan = load_plan(ROOT / "plans" / "rehearsal.yaml")
    target = next(iter(plan.targets.values()))

    assert plan.policy.rehearsal and plan.policy.profile == "rehearsal"
    assert get_preset(target.provider).rehearsal_only
    assert (
        target.endpoint == "http://127.0.0.1:19"
    )  # ${env:HDH_S3_ENDPOINT}, the devstack_env fixture
    assert all(plan.effective(d).location == "rehearsal" for _, d in plan.iter_datasets())
    cutover = plan.waves[0].cutover
    assert cutover is not None and cutover.freeze.strategy == "leases"
    assert cutover.switch[0].ssh is not None and cutover.switch[0].ssh.port == 13


def test_policy_examples_carry_the_facts_audit_judges() -> None:
    gra = load_plan(ROOT / "examples/policy/ovh-public-cloud-gra.yaml")
    bhs = load_plan(ROOT / "examples/policy/ovh-public-cloud-bhs.yaml")
    plain = load_plan(ROOT / "examples/policy/no-client-side-encryption.yaml")
    insecure = load_plan(ROOT / "examples/policy/tls-verification-off.yaml")

    assert [(t.provider, t.region) for t in gra.targets.values()] == [("ovh", "gra")]
    assert not get_preset("ovh").region("bhs").eu
    assert [(t.provider, t.region) for t in bhs.targets.values()] == [("ovh", "bhs")]
    assert all(plain.effective(d).key is None for _, d in plain.iter_datasets())
    assert [t.verify_tls for t in insecure.targets.values()] == [False]


def test_committed_schema_is_up_to_date() -> None:
    committed = (ROOT / "plans" / "plan.schema.json").read_text(encoding="utf-8")

    assert committed == plan_json_schema_text(), "run: make schema"


def test_schema_command_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["schema"]) == 0

    assert capsys.readouterr().out == plan_json_schema_text()


def test_schema_command_writes_a_file(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"

    assert run(["schema", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["title"] == "hdh-migrate plan"


def test_schema_command_reports_unwritable_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["schema", "--out", str(tmp_path / "no" / "such" / "dir.json")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_committed_reference_docs_are_up_to_date() -> None:
    committed = (ROOT / "docs" / "plan-reference.md").read_text(encoding="utf-8")

    assert committed == render(), "run: make schema"


def test_reference_docs_cover_every_field() -> None:
    text = render()

    for _, model in SECTIONS:
        for name, field in model.model_fields.items():
            assert f"| `{name}` |" in text
            assert field.description, f"{model.__name__}.{name} has no description"

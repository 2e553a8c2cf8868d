"""The typed model: defaults, effective dataset settings, lookups, value types, secrets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hdh_migrate.plan import (
    AzureBlobSource,
    FileKey,
    InvalidPlan,
    Pkcs11Key,
    Plan,
    VerifyMode,
    check_text,
    load_plan,
)
from hdh_migrate.secrets import SecretRef

MIB = 1024**2


@pytest.fixture
def plan(minimal_text: str, write_plan: Callable[[str], Path]) -> Plan:
    return load_plan(write_plan(minimal_text))


def test_defaults_apply_when_a_dataset_sets_nothing(plan: Plan) -> None:
    effective = plan.effective("ir-referentiels")

    assert effective.key_name == "kek"
    assert isinstance(effective.key, FileKey)
    assert effective.verify == VerifyMode("sample", 5.0)
    assert effective.concurrency == 4
    assert effective.bandwidth == 100 * MIB
    assert effective.part_size == 64 * MIB
    assert effective.multipart_threshold == 64 * MIB
    assert effective.retries == 5
    assert effective.location == "snds"  # the source's default container


def test_dataset_settings_override_defaults(plan: Plan) -> None:
    effective = plan.effective(plan.dataset("dcir-2019"))

    assert effective.key_name == "hsm"
    assert isinstance(effective.key, Pkcs11Key)
    assert str(effective.verify) == "full"
    assert effective.concurrency == 12
    assert effective.location == "dcir"
    assert effective.target.bucket == "hdh-snds"
    assert isinstance(effective.source, AzureBlobSource)
    assert effective.wave.name == "wave-1"


def test_lookups_and_iteration(plan: Plan) -> None:
    assert [d.name for _, d in plan.iter_datasets()] == ["ir-referentiels", "dcir-2019"]
    assert plan.wave("wave-1").datasets[0].name == "ir-referentiels"
    assert plan.wave_of("dcir-2019").name == "wave-1"
    with pytest.raises(KeyError):
        plan.dataset("nope")
    with pytest.raises(KeyError):
        plan.wave("nope")


def test_state_path_defaults_next_to_the_plan_file(
    minimal_text: str, write_plan: Callable[[str], Path]
) -> None:
    path = write_plan(minimal_text)
    assert load_plan(path).state_path == path.absolute().parent / ".hdh-migrate" / "unit-plan"


def test_state_dir_when_given(minimal_text: str) -> None:
    result = check_text(minimal_text + "state_dir: /var/lib/hdh/unit\n")

    assert result.plan is not None
    assert result.plan.state_path == Path("/var/lib/hdh/unit")


def test_secrets_stay_references_and_never_show_values(
    plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVH_S3_ACCESS_KEY", "AKIAIOSFODNN7EXAMPLE")
    credentials = plan.targets["snc"].credentials

    assert credentials.access_key == SecretRef("env", "OVH_S3_ACCESS_KEY")
    assert credentials.access_key.reveal() == "AKIAIOSFODNN7EXAMPLE"
    assert "AKIAIOSFODNN7EXAMPLE" not in repr(plan)
    assert "AKIAIOSFODNN7EXAMPLE" not in plan.model_dump_json()
    assert plan.model_dump()["targets"]["snc"]["credentials"]["access_key"] == (
        "${env:OVH_S3_ACCESS_KEY}"
    )


def test_model_is_frozen(plan: Plan) -> None:
    with pytest.raises(Exception, match="frozen"):
        plan.name = "other"  # type: ignore[misc]


def test_round_trip_through_dump(plan: Plan) -> None:
    again = Plan.model_validate(plan.model_dump(mode="json"))

    assert again.model_dump() == plan.model_dump()  # (where the file was is not content)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("full", VerifyMode("full")),
        ("metadata", VerifyMode("metadata")),
        ("none", VerifyMode("none")),
        ("sample:5%", VerifyMode("sample", 5.0)),
        ("sample:0.5%", VerifyMode("sample", 0.5)),
        ("sample:100", VerifyMode("sample", 100.0)),
    ],
)
def test_verify_modes(text: str, expected: VerifyMode) -> None:
    assert VerifyMode.parse(text) == expected


@pytest.mark.parametrize("text", ["sample:150%", "sample:0%", "sample:", "sampled", "FULL"])
def test_bad_verify_modes(text: str) -> None:
    with pytest.raises(ValueError):
        VerifyMode.parse(text)


def test_verify_mode_prints_as_written() -> None:
    assert str(VerifyMode.parse("sample:5%")) == "sample:5%"


@pytest.mark.parametrize(
    ("line", "field", "value"),
    [
        ("  part_size: 16MiB\n", "part_size", 16 * MIB),
        ("  part_size: 8388608\n", "part_size", 8 * MIB),
        ("  multipart_threshold: 1GiB\n", "multipart_threshold", 1024 * MIB),
        ("  bandwidth: 1GB/s\n", "bandwidth", 10**9),
        ("  retries: 0\n", "retries", 0),
    ],
)
def test_sizes_and_rates_parse(minimal_text: str, line: str, field: str, value: int) -> None:
    text = minimal_text.replace("defaults:\n", "defaults:\n" + line)
    if field == "bandwidth":
        text = text.replace("  bandwidth: 100MiB/s\n", "")

    result = check_text(text)

    assert result.plan is not None, result.errors
    assert getattr(result.plan.defaults, field) == value


def test_small_part_size_is_an_error(minimal_text: str) -> None:
    result = check_text(minimal_text.replace("defaults:\n", "defaults:\n  part_size: 1MiB\n"))

    assert [e.path for e in result.errors] == ["defaults.part_size"]


def test_a_circuit_open_after_over_an_hour_is_an_error(minimal_text: str) -> None:
    """The size and duration types parse with their own validator: bounds are plan rules."""
    long = minimal_text.replace("defaults:\n", "defaults:\n  circuit_open_after: 2h\n")
    assert [e.path for e in check_text(long).errors] == ["defaults.circuit_open_after"]
    hour = minimal_text.replace("defaults:\n", "defaults:\n  circuit_open_after: 1h\n")
    assert check_text(hour).plan is not None


def test_a_buffer_memory_under_16mib_is_an_error(minimal_text: str) -> None:
    small = minimal_text.replace("defaults:\n", "defaults:\n  buffer_memory: 8MiB\n")
    assert [e.path for e in check_text(small).errors] == ["defaults.buffer_memory"]
    enough = minimal_text.replace("defaults:\n", "defaults:\n  buffer_memory: 16MiB\n")
    result = check_text(enough)
    assert result.plan is not None and result.plan.defaults.buffer_memory == 16 << 20


def test_load_plan_raises_invalid_plan_with_all_errors(
    minimal_text: str, write_plan: Callable[[str], Path]
) -> None:
    text = minimal_text.replace("target: snc\n", "target: snk\n").replace(
        "source: azure\n", "source: azur\n", 1
    )

    with pytest.raises(InvalidPlan) as caught:
        load_plan(write_plan(text))

    paths = [e.path for e in caught.value.errors]
    assert paths == [
        "waves[0].datasets[0].source",
        "waves[0].datasets[0].target",
        "waves[0].datasets[1].target",
    ]
    assert caught.value.exit_code == 2
    assert "[+2 more errors" in caught.value.one_line()


def test_every_shape_error_is_reported_in_file_order(minimal_text: str) -> None:
    text = minimal_text.replace("concurrency: 4", "concurrency: 0").replace(
        "verify: full", "verify: most"
    )

    result = check_text(text)

    assert [e.path for e in result.errors] == [
        "defaults.concurrency",
        "waves[0].datasets[1].verify",
    ]
    assert result.plan is None and not result.valid

"""A broken presets data file fails with one clear line naming the preset and the field."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from hdh_migrate.providers import (
    PresetDataError,
    default_path,
    load_registry,
    load_registry_file,
)

Data = dict[str, Any]


@pytest.fixture(scope="module")
def shipped() -> Data:
    data = yaml.safe_load(default_path().read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _broken(tmp_path: Path, shipped: Data, change: Callable[[Data], None]) -> str:
    data = copy.deepcopy(shipped)
    change(data)
    path = tmp_path / "presets.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(PresetDataError) as info:
        load_registry_file(path)
    assert info.value.exit_code == 2
    line = info.value.one_line()
    assert "\n" not in line and str(path) in line
    return line


def test_unmodified_copy_loads(tmp_path: Path, shipped: Data) -> None:
    path = tmp_path / "presets.yaml"
    path.write_text(yaml.safe_dump(shipped, sort_keys=False), encoding="utf-8")
    assert load_registry_file(path) == load_registry()


def _set(path: str, value: Any) -> Callable[[Data], None]:
    def change(data: Data) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = value

    return change


@pytest.mark.parametrize(
    ("dotted", "value"),
    [
        ("presets.ovh.regions.gra.eu", "perhaps"),
        ("presets.scaleway.limits.min_part_size", "5 lots"),
        ("presets.s3ns.offerings.0.qualification.status", "certified"),
        ("presets.s3ns.offerings.0.qualification.evidence_date", "last year"),
        ("presets.cloud-temple.addressing_style", "sideways"),
        ("presets.ovh.regions.de.country", "Germany"),
        ("presets.minio.family", "onprem"),
        ("updated", "soon"),
    ],
)
def test_wrong_value_names_preset_and_field(
    tmp_path: Path, shipped: Data, dotted: str, value: Any
) -> None:
    line = _broken(tmp_path, shipped, _set(dotted, value))
    assert f"invalid presets data: {dotted}: " in line
    assert repr(value) in line


def test_misspelled_key_is_rejected(tmp_path: Path, shipped: Data) -> None:
    line = _broken(tmp_path, shipped, _set("presets.s3ns.endpoint_templat", "https://x"))
    assert "presets.s3ns.endpoint_templat: Extra inputs are not permitted" in line


def test_missing_field_is_named(tmp_path: Path, shipped: Data) -> None:
    def change(data: Data) -> None:
        del data["presets"]["outscale"]["offerings"][1]["qualification"]["evidence"]

    line = _broken(tmp_path, shipped, change)
    assert "presets.outscale.offerings.1.qualification.evidence: Field required" in line


def test_region_naming_an_unknown_offering(tmp_path: Path, shipped: Data) -> None:
    line = _broken(tmp_path, shipped, _set("presets.ovh.regions.gra.offering", "ovh-snc-thing"))
    assert "presets.ovh.regions.gra.offering: no offering named 'ovh-snc-thing'" in line


def test_endpoint_outside_the_offering_hosts(tmp_path: Path, shipped: Data) -> None:
    change = _set("presets.s3ns.endpoint_template", "https://storage.googleapis.com")
    line = _broken(tmp_path, shipped, change)
    assert "presets.s3ns.regions.u-france-east1: endpoint host storage.googleapis.com" in line
    assert "host_pattern" in line


def test_rehearsal_preset_with_template_is_rejected(tmp_path: Path, shipped: Data) -> None:
    line = _broken(tmp_path, shipped, _set("presets.minio.endpoint_template", "https://x"))
    assert "presets.minio:" in line and "requires_endpoint" in line


def test_invalid_yaml_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "presets.yaml"
    path.write_text("updated: 2026-01-01\npresets:\n  ovh: {title: [\n", encoding="utf-8")
    with pytest.raises(PresetDataError) as info:
        load_registry_file(path)
    assert f"{path}:4:1" in info.value.one_line()


def test_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "presets.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(PresetDataError, match="must be a mapping"):
        load_registry_file(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PresetDataError, match="cannot read presets data file"):
        load_registry_file(tmp_path / "absent.yaml")

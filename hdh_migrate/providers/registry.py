"""Load the presets data file once, validate it, and look presets up by name."""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from hdh_migrate.providers.errors import PresetDataError, UnknownPresetError
from hdh_migrate.providers.models import Preset, Registry

DATA_FILE = "presets.yaml"


def default_path() -> Path:
    """Where the shipped data file lives (package data)."""
    return Path(str(resources.files("hdh_migrate.providers").joinpath(DATA_FILE)))


def load_registry_file(path: Path | str) -> Registry:
    """Parse and validate a presets file. Raises PresetDataError naming the file, the preset
    and the field at fault (e.g. ``presets.ovh.regions.gra.eu: Input should be …``)."""
    path = Path(path)
    raw = _read_yaml(path)
    try:
        return Registry.model_validate(raw)
    except ValidationError as exc:
        raise PresetDataError(
            f"{path}: invalid presets data: {_describe(exc)}",
            hint="fix the data file (see docs/providers.md)",
        ) from None


@functools.cache
def load_registry() -> Registry:
    """The shipped registry, parsed and validated once per process."""
    return load_registry_file(default_path())


def preset_names() -> list[str]:
    """Preset names in data-file order."""
    return list(load_registry().presets)


def get_preset(name: str) -> Preset:
    """The named preset; raises UnknownPresetError (did-you-mean + the list of names)."""
    presets = load_registry().presets
    if name in presets:
        return presets[name]
    raise UnknownPresetError(name, presets)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PresetDataError(f"cannot read presets data file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise PresetDataError(f"{where}: presets data is not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise PresetDataError(f"{path}: presets data must be a mapping with updated:, presets:")
    return data


def _describe(exc: ValidationError) -> str:
    """The first error (and how many more) as ``dotted.path: message (got value)``."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    inner = _INNER_PATH.match(message)
    if inner:  # a cross-field rule names the field inside the preset: join the paths
        where, message = f"{where}.{inner.group(1)}", inner.group(2)
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where or '<top>'}: {message}{_got(first)}{more}"


_INNER_PATH = re.compile(r"^([\w.-]+): (.*)$")


def _got(error: Any) -> str:
    value = error.get("input")
    if error["type"] in ("missing", "value_error") or isinstance(value, dict | list):
        return ""
    text = repr(value)
    return f" (got {text if len(text) <= 60 else text[:57] + '...'})"

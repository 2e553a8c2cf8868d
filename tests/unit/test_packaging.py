"""Installable like the tools it sits beside: ranges in pyproject.toml, exact pins in the
lock file, an SPDX license, a wheel built without warnings, ``python -m devstack``
from any directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def requirements(*extras: str) -> list[Requirement]:
    listed = list(PROJECT["dependencies"])
    for extra in extras:
        listed += PROJECT["optional-dependencies"][extra]
    found = [Requirement(text) for text in listed]
    return [r for r in found if canonicalize_name(r.name) != "hdh-migrate"]


def lock() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements-lock.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line!r}"
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_every_dependency_is_a_range_never_an_exact_pin() -> None:
    for requirement in requirements(*PROJECT["optional-dependencies"]):
        operators = {spec.operator for spec in requirement.specifier}
        assert not operators & {"==", "==="}, f"{requirement} is an exact pin"
        assert ">=" in operators, f"{requirement} has no lower bound"
    for requirement in requirements():
        assert "<" in {s.operator for s in requirement.specifier}, f"{requirement}: no cap"


def test_the_lock_pins_every_dependency_inside_its_range() -> None:
    pins = lock()
    for requirement in requirements(*PROJECT["optional-dependencies"]):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements-lock.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"lock {name}=={pins[name]} is outside {requirement.specifier}"
        )


def test_the_license_is_an_spdx_expression_with_its_file() -> None:
    assert PROJECT["license"] == "Apache-2.0"
    assert all((ROOT / name).is_file() for name in PROJECT["license-files"])


def test_python_m_devstack_works_from_any_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["HDH_DEVSTACK_DIR"] = str(tmp_path / "no-stack-here")
    helped = subprocess.run(
        [sys.executable, "-m", "devstack", "--help"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert helped.returncode == 0, helped.stderr
    assert "up" in helped.stdout and "env" in helped.stdout
    status = subprocess.run(
        [sys.executable, "-m", "devstack", "env"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert status.returncode == 1 and "no env.sh yet" in status.stderr


@pytest.mark.slow
def test_the_wheel_builds_without_a_warning(tmp_path: Path) -> None:
    """``python -m build`` on a copy of the sources (the same as `make wheel`, without
    network: --no-isolation uses the dev environment's setuptools and build)."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    for package in ("hdh_migrate", "devstack"):
        shutil.copytree(
            ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    # PYTHONDONTWRITEBYTECODE (set on some machines) makes setuptools warn that it skips
    # byte-compiling: a property of the machine, not of the project.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    built = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path / "dist"),
         str(source)],
        env=env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    output = built.stdout + built.stderr
    assert built.returncode == 0, output[-3000:]
    noisy = [
        line for line in output.splitlines() if "warn" in line.lower() or "deprecat" in line.lower()
    ]
    assert noisy == [], noisy
    wheel = next((tmp_path / "dist").glob("hdh_migrate-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(info).decode()
        entry_points = archive.read(info.replace("METADATA", "entry_points.txt")).decode()
    assert "License-Expression: Apache-2.0" in metadata
    requires = [
        Requirement(line.removeprefix("Requires-Dist:").strip())
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    ]
    assert requires and not [r for r in requires if {s.operator for s in r.specifier} & {"=="}]
    assert "hdh-migrate = hdh_migrate.cli.main:main" in entry_points
    assert {"devstack/__main__.py", "hdh_migrate/providers/presets.yaml"} <= names

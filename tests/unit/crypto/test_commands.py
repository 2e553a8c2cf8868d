"""``hdh-migrate encrypt|decrypt|keys`` through the CLI boundary (and one real subprocess)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hdh_migrate.cli.main import run

# plans/rehearsal.yaml is portable: its endpoints and ports come from the environment.
pytestmark = pytest.mark.usefixtures("devstack_env")


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "kek.key"
    assert run(["keys", "generate", str(path)]) == 0
    return path


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    path = tmp_path / "scan.dcm"
    path.write_bytes(os.urandom(300_000))
    return path


def _encrypt(plain: Path, key: Path, *extra: str) -> Path:
    out = plain.with_suffix(".hdh1")
    args = ["encrypt", str(plain), "-o", str(out), "--key-file", str(key)]
    assert run([*args, "--segment-size", "64KiB", *extra]) == 0
    return out


def test_round_trip(tmp_path: Path, key: Path, plain: Path) -> None:
    blob = _encrypt(plain, key, "--object-id", "ds/scan.dcm")
    assert blob.stat().st_size == 300_000 + 5 * 16 + int.from_bytes(blob.read_bytes()[8:12])
    out = tmp_path / "back.dcm"
    args = ["decrypt", str(blob), "-o", str(out), "--key-file", str(key)]
    assert run([*args, "--object-id", "ds/scan.dcm"]) == 0
    assert out.read_bytes() == plain.read_bytes()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_object_id_defaults_to_file_name(tmp_path: Path, key: Path, plain: Path) -> None:
    blob = _encrypt(plain, key)
    out = tmp_path / "x"
    args = ["decrypt", str(blob), "-o", str(out), "--key-file", str(key)]
    assert run([*args, "--object-id", "scan.dcm"]) == 0


@pytest.mark.parametrize("damage", ["flip", "truncate", "extend", "wrong-id", "wrong-key"])
def test_tampered_object_exits_7_and_writes_nothing(
    tmp_path: Path, key: Path, plain: Path, damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    blob = _encrypt(plain, key, "--object-id", "ds/a")
    data = bytearray(blob.read_bytes())
    use_key, oid = key, "ds/a"
    if damage == "flip":
        data[-100] ^= 1  # inside the last segment: earlier segments are fine
    elif damage == "truncate":
        data = data[: len(data) - 16]
    elif damage == "extend":
        data += b"\x00"
    elif damage == "wrong-id":
        oid = "ds/b"
    else:
        use_key = tmp_path / "other.key"
        assert run(["keys", "generate", str(use_key)]) == 0
    blob.write_bytes(bytes(data))
    out = tmp_path / "out.dcm"
    args = ["decrypt", str(blob), "-o", str(out), "--key-file", str(use_key)]
    capsys.readouterr()
    assert run([*args, "--object-id", oid]) == 7
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        {"kek.key", "scan.dcm", "scan.hdh1"} | ({"other.key"} if damage == "wrong-key" else set())
    )  # no temporary file left behind
    err = capsys.readouterr().err
    assert "error:" in err and len(err.strip().splitlines()) == 1


def test_out_must_not_exist_unless_force(tmp_path: Path, key: Path, plain: Path) -> None:
    blob = _encrypt(plain, key)
    out = tmp_path / "exists"
    out.write_bytes(b"keep me")
    args = ["decrypt", str(blob), "-o", str(out), "--key-file", str(key)]
    assert run(args) == 2
    assert out.read_bytes() == b"keep me"
    assert run([*args, "--force"]) == 0
    assert out.read_bytes() == plain.read_bytes()


def test_usage_errors(tmp_path: Path, key: Path, plain: Path) -> None:
    out = str(tmp_path / "o")
    assert run(["encrypt", str(plain), "-o", out]) == 2  # no key
    assert run(["encrypt", str(plain), "-o", out, "--key-file", str(key), "--key", "k"]) == 2
    assert run(["encrypt", str(tmp_path / "missing"), "-o", out, "--key-file", str(key)]) == 2
    bad = ["encrypt", str(plain), "-o", out, "--key-file", str(key), "--segment-size", "1000"]
    assert run(bad) == 2
    assert run(["keys", "generate", str(key)]) == 2  # refuses to overwrite
    assert run(["keys", "describe"]) == 2


def test_key_file_readable_by_others_exits_7(
    tmp_path: Path, key: Path, plain: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key.chmod(0o644)
    capsys.readouterr()
    assert run(["encrypt", str(plain), "-o", str(tmp_path / "o"), "--key-file", str(key)]) == 7
    assert f"chmod 600 {key}" in capsys.readouterr().err


def test_keys_describe_file(key: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(["keys", "describe", "--key-file", str(key), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["provider"] == "file" and info["reference"].startswith("file:kcv=")
    assert key.read_bytes().hex() not in json.dumps(info)


def test_plan_key(tmp_path: Path, plain: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--plan PLAN --key NAME uses the plan's key provider (the rehearsal plan's file key)."""
    plan = Path(__file__).parents[3] / "plans" / "rehearsal.yaml"
    if not plan.exists():
        pytest.skip("plans/rehearsal.yaml is not in this checkout")
    shutil.copy(plan, tmp_path / "plan.yaml")
    monkeypatch.chdir(tmp_path)
    from hdh_migrate.plan import load_plan

    name = next(iter(load_plan(tmp_path / "plan.yaml").keys))
    via = ["--plan", "plan.yaml", "--key", name]
    assert run(["encrypt", str(plain), "-o", "x.hdh1", *via]) == 0
    assert run(["decrypt", "x.hdh1", "-o", "x.out", *via, "--object-id", "scan.dcm"]) == 0
    assert Path("x.out").read_bytes() == plain.read_bytes()
    assert run(["encrypt", str(plain), "-o", "y", "--plan", "plan.yaml", "--key", "nope"]) == 2


def test_console_script_subprocess(tmp_path: Path, key: Path, plain: Path) -> None:
    exe = Path(sys.executable).with_name("hdh-migrate")
    blob = _encrypt(plain, key)
    out = tmp_path / "sub.out"
    cmd = [str(exe), "decrypt", str(blob), "-o", str(out), "--key-file", str(key)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == plain.read_bytes()
    blob.write_bytes(blob.read_bytes()[:-1])
    cmd[4] = str(tmp_path / "sub2.out")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 7 and "truncated" in done.stderr
    assert not (tmp_path / "sub2.out").exists()


def test_keys_describe_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = Path(__file__).parents[3] / "plans" / "rehearsal.yaml"
    if not plan.exists():
        pytest.skip("plans/rehearsal.yaml is not in this checkout")
    shutil.copy(plan, tmp_path / "plan.yaml")
    monkeypatch.chdir(tmp_path)
    from hdh_migrate.plan import load_plan

    name = next(iter(load_plan(tmp_path / "plan.yaml").keys))
    assert run(["keys", "describe", "plan.yaml", name]) == 7  # describe never creates the key
    assert not any(tmp_path.joinpath(".hdh-migrate").rglob("*.key"))
    assert (
        run(
            [
                "encrypt",
                str(tmp_path / "plan.yaml"),
                "-o",
                "p.hdh1",
                "--plan",
                "plan.yaml",
                "--key",
                name,
            ]
        )
        == 0
    )  # encrypt creates it (create: true)
    capsys.readouterr()
    assert run(["keys", "describe", "plan.yaml", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info[name]["provider"] == "file" and info[name]["reference"].startswith("file:kcv=")
    assert run(["keys", "describe", "plan.yaml", "nope"]) == 2

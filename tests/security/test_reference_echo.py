"""Row 4: a value resolved from ``${env:}``/``${file:}`` is secret by construction. A plan
in a merge request cannot make the tool print a file of the CI machine or a variable's
value through a non-secret field (key path, SFTP known_hosts), in errors or JSON."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.stack

SECRET = "TOPSECRET-line1"


def _plan_with_key(sec, key_section: str) -> None:
    text = sec.plan.read_text()
    start = text.index("keys:")
    end = text.index("defaults:")
    sec.plan.write_text(text[:start] + "keys:\n  kek: " + key_section + "\n" + text[end:])


def _outputs(*done) -> str:
    return "".join(d.stdout + d.stderr for d in done)


def test_a_file_reference_in_a_path_field_is_refused_without_its_content(sec, cli_run, tmp_path):
    leaked = tmp_path / "ci-file"
    leaked.write_text(SECRET + "\nline2\n")
    _plan_with_key(sec, f'{{kind: file, path: "${{file:{leaked}}}"}}')
    (sec.src / "a.txt").write_bytes(b"a")
    runs = [sec.cli(cmd, str(sec.plan)) for cmd in ("validate", "run")]
    runs.append(sec.cli("audit", str(sec.plan), "--format", "json"))
    assert [r.returncode for r in runs] == [2, 2, 2], _outputs(*runs)
    assert SECRET not in _outputs(*runs)
    assert "${file:" in runs[0].stdout + runs[0].stderr


def test_an_env_reference_in_a_path_field_is_never_echoed(sec, monkeypatch, tmp_path):
    monkeypatch.setenv("HDH_SEC_KEY_PATH", str(tmp_path / SECRET))
    _plan_with_key(sec, '{kind: file, path: "${env:HDH_SEC_KEY_PATH}"}')
    (sec.src / "a.txt").write_bytes(b"a")
    runs = [sec.cli("run", str(sec.plan)), sec.cli("run", str(sec.plan), "--json")]
    runs.append(sec.cli("audit", str(sec.plan), "--format", "json"))
    runs.append(sec.cli("validate", str(sec.plan), "--json"))
    assert runs[0].returncode == 7, runs[0].stderr
    assert SECRET not in _outputs(*runs)
    assert "${env:HDH_SEC_KEY_PATH}" in runs[0].stderr
    written = [p for p in sec.state.rglob("*") if p.is_file()] if sec.state.exists() else []
    assert all(SECRET.encode() not in p.read_bytes() for p in written)


def test_the_sftp_known_hosts_field_takes_no_file_reference(sec, tmp_path):
    leaked = tmp_path / "ci-file"
    leaked.write_text(SECRET)
    text = sec.plan.read_text().replace(
        "sources:\n",
        "sources:\n  sftp:\n    kind: sftp\n    host: 127.0.0.1\n    user: u\n"
        f'    known_hosts: "${{file:{leaked}}}"\n    password: ${{env:NOPE}}\n',
    )
    sec.plan.write_text(text)
    done = sec.cli("validate", str(sec.plan))
    assert done.returncode == 2 and SECRET not in done.stdout + done.stderr
    assert os.path.exists(leaked)

"""The secret-grep acceptance: every stream and file the tool writes during the security
suite is scanned for the secrets it used (S3 secret, Azure key, HSM PIN, KEK in hex and
base64, signing key) when the session ends (``ledger`` in conftest.py). This module makes
sure the scan is not vacuous and puts the HSM PIN and a plan-named signing key through a
run, a failing run and a restore."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.stack

HSM_KEY = """keys:
  kek:
    kind: pkcs11
    module: ${env:HDH_HSM_MODULE}
    token: ${env:HDH_HSM_TOKEN}
    label: ${env:HDH_HSM_KEK_LABEL}
    pin: ${env:HDH_SEC_PIN}
"""


def test_hsm_pin_and_signing_key_never_reach_an_output(sec, ledger, tmp_path):
    signing = tmp_path / "signing-ed25519.key"
    made = sec.cli("manifest", "keygen", str(signing))
    assert made.returncode == 0, made.stderr
    text = sec.plan.read_text()
    start, end = text.index("keys:"), text.index("defaults:")
    text = text[:start] + HSM_KEY + text[end:]
    text += f"signing: {{kind: file, private_key: '${{file:{signing}}}'}}\n"
    sec.plan.write_text(text)
    (sec.src / "a.txt").write_bytes(b"under the HSM")
    env = {**os.environ, "HDH_SEC_PIN": "000000-wrong-pin"}
    wrong = subprocess.run(
        [sys.executable, "-m", "hdh_migrate", "run", str(sec.plan)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    ledger.streams.append(wrong.stdout + wrong.stderr)
    assert wrong.returncode == 7, wrong.stderr
    assert "000000-wrong-pin" not in wrong.stdout + wrong.stderr
    os.environ["HDH_SEC_PIN"] = os.environ["HDH_HSM_PIN"]
    try:
        done = sec.cli("run", str(sec.plan), "--json")
        assert done.returncode == 0, done.stderr
        back = sec.cli("restore", str(sec.plan), "--dataset", "ds", "--to", str(tmp_path / "o"))
        assert back.returncode == 0, back.stderr
    finally:
        del os.environ["HDH_SEC_PIN"]
    ledger.key_files.append(signing)
    found = ledger.secrets()
    assert {"S3 secret", "Azure key", "HSM PIN"} <= set(found)
    assert any(name.startswith("signing key") for name in found)
    assert ledger.leaks() == []


def test_kek_bytes_are_among_the_secrets_searched(sec, ledger):
    (sec.src / "a.txt").write_bytes(b"a")
    assert sec.cli("run", str(sec.plan)).returncode == 0
    found = ledger.secrets()
    assert any(name.endswith(" hex") for name in found) and any(
        name.endswith(" b64") for name in found
    )
    assert ledger.leaks() == []

"""``hdh-migrate keys describe`` for a PKCS#11 KEK (throwaway SoftHSM2 token)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hdh_migrate.cli.main import run


def _args(token: Any) -> list[str]:
    return [
        "keys",
        "describe",
        "--pkcs11-module",
        token.module,
        "--token",
        token.label,
        "--label",
        token.kek_label,
        "--pin-env",
        "HDH_TEST_HSM_PIN",
    ]


def test_describe_pkcs11(
    hsm_token: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HDH_TEST_HSM_PIN", hsm_token.pin)
    capsys.readouterr()
    assert run([*_args(hsm_token), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["reference"] == "pkcs11:token=hdh-unit;label=kek"
    assert info["attributes"]["never_extractable"] is True
    assert hsm_token.pin not in json.dumps(info)
    assert run(_args(hsm_token)) == 0
    assert "attributes.always_sensitive: True" in capsys.readouterr().out


def test_describe_pkcs11_wrong_pin_exits_7(
    hsm_token: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HDH_TEST_HSM_PIN", "0000")
    assert run(_args(hsm_token)) == 7
    assert "refused the PIN" in capsys.readouterr().err


def test_describe_pkcs11_unset_pin_variable_exits_2(hsm_token: Any) -> None:
    assert run(_args(hsm_token)) == 2  # SecretError: the variable is not set

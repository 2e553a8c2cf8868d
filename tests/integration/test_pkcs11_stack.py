"""The devstack SoftHSM2 token: its KEK is non-extractable and opens HDH1 objects."""

from __future__ import annotations

import io
import os
from typing import Any

import pytest

from hdh_migrate.crypto import DecryptingReader, Encryptor
from hdh_migrate.errors import AuthError
from hdh_migrate.keys import open_key_provider

pytestmark = pytest.mark.stack


def _config(stack: Any, pin: str | None = None) -> dict[str, str]:
    return {
        "module": stack.hsm_module,
        "token": stack.hsm_token,
        "label": stack.hsm_kek_label,
        "pin": pin or "${env:HDH_HSM_PIN}",
    }


def test_stack_kek_custody_and_round_trip(stack: Any) -> None:
    from hdh_migrate.keys.pkcs11 import reload_library

    reload_library(stack.hsm_module)  # pick up the stack's SOFTHSM2_CONF
    provider = open_key_provider("pkcs11", _config(stack))
    try:
        attrs = provider.describe()["attributes"]
        assert attrs["never_extractable"] and attrs["always_sensitive"] and attrs["local"]
        assert not attrs["extractable"]
        data = os.urandom(3000)
        enc = Encryptor(provider, "ds/stack", len(data), 1024)
        blob = b"".join(enc.encrypt_stream(io.BytesIO(data)))
        assert DecryptingReader(io.BytesIO(blob), provider, "ds/stack").read() == data
    finally:
        provider.close()


def test_stack_wrong_pin(stack: Any) -> None:
    from hdh_migrate.keys.pkcs11 import reload_library

    reload_library(stack.hsm_module)
    with pytest.raises(AuthError):
        open_key_provider("pkcs11", _config(stack, pin="not-the-pin"))

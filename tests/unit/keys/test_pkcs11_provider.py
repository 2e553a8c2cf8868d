"""The ``pkcs11`` key provider against a throwaway SoftHSM2 token."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap

from hdh_migrate.crypto import DecryptingReader, Encryptor
from hdh_migrate.errors import AuthError, IntegrityAuthError, UsageError
from hdh_migrate.keys import open_key_provider
from hdh_migrate.keys.pkcs11 import Pkcs11KeyProvider
from hdh_migrate.secrets import SecretRef


@pytest.fixture
def provider(hsm_token: Any) -> Iterator[Pkcs11KeyProvider]:
    p = Pkcs11KeyProvider(hsm_token.module, hsm_token.label, hsm_token.kek_label, hsm_token.pin)
    yield p
    p.close()


def _open(token: Any, label: str, pin: object = None) -> Pkcs11KeyProvider:
    return Pkcs11KeyProvider(token.module, token.label, label, pin or token.pin)  # type: ignore[arg-type]


def test_wrap_unwrap_round_trip(provider: Pkcs11KeyProvider) -> None:
    dek = os.urandom(32)
    blob = provider.wrap(dek)
    assert len(blob) == 40 and blob != dek
    assert provider.unwrap(blob) == dek
    assert provider.ref == "pkcs11:token=hdh-unit;label=kek"


def test_interoperates_with_rfc3394_in_software(hsm_token: Any) -> None:
    """HSM wrap → cryptography unwrap and back, with a test-only extractable key."""
    p = _open(hsm_token, hsm_token.extractable_label)
    try:
        dek = os.urandom(32)
        assert aes_key_unwrap(hsm_token.extractable_value, p.wrap(dek)) == dek
        assert p.unwrap(aes_key_wrap(hsm_token.extractable_value, dek)) == dek
    finally:
        p.close()


def test_describe_reports_custody_without_secrets(provider: Pkcs11KeyProvider) -> None:
    info = provider.describe()
    assert info["provider"] == "pkcs11" and info["reference"] == provider.ref
    assert info["attributes"]["never_extractable"] is True
    assert info["attributes"]["always_sensitive"] is True
    assert info["attributes"]["local"] is True
    assert info["attributes"]["extractable"] is False
    assert info["token"]["label"] == "hdh-unit" and info["token"]["serial"]
    assert info["token"]["manufacturer"] and info["token"]["model"]
    assert "4711" not in repr(info) + repr(provider)


def test_extractable_key_is_reported_as_such(hsm_token: Any) -> None:
    p = _open(hsm_token, hsm_token.extractable_label)
    try:
        attrs = p.describe()["attributes"]
        assert attrs["extractable"] is True and attrs["never_extractable"] is False
    finally:
        p.close()


def test_no_data_key_stays_in_the_hsm(provider: Pkcs11KeyProvider, hsm_token: Any) -> None:
    import pkcs11

    from hdh_migrate.keys.pkcs11 import load_library

    provider.unwrap(provider.wrap(os.urandom(32)))
    token = load_library(hsm_token.module).get_token(token_label=hsm_token.label)
    with token.open() as session:  # login is shared with the provider's session
        keys = list(session.get_objects({pkcs11.Attribute.CLASS: pkcs11.ObjectClass.SECRET_KEY}))
        labels = sorted(k[pkcs11.Attribute.LABEL] for k in keys)
    assert labels == ["kek", "kek-extractable"]


def test_wrong_kek_blob_is_an_integrity_error(provider: Pkcs11KeyProvider) -> None:
    blob = aes_key_wrap(os.urandom(32), os.urandom(32))
    with pytest.raises(IntegrityAuthError, match="does not unwrap"):
        provider.unwrap(blob)


def test_hdh1_round_trip_under_the_hsm(provider: Pkcs11KeyProvider) -> None:
    data = os.urandom(5000)
    enc = Encryptor(provider, "ds/hsm", len(data), 1024)
    blob = b"".join(enc.encrypt_stream(io.BytesIO(data)))
    assert DecryptingReader(io.BytesIO(blob), provider, "ds/hsm").read() == data


def test_wrong_pin(hsm_token: Any) -> None:
    with pytest.raises(AuthError, match="refused the PIN") as info:
        _open(hsm_token, hsm_token.kek_label, pin="0000")
    assert info.value.exit_code == 7 and "0000" not in info.value.one_line()


def test_missing_token_and_label(hsm_token: Any) -> None:
    with pytest.raises(AuthError, match="not found") as info:
        Pkcs11KeyProvider(hsm_token.module, "no-such-token", "kek", hsm_token.pin)
    assert "softhsm2-util" in info.value.one_line()
    with pytest.raises(AuthError, match="no unique AES key labelled 'nope'"):
        _open(hsm_token, "nope")


def test_bad_module_path(hsm_token: Any) -> None:
    with pytest.raises(AuthError, match="cannot load"):
        Pkcs11KeyProvider("/nonexistent/libp11.so", hsm_token.label, "kek", hsm_token.pin)


def test_pin_from_secret_reference(hsm_token: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HDH_TEST_PIN", hsm_token.pin)
    for pin in ("${env:HDH_TEST_PIN}", SecretRef.parse("${env:HDH_TEST_PIN}")):
        p = open_key_provider(
            "pkcs11",
            {"module": hsm_token.module, "token": hsm_token.label, "label": "kek", "pin": pin},
        )
        assert p.unwrap(p.wrap(bytes(32))) == bytes(32)
        p.close()


def test_missing_python_pkcs11_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pkcs11", None)
    with pytest.raises(UsageError) as info:
        Pkcs11KeyProvider("/x.so", "t", "k", "1")
    assert "pip install" in info.value.one_line()


def test_wrong_pin_refused_while_another_provider_is_logged_in(
    provider: Pkcs11KeyProvider, hsm_token: Any
) -> None:
    with pytest.raises(AuthError, match="refused the PIN"):
        _open(hsm_token, hsm_token.kek_label, pin="0000")
    second = _open(hsm_token, hsm_token.kek_label)  # the right PIN shares the login
    assert second.unwrap(provider.wrap(bytes(32))) == bytes(32)
    second.close()


def test_slot_selection(hsm_token: Any) -> None:
    from hdh_migrate.keys.pkcs11 import load_library

    lib = load_library(hsm_token.module)
    slot = next(s for s in lib.get_slots(token_present=True) if s.get_token().label == "hdh-unit")
    config = {"module": hsm_token.module, "token": "hdh-unit", "label": "kek", "pin": "4711"}
    p = open_key_provider("pkcs11", {**config, "slot": slot.slot_id})
    assert p.unwrap(p.wrap(bytes(32))) == bytes(32)
    p.close()
    with pytest.raises(AuthError, match="not found"):
        open_key_provider("pkcs11", {**config, "slot": slot.slot_id + 12345})


def test_stale_session_is_reopened(provider: Pkcs11KeyProvider, hsm_token: Any) -> None:
    from hdh_migrate.keys.pkcs11 import reload_library

    blob = provider.wrap(bytes(32))
    reload_library(hsm_token.module)  # every session handle becomes invalid
    assert provider.unwrap(blob) == bytes(32)
    assert provider.describe()["attributes"]["never_extractable"] is True


def test_closed_provider_refuses(hsm_token: Any) -> None:
    p = _open(hsm_token, hsm_token.kek_label)
    p.close()
    p.close()  # idempotent
    with pytest.raises(AuthError, match="closed"):
        p.wrap(bytes(32))

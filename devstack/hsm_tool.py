"""PKCS#11 work for the SoftHSM2 token, run in a child process (``python -m devstack.hsm_tool``).

A child process keeps the caller free of a PKCS#11 library initialised against the wrong
SOFTHSM2_CONF. Arguments come from the environment: SOFTHSM2_CONF, HDH_HSM_MODULE,
HDH_HSM_TOKEN, HDH_HSM_PIN, HDH_HSM_KEK_LABEL, HDH_HSM_SIGNING_LABEL. Commands (run in
order): ``kek`` (create the KEK if absent), ``signing`` (create the Ed25519 manifest signing
key if absent), ``check`` (wrap/unwrap round trip).
"""

from __future__ import annotations

import os
import secrets
import sys
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass


def _session() -> pkcs11.Session:
    lib = pkcs11.lib(os.environ["HDH_HSM_MODULE"])
    token = lib.get_token(token_label=os.environ["HDH_HSM_TOKEN"])
    return token.open(user_pin=os.environ["HDH_HSM_PIN"], rw=True)


def _find_kek(session: pkcs11.Session) -> Any:
    """The KEK object (a pkcs11 SecretKey with wrap/unwrap), or None."""
    label = os.environ["HDH_HSM_KEK_LABEL"]
    found = list(
        session.get_objects({Attribute.LABEL: label, Attribute.CLASS: ObjectClass.SECRET_KEY})
    )
    return found[0] if found else None


def ensure_kek() -> None:
    """Create the AES-256 KEK: token object, sensitive, non-extractable, wrap/unwrap only."""
    with _session() as session:
        if _find_kek(session) is not None:
            return
        session.generate_key(
            KeyType.AES,
            256,
            label=os.environ["HDH_HSM_KEK_LABEL"],
            store=True,
            capabilities=MechanismFlag.WRAP | MechanismFlag.UNWRAP,
            template={
                Attribute.TOKEN: True,
                Attribute.EXTRACTABLE: False,
                Attribute.SENSITIVE: True,
                Attribute.WRAP: True,
                Attribute.UNWRAP: True,
            },
        )


def ensure_signing_key() -> None:
    """Create the Ed25519 manifest signing key pair (token objects, sensitive,
    non-extractable) if absent: what a rehearsal signs its manifest with."""
    from pkcs11.util.ec import encode_named_curve_parameters

    label = os.environ.get("HDH_HSM_SIGNING_LABEL", "manifest-test")
    with _session() as session:
        if list(
            session.get_objects({Attribute.LABEL: label, Attribute.KEY_TYPE: KeyType.EC_EDWARDS})
        ):
            return
        session.generate_keypair(
            KeyType.EC_EDWARDS,
            mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
            public_template={
                Attribute.EC_PARAMS: encode_named_curve_parameters("1.3.101.112"),
                Attribute.TOKEN: True,
                Attribute.VERIFY: True,
                Attribute.LABEL: label,
            },
            private_template={
                Attribute.TOKEN: True,
                Attribute.SIGN: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.PRIVATE: True,
                Attribute.LABEL: label,
            },
        )


def check() -> None:
    """Wrap a random 32-byte session key with the KEK, unwrap it, compare the bytes."""
    plain = secrets.token_bytes(32)
    with _session() as session:
        kek = _find_kek(session)
        if kek is None:
            raise SystemExit("KEK not found")
        if kek[Attribute.EXTRACTABLE] or not kek[Attribute.SENSITIVE]:
            raise SystemExit("KEK is extractable or not sensitive")
        dek = session.create_object(
            {
                Attribute.CLASS: ObjectClass.SECRET_KEY,
                Attribute.KEY_TYPE: KeyType.AES,
                Attribute.VALUE: plain,
                Attribute.TOKEN: False,
                Attribute.EXTRACTABLE: True,
                Attribute.SENSITIVE: False,
            }
        )
        wrapped = kek.wrap_key(dek, mechanism=Mechanism.AES_KEY_WRAP)
        back = kek.unwrap_key(
            ObjectClass.SECRET_KEY,
            KeyType.AES,
            wrapped,
            mechanism=Mechanism.AES_KEY_WRAP,
            template={Attribute.EXTRACTABLE: True, Attribute.SENSITIVE: False},
        )
        if back[Attribute.VALUE] != plain or wrapped == plain:
            raise SystemExit("wrap/unwrap round trip returned different bytes")


if __name__ == "__main__":
    for command in sys.argv[1:]:
        {"kek": ensure_kek, "signing": ensure_signing_key, "check": check}[command]()

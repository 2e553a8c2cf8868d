"""A throwaway SoftHSM2 token per test module: no server, ~0.1 s.

SoftHSM reads SOFTHSM2_CONF at C_Initialize, and python-pkcs11 loads the library once per
process, so the fixture re-initializes the library on entry and exit (any other session on
it becomes invalid: do not interleave with tests holding HSM sessions).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
SOFTHSM_UTIL = shutil.which("softhsm2-util") or "/usr/bin/softhsm2-util"


@dataclass(frozen=True)
class Token:
    module: str
    label: str
    pin: str
    kek_label: str  # SENSITIVE, non-extractable, WRAP/UNWRAP (like production)
    extractable_label: str  # test-only key whose value the test can read
    extractable_value: bytes


def _init_token(directory: Path, label: str, pin: str) -> Path:
    (directory / "tokens").mkdir(parents=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\n"
        "log.level = ERROR\n"
    )
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    args = ["--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", "so-" + pin]
    subprocess.run([SOFTHSM_UTIL, *args], env=env, check=True, capture_output=True)
    return conf


def _create_keys(token: str, pin: str) -> bytes:
    import pkcs11
    from pkcs11 import Attribute as A

    from hdh_migrate.keys.pkcs11 import load_library

    value = os.urandom(32)
    with load_library(MODULE).get_token(token_label=token).open(rw=True, user_pin=pin) as s:
        s.generate_key(
            pkcs11.KeyType.AES,
            256,
            label="kek",
            store=True,
            template={A.SENSITIVE: True, A.EXTRACTABLE: False, A.WRAP: True, A.UNWRAP: True},
        )
        s.create_object(
            {
                A.CLASS: pkcs11.ObjectClass.SECRET_KEY,
                A.KEY_TYPE: pkcs11.KeyType.AES,
                A.VALUE: value,
                A.TOKEN: True,
                A.LABEL: "kek-extractable",
                A.WRAP: True,
                A.UNWRAP: True,
                A.SENSITIVE: False,
                A.EXTRACTABLE: True,
            }
        )
    return value


@pytest.fixture(scope="module")
def hsm_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Token]:
    if not Path(MODULE).exists() or not Path(SOFTHSM_UTIL).exists():
        pytest.skip("SoftHSM2 is not installed (apt-get install softhsm2)")
    from hdh_migrate.keys.pkcs11 import reload_library

    label, pin = "hdh-unit", "4711"
    conf = _init_token(tmp_path_factory.mktemp("softhsm"), label, pin)
    saved = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    reload_library(MODULE)
    try:
        value = _create_keys(label, pin)
        yield Token(MODULE, label, pin, "kek", "kek-extractable", value)
    finally:
        if saved is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = saved
        reload_library(MODULE)

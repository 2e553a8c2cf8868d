"""``hdh-migrate decrypt s3://BUCKET/KEY --plan PLAN --key hsm-kek``: an object in SeaweedFS
(the devstack target) encrypted under the devstack HSM's non-extractable KEK."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.backends.registry import open_spec
from hdh_migrate.cli.main import run
from hdh_migrate.crypto import Encryptor
from hdh_migrate.engine.specs import target_spec
from hdh_migrate.keys import open_key_provider
from hdh_migrate.plan import load_plan

pytestmark = pytest.mark.stack
PLAN = Path(__file__).parents[2] / "plans" / "rehearsal.yaml"
HSM_KEY = """keys:
  hsm-kek:
    kind: pkcs11
    module: ${env:HDH_HSM_MODULE}
    token: ${env:HDH_HSM_TOKEN}
    label: ${env:HDH_HSM_KEK_LABEL}
    pin: ${env:HDH_HSM_PIN}
"""


def _plan(tmp_path: Path, bucket: str) -> Path:
    text = PLAN.read_text().replace("bucket: hdh-rehearsal", f"bucket: {bucket}")
    path = tmp_path / "plan.yaml"
    path.write_text(text.replace("keys:\n", HSM_KEY, 1))
    return path


def test_decrypt_target_object_under_the_hsm_kek(
    stack: Any, unique_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not PLAN.exists():
        pytest.skip("plans/rehearsal.yaml is not in this checkout")
    monkeypatch.chdir(tmp_path)
    plan = load_plan(_plan(tmp_path, unique_name))
    spec = target_spec(plan, next(iter(plan.targets)))
    backend = open_spec(spec.backend_spec)
    backend.ensure_bucket()  # type: ignore[attr-defined]
    kek = open_key_provider("pkcs11", plan.keys["hsm-kek"].model_dump())
    data = os.urandom(200_000)
    enc = Encryptor(kek, "ds/obj.bin", len(data), 1 << 16)
    sealed = b"".join(enc.encrypt_stream(data))
    kek.close()
    backend.write("snds/obj.bin", io.BytesIO(sealed), len(sealed))
    tampered = bytearray(sealed)
    tampered[-5] ^= 1
    backend.write("snds/bad.bin", io.BytesIO(bytes(tampered)), len(tampered))
    backend.close()

    via = ["--plan", "plan.yaml", "--key", "hsm-kek"]
    url = f"s3://{unique_name}/snds/obj.bin"
    assert run(["decrypt", url, "-o", "out.bin", *via, "--object-id", "ds/obj.bin"]) == 0
    assert (tmp_path / "out.bin").read_bytes() == data
    assert run(["decrypt", url, "-o", "out2.bin", *via, "--object-id", "ds/other"]) == 7
    bad = f"s3://{unique_name}/snds/bad.bin"
    # (without --object-id a key outside the plan's datasets is refused: exit 2, issue 11)
    assert run(["decrypt", bad, "-o", "out3.bin", *via, "--object-id", "ds/obj.bin"]) == 7
    assert not (tmp_path / "out2.bin").exists() and not (tmp_path / "out3.bin").exists()
    assert run(["decrypt", f"s3://nope-{unique_name}/x", "-o", "o", *via]) == 2
    assert run(["keys", "generate", "k.key"]) == 0
    assert run(["decrypt", url, "-o", "o", "--key-file", "k.key"]) == 2  # s3:// needs --plan

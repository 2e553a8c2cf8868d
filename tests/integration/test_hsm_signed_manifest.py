"""A run on the stack (Azurite → SeaweedFS) whose manifest is signed inside the devstack's
SoftHSM2 token: an Ed25519 key created by ``manifest hsm-keygen``, never extractable, its
custody attributes in the signed run record, checked by ``manifest verify --plan``."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devstack.plans import one_dataset_wave, plan_head
from hdh_migrate.backends.registry import open_backend

pytestmark = pytest.mark.stack


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "hdh_migrate", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def test_run_signed_by_hsm_key_verifies_with_the_pinned_fingerprint(
    stack: Any, tmp_path: Path, unique_name: str
) -> None:
    pub = tmp_path / "manifest-hsm.pub"
    made = _cli(
        "manifest", "hsm-keygen", "--module", stack.hsm_module, "--token", stack.hsm_token,
        "--label", unique_name, "--pin", "${env:HDH_HSM_PIN}", "--out", str(pub),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    pinned = made.stdout.split()[-1]
    assert pinned.startswith("sha256:") and stack.hsm_pin not in made.stdout + made.stderr

    state = tmp_path / "state"
    signing = (
        f"signing:\n  kind: pkcs11\n  module: ${{env:HDH_HSM_MODULE}}\n  token: {stack.hsm_token}\n"
        f"  label: {unique_name}\n  pin: ${{env:HDH_HSM_PIN}}\n  fingerprint: {pinned}\n"
    )
    head = plan_head(
        name=unique_name, s3_endpoint=stack.s3_endpoint, key=tmp_path / "k", state=state
    )
    plan = tmp_path / "plan.yaml"
    plan.write_text(head + signing + one_dataset_wave())
    source = open_backend(
        "azure_blob",
        {"container": unique_name, "connection_string": stack.azurite_connection_string},
    )
    source.ensure_container()  # type: ignore[attr-defined]
    target = open_backend(
        "s3",
        {
            "endpoint_url": stack.s3_endpoint, "region": "us-east-1", "bucket": unique_name,
            "access_key": stack.s3_access_key, "secret_key": stack.s3_secret_key,
        },
    )  # fmt: skip
    target.ensure_bucket()  # type: ignore[attr-defined]
    try:
        for i in range(3):
            data = os.urandom(2000)
            source.write(f"data/f{i}.bin", io.BytesIO(data), len(data))
        run = _cli("run", str(plan))
        assert run.returncode == 0, run.stderr
        assert not (state / "signing.key").exists()  # nothing generated in the state dir

        manifest = state / "manifest.jsonl"
        first = json.loads(manifest.read_text().splitlines()[0])
        custody = first["signer"]["custody"]
        assert first["signer"]["fingerprint"] == pinned
        assert custody["provider"] == "pkcs11"
        assert custody["reference"] == f"pkcs11:token={stack.hsm_token};label={unique_name}"
        assert custody["module"] == "${env:HDH_HSM_MODULE}"  # as written: resolved at use
        attrs = custody["attributes"]
        assert attrs["local"] and attrs["never_extractable"] and attrs["always_sensitive"]
        assert not attrs["extractable"] and custody["device"]["serial"]

        check = _cli("manifest", "verify", str(manifest), "--plan", str(plan), "--json")
        assert check.returncode == 0, check.stderr
        trusted = json.loads(check.stdout)["trusted"]
        assert trusted == {
            "fingerprint": pinned,
            "source": f"pinned {pinned}",
            "origin_proven": True,
        }
        assert _cli("manifest", "verify", str(manifest), "--public-key", str(pub)).returncode == 0

        # a different pin: the run refuses to sign with the HSM key (exit 7)
        other = "sha256:" + "0" * 64
        plan.write_text(plan.read_text().replace(pinned, other))
        again = _cli("run", str(plan))
        assert again.returncode == 7 and "not the pinned" in again.stderr, again.stderr
        assert stack.hsm_pin not in manifest.read_text() + again.stderr + run.stderr
    finally:
        source.delete_container()  # type: ignore[attr-defined]
        target.delete_bucket(force=True)  # type: ignore[attr-defined]

"""Manifest checkpoints signed inside SoftHSM2 (Ed25519, CKM_EDDSA), key never extractable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.errors import AuthError, UsageError
from hdh_migrate.integrity import ManifestWriter, verify_manifest
from hdh_migrate.integrity.signing import fingerprint, verify_signature
from hdh_migrate.keys.pkcs11 import Pkcs11Ed25519Signer, generate_ed25519_signing_key


def test_hsm_key_signs_a_manifest_that_verifies_and_records_its_custody(
    hsm_token: Any, tmp_path: Path
) -> None:
    public = generate_ed25519_signing_key(
        hsm_token.module, hsm_token.label, "manifest-unit", hsm_token.pin
    )
    with pytest.raises(UsageError, match="already holds"):
        generate_ed25519_signing_key(hsm_token.module, hsm_token.label, "manifest-unit", "4711")
    signer = Pkcs11Ed25519Signer(hsm_token.module, hsm_token.label, "manifest-unit", hsm_token.pin)
    try:
        assert signer.public_key_bytes() == public
        signature = signer.sign(b"checkpoint body\n")
        assert verify_signature(public, b"checkpoint body\n", signature)
        assert not verify_signature(public, b"another body\n", signature)
        custody = signer.custody()
        attrs = custody["attributes"]
        assert attrs["local"] and attrs["never_extractable"] and attrs["always_sensitive"]
        assert not attrs["extractable"] and attrs["sensitive"] and attrs["persistent"]
        assert custody["device"]["label"] == hsm_token.label and custody["device"]["serial"]

        manifest = tmp_path / "manifest.jsonl"
        with ManifestWriter(manifest, signer, "hdh-migrate/unit", checkpoint_every=2) as writer:
            writer.append({"type": "run", "run_id": "r1", "tool_version": "t", "plan_digest": "d"})
            writer.append({"type": "rollback", "dataset": "d", "wave": "w", "from_state": "x"})
        report = verify_manifest(manifest, public)
        assert report.ok, report.one_line()
        run = json.loads(manifest.read_text().splitlines()[0])
        assert run["signer"]["fingerprint"] == fingerprint(public)
        assert run["signer"]["custody"] == custody  # signed: part of the tree
        assert "4711" not in manifest.read_text()
    finally:
        signer.close()


def test_missing_key_or_wrong_pin_is_an_auth_error(hsm_token: Any) -> None:
    with pytest.raises(AuthError, match="no unique Ed25519"):
        Pkcs11Ed25519Signer(hsm_token.module, hsm_token.label, "absent", hsm_token.pin)
    with pytest.raises(AuthError, match="no unique Ed25519"):  # the AES KEK is not a signing key
        Pkcs11Ed25519Signer(hsm_token.module, hsm_token.label, hsm_token.kek_label, hsm_token.pin)

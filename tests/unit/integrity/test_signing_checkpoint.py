"""Ed25519 key files and C2SP signed checkpoints."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hdh_migrate.errors import AuthError, UsageError
from hdh_migrate.integrity.checkpoint import (
    Checkpoint,
    CheckpointError,
    key_hash,
    parse_signed_checkpoint,
    sign_checkpoint,
)
from hdh_migrate.integrity.signing import (
    Ed25519FileSigner,
    Signer,
    fingerprint,
    load_public_key,
    verify_signature,
    write_public_key,
)
from hdh_migrate.secrets import SecretRef

# RFC 8032 §7.1 TEST 1: secret key, public key, empty message, signature.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUB = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_SIG = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


def test_raw_seed_file_matches_rfc8032(tmp_path: Path) -> None:
    key = tmp_path / "seed.bin"
    key.write_bytes(RFC8032_SEED)
    key.chmod(0o600)
    signer = Ed25519FileSigner.from_file(key)
    assert isinstance(signer, Signer)
    assert signer.public_key_bytes() == RFC8032_PUB
    assert signer.sign(b"") == RFC8032_SIG
    assert verify_signature(RFC8032_PUB, b"", RFC8032_SIG)
    assert not verify_signature(RFC8032_PUB, b"x", RFC8032_SIG)
    assert not verify_signature(RFC8032_PUB[:31], b"", RFC8032_SIG)
    assert signer.key_id == "seed.bin" and "9d61" not in repr(signer)


def test_pem_key_file_and_permissions(tmp_path: Path) -> None:
    path = tmp_path / "signing.pem"
    Ed25519FileSigner.generate().write_private_key(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert len(Ed25519FileSigner.from_file(path).sign(b"m")) == 64
    path.chmod(0o640)
    with pytest.raises(AuthError) as refused:
        Ed25519FileSigner.from_file(path)
    assert refused.value.exit_code == 7 and f"chmod 600 {path}" in refused.value.one_line()
    with pytest.raises(AuthError, match="no such file"):
        Ed25519FileSigner.from_file(tmp_path / "missing.pem")


def test_signer_from_a_plan_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "signing.pem"
    original = Ed25519FileSigner.generate()
    original.write_private_key(path)
    by_file = Ed25519FileSigner.from_reference(SecretRef.parse(f"${{file:{path}}}"))
    assert by_file.public_key_bytes() == original.public_key_bytes()
    monkeypatch.setenv("HDH_TEST_SIGNING_KEY", path.read_text())
    by_env = Ed25519FileSigner.from_reference(SecretRef.parse("${env:HDH_TEST_SIGNING_KEY}"))
    assert by_env.public_key_bytes() == original.public_key_bytes()
    assert by_env.key_id == "HDH_TEST_SIGNING_KEY"
    path.chmod(0o644)
    with pytest.raises(AuthError):
        Ed25519FileSigner.from_reference(SecretRef.parse(f"${{file:{path}}}"))


def test_non_ed25519_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.pem"
    path.write_bytes(b"not a key at all")
    path.chmod(0o600)
    with pytest.raises(AuthError, match="Ed25519"):
        Ed25519FileSigner.from_file(path)


def test_public_key_round_trip(tmp_path: Path) -> None:
    pub = tmp_path / "manifest.pub"
    write_public_key(pub, RFC8032_PUB)
    assert pub.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert load_public_key(pub) == RFC8032_PUB
    # The same PEM an openssl user would produce loads too.
    pem = (
        Ed25519PrivateKey.from_private_bytes(RFC8032_SEED)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert pem == pub.read_bytes()
    assert fingerprint(RFC8032_PUB).startswith("sha256:") and len(fingerprint(RFC8032_PUB)) == 71
    (tmp_path / "bad.pub").write_bytes(b"nope")
    with pytest.raises(UsageError):
        load_public_key(tmp_path / "bad.pub")


def test_signed_checkpoint_text_and_verification() -> None:
    signer = Ed25519FileSigner.generate()
    root = bytes(range(32))
    signed = sign_checkpoint(Checkpoint("hdh-migrate/plan-a", 42, root), signer)
    text = signed.text()
    body, sig_line = text.split("\n\n")
    assert body == f"hdh-migrate/plan-a\n42\n{base64.b64encode(root).decode()}"
    assert sig_line.startswith("— hdh-migrate/plan-a ")
    blob = base64.b64decode(sig_line.split(" ")[2])
    assert blob[:4] == key_hash("hdh-migrate/plan-a", signer.public_key_bytes())
    assert verify_signature(signer.public_key_bytes(), (body + "\n").encode(), blob[4:])
    parsed = parse_signed_checkpoint(text)
    assert parsed == signed and parsed.verify(signer.public_key_bytes())
    assert not parsed.verify(Ed25519FileSigner.generate().public_key_bytes())


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t.replace("\n42\n", "\n042\n"),
        lambda t: t.replace("\n\n", "\n"),
        lambda t: t.replace("— ", "- "),
        lambda t: t + "— extra AAAA\n",
        lambda t: t.replace("hdh-migrate/plan-a\n", "has space\n", 1),
        lambda t: t[:-3] + "\n",
    ],
)
def test_malformed_checkpoints_are_refused(mutate: object) -> None:
    signed = sign_checkpoint(
        Checkpoint("hdh-migrate/plan-a", 42, bytes(32)), Ed25519FileSigner.generate()
    )
    with pytest.raises(CheckpointError):
        parse_signed_checkpoint(mutate(signed.text()))  # type: ignore[operator]

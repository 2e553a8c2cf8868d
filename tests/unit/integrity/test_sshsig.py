"""SSHSIG signatures against OpenSSH's own ``ssh-keygen -Y sign`` / ``-Y verify``."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hdh_migrate.integrity import sshsig

NS = "hdh-migrate-approval"
KEYGEN = shutil.which("ssh-keygen")
needs_keygen = pytest.mark.skipif(KEYGEN is None, reason="OpenSSH ssh-keygen not installed")
KINDS = [
    ("ed25519", []),
    ("ecdsa", ["-b", "256"]),
    ("ecdsa", ["-b", "521"]),
    ("rsa", ["-b", "2048"]),
]


def _keygen(tmp: Path, kind: str, extra: list[str], name: str) -> Path:
    key = tmp / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, *extra, "-N", "", "-C", name, "-f", str(key)], check=True
    )
    return key


def _allowed(tmp: Path, lines: list[str]) -> Path:
    path = tmp / "allowed_signers"
    path.write_text("\n".join(lines) + "\n")
    return path


def _pub(key: Path) -> str:
    return " ".join(key.with_suffix(".pub").read_text().split()[:2])


@needs_keygen
@pytest.mark.parametrize(("kind", "extra"), KINDS)
def test_ssh_keygen_signature_verifies_here_and_ours_verifies_with_ssh_keygen(
    tmp_path: Path, kind: str, extra: list[str]
) -> None:
    key = _keygen(tmp_path, kind, extra, "alice")
    allowed = _allowed(tmp_path, [f'alice@hdh namespaces="{NS}" {_pub(key)}'])
    message = tmp_path / "statement.json"
    message.write_bytes(b'{"wave":"w1"}\n')
    subprocess.run(
        ["ssh-keygen", "-Y", "sign", "-f", str(key), "-n", NS, str(message)],
        check=True,
        capture_output=True,
    )
    theirs = sshsig.parse_signature((tmp_path / "statement.json.sig").read_text())
    sshsig.check_signature(theirs, message.read_bytes(), NS)
    signers = sshsig.AllowedSigners.load(allowed)
    assert signers.principals(theirs.public_key, NS, datetime.now(UTC)) == ["alice@hdh"]
    fp = subprocess.run(["ssh-keygen", "-lf", str(key) + ".pub"], capture_output=True, text=True)
    assert theirs.fingerprint == fp.stdout.split()[1]

    ours = tmp_path / "ours.sig"
    ours.write_text(sshsig.sign(sshsig.load_private_key(key), message.read_bytes(), NS))
    verify = ["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", "alice@hdh", "-n", NS]
    done = subprocess.run(
        [*verify, "-s", str(ours)], input=message.read_bytes(), capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr
    # and ssh-keygen refuses ours over other bytes: the signature covers the message
    done = subprocess.run(
        [*verify, "-s", str(ours)], input=b"other", capture_output=True, check=False
    )
    assert done.returncode != 0


def test_forged_message_other_namespace_and_garbage_are_refused(tmp_path: Path) -> None:
    key = sshsig.Ed25519PrivateKey.generate()
    armored = sshsig.sign(key, b"approve w1", NS)
    parsed = sshsig.parse_signature(armored)
    with pytest.raises(sshsig.SshSigError, match="does not verify"):
        sshsig.check_signature(parsed, b"approve w2", NS)
    with pytest.raises(sshsig.SshSigError, match="namespace"):
        sshsig.check_signature(sshsig.parse_signature(sshsig.sign(key, b"x", "file")), b"x", NS)
    with pytest.raises(sshsig.SshSigError):
        sshsig.parse_signature("-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----")
    with pytest.raises(sshsig.SshSigError):
        sshsig.parse_signature("not a signature")
    # one flipped byte inside the signature blob
    lines = armored.splitlines()
    middle = lines[3]
    lines[3] = middle[:10] + ("A" if middle[10] != "A" else "B") + middle[11:]
    with pytest.raises(sshsig.SshSigError):
        sshsig.check_signature(sshsig.parse_signature("\n".join(lines)), b"approve w1", NS)


def test_allowed_signers_options_patterns_and_validity() -> None:
    a = sshsig.Ed25519PrivateKey.generate()
    b = sshsig.Ed25519PrivateKey.generate()
    blob_a, blob_b = sshsig.key_blob(a.public_key()), sshsig.key_blob(b.public_key())

    def line(principals: str, options: str, blob: bytes) -> str:
        import base64

        return f"{principals} {options} ssh-ed25519 {base64.b64encode(blob).decode()} c".replace(
            "  ", " "
        )

    text = "\n".join(
        [
            "# comment",
            "",
            line("alice@hdh,*@ops", f'namespaces="file,{NS}",valid-after="20200101"', blob_a),
            line("bob@hdh", 'namespaces="file",valid-before="20990101Z"', blob_b),
            line("carol@hdh", "cert-authority", blob_b),
        ]
    )
    signers = sshsig.AllowedSigners(sshsig.parse_allowed_signers(text))
    now = datetime.now(UTC)
    assert signers.principals(blob_a, NS, now) == ["alice@hdh", "*@ops"]
    assert signers.allows("eve@ops", blob_a, NS, now)
    assert signers.principals(blob_b, NS, now) == []  # namespace not listed; CA skipped
    assert signers.principals(blob_a, NS, datetime(2019, 1, 1, tzinfo=UTC)) == []
    with pytest.raises(sshsig.SshSigError, match="line 1"):
        list(sshsig.parse_allowed_signers("alice ssh-ed25519 !!notbase64"))

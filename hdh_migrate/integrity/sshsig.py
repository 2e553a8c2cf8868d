"""SSH signatures (OpenSSH ``PROTOCOL.sshsig``): what ``ssh-keygen -Y sign`` writes.

An approver signs a file with the SSH key (or agent) they already have; anyone checks
the signature against an ``allowed_signers`` file (OpenSSH's format, ``man ssh-keygen``
"ALLOWED SIGNERS"). Implemented with ``cryptography`` for ssh-ed25519,
ecdsa-sha2-nistp256/384/521 and RSA (rsa-sha2-512/256), so signatures made here verify
with ``ssh-keygen -Y verify`` and the other way round.

Blob (armored between ``-----BEGIN SSH SIGNATURE-----`` lines, base64 wrapped at 70)::

    "SSHSIG" uint32(1) string(public key) string(namespace) string(reserved="")
    string(hash algorithm) string(signature)

and the signature covers ``"SSHSIG" string(namespace) string("") string(hash)
string(H(message))``. Certificates (``cert-authority``) and security keys (``sk-``) are
not supported: such lines are skipped, such signatures refused.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

MAGIC = b"SSHSIG"
VERSION = 1
BEGIN = "-----BEGIN SSH SIGNATURE-----"
END = "-----END SSH SIGNATURE-----"
_HASHES = {"sha512": hashlib.sha512, "sha256": hashlib.sha256}
_CURVES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "ecdsa-sha2-nistp256": hashes.SHA256,
    "ecdsa-sha2-nistp384": hashes.SHA384,
    "ecdsa-sha2-nistp521": hashes.SHA512,
}
_RSA: dict[str, type[hashes.SHA256 | hashes.SHA512]] = {
    "rsa-sha2-512": hashes.SHA512,
    "rsa-sha2-256": hashes.SHA256,
}
_FIELD = re.compile(r'(?:[^\s"]|"[^"]*")+')
_OPTION = re.compile(r'(?:[^,"]|"[^"]*")+')
KEY_TYPES = ("ssh-ed25519", "ssh-rsa", *_CURVES)

PrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey


class SshSigError(ValueError):
    """A signature or allowed_signers file that cannot be parsed or does not verify."""


# ---------------------------------------------------------------- wire encoding


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _mpint(value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 8) // 8, "big") if value else b""
    return _string(raw)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise SshSigError("truncated SSH signature")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def uint32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def string(self) -> bytes:
        return self.take(self.uint32())

    def mpint(self) -> int:
        return int.from_bytes(self.string(), "big", signed=True)

    def end(self) -> None:
        if self.pos != len(self.data):
            raise SshSigError("trailing bytes in SSH signature")


# ---------------------------------------------------------------- keys


def key_blob(key: PublicKey) -> bytes:
    """The SSH wire encoding of a public key (what ``ssh-keygen -l`` fingerprints)."""
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return base64.b64decode(line.split()[1])


def key_type(blob: bytes) -> str:
    return _Reader(blob).string().decode("ascii", "replace")


def parse_key_blob(blob: bytes) -> PublicKey:
    kind = key_type(blob)
    if kind not in KEY_TYPES:
        raise SshSigError(f"unsupported SSH key type {kind!r}")
    try:
        key = serialization.load_ssh_public_key(kind.encode() + b" " + base64.b64encode(blob))
    except (ValueError, UnsupportedAlgorithm):
        raise SshSigError(f"malformed {kind} public key") from None
    if not isinstance(key, Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise SshSigError(f"unsupported SSH key type {kind!r}")
    return key


def ssh_fingerprint(blob: bytes) -> str:
    """``SHA256:<base64, unpadded>``, as ``ssh-keygen -l`` prints it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def load_private_key(path: str | Path, passphrase: bytes | None = None) -> PrivateKey:
    """An OpenSSH (or PEM) private key file; SshSigError when encrypted without a
    passphrase, unreadable, or of an unsupported type."""
    data = Path(path).expanduser().read_bytes()
    loader = (
        serialization.load_ssh_private_key
        if b"OPENSSH PRIVATE KEY" in data
        else serialization.load_pem_private_key
    )
    try:
        key = loader(data, password=passphrase)
    except TypeError:
        raise SshSigError(
            f"{path} is encrypted: sign with `ssh-keygen -Y sign` (it uses your agent) "
            "and pass the .sig with --approval"
        ) from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SshSigError(f"{path} is not a usable SSH private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise SshSigError(f"{path}: only ed25519, ecdsa and rsa keys can sign")
    return key


# ---------------------------------------------------------------- sign / verify


def _signed_data(namespace: str, hash_alg: str, message: bytes) -> bytes:
    digest = _HASHES[hash_alg](message).digest()
    return MAGIC + b"".join(
        _string(p) for p in (namespace.encode(), b"", hash_alg.encode(), digest)
    )


def _ecdsa_name(key: ec.EllipticCurvePublicKey) -> str:
    return {256: "ecdsa-sha2-nistp256", 384: "ecdsa-sha2-nistp384", 521: "ecdsa-sha2-nistp521"}[
        key.curve.key_size
    ]


def _raw_sign(key: PrivateKey, data: bytes) -> bytes:
    if isinstance(key, Ed25519PrivateKey):
        return _string(b"ssh-ed25519") + _string(key.sign(data))
    if isinstance(key, ec.EllipticCurvePrivateKey):
        name = _ecdsa_name(key.public_key())
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(_CURVES[name]())))
        return _string(name.encode()) + _string(_mpint(r) + _mpint(s))
    signature = key.sign(data, padding.PKCS1v15(), hashes.SHA512())
    return _string(b"rsa-sha2-512") + _string(signature)


def sign(key: PrivateKey, message: bytes, namespace: str, hash_alg: str = "sha512") -> str:
    """The armored SSH signature of ``message`` (the text ``ssh-keygen -Y sign`` writes)."""
    blob = key_blob(key.public_key())
    signature = _raw_sign(key, _signed_data(namespace, hash_alg, message))
    body = MAGIC + struct.pack(">I", VERSION) + _string(blob) + _string(namespace.encode())
    body += _string(b"") + _string(hash_alg.encode()) + _string(signature)
    text = base64.b64encode(body).decode()
    lines = [text[i : i + 70] for i in range(0, len(text), 70)]
    return "\n".join([BEGIN, *lines, END]) + "\n"


@dataclass(frozen=True)
class SshSignature:
    """A parsed SSH signature: the signer's key blob, namespace, hash and signature."""

    public_key: bytes
    namespace: str
    hash_alg: str
    signature: bytes

    @property
    def fingerprint(self) -> str:
        return ssh_fingerprint(self.public_key)


def parse_signature(armored: str) -> SshSignature:
    """Parse the armored text; SshSigError when malformed."""
    text = armored.strip()
    if not (text.startswith(BEGIN) and text.endswith(END)):
        raise SshSigError("not an SSH signature (no BEGIN/END SSH SIGNATURE lines)")
    try:
        blob = base64.b64decode("".join(text[len(BEGIN) : -len(END)].split()), validate=True)
    except ValueError:
        raise SshSigError("SSH signature: bad base64") from None
    reader = _Reader(blob)
    if reader.take(6) != MAGIC or reader.uint32() != VERSION:
        raise SshSigError("SSH signature: bad magic or version")
    public_key, namespace = reader.string(), reader.string()
    reader.string()  # reserved
    hash_alg, signature = reader.string().decode("ascii", "replace"), reader.string()
    reader.end()
    if hash_alg not in _HASHES:
        raise SshSigError(f"SSH signature: unsupported hash {hash_alg!r}")
    return SshSignature(public_key, namespace.decode("utf-8", "replace"), hash_alg, signature)


def check_signature(sig: SshSignature, message: bytes, namespace: str) -> None:
    """Raise SshSigError unless ``sig`` is a valid signature of ``message`` in ``namespace``
    by the key it carries (whether that key is allowed is ``AllowedSigners.principal``)."""
    if sig.namespace != namespace:
        raise SshSigError(f"signature namespace is {sig.namespace!r}, expected {namespace!r}")
    key = parse_key_blob(sig.public_key)
    reader = _Reader(sig.signature)
    algorithm, raw = reader.string().decode("ascii", "replace"), reader.string()
    reader.end()
    data = _signed_data(namespace, sig.hash_alg, message)
    try:
        _raw_verify(key, algorithm, raw, data)
    except (InvalidSignature, ValueError):
        raise SshSigError("the signature does not verify (forged, or another file)") from None


def _raw_verify(key: PublicKey, algorithm: str, raw: bytes, data: bytes) -> None:
    if isinstance(key, Ed25519PublicKey) and algorithm == "ssh-ed25519":
        key.verify(raw, data)
    elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm == _ecdsa_name(key):
        reader = _Reader(raw)
        r, s = reader.mpint(), reader.mpint()
        key.verify(encode_dss_signature(r, s), data, ec.ECDSA(_CURVES[algorithm]()))
    elif isinstance(key, rsa.RSAPublicKey) and algorithm in _RSA:
        key.verify(raw, data, padding.PKCS1v15(), _RSA[algorithm]())
    else:
        raise InvalidSignature


# ---------------------------------------------------------------- allowed_signers


@dataclass(frozen=True)
class AllowedSigner:
    """One line of an allowed_signers file."""

    principals: tuple[str, ...]
    key: bytes
    namespaces: tuple[str, ...] | None = None
    valid_after: datetime | None = None
    valid_before: datetime | None = None
    line: int = 0

    def matches(self, principal: str) -> bool:
        return match_patterns(self.principals, principal)

    def allows(self, namespace: str, when: datetime) -> bool:
        if self.namespaces is not None and not match_patterns(self.namespaces, namespace):
            return False
        if self.valid_after is not None and when < self.valid_after:
            return False
        return self.valid_before is None or when < self.valid_before


def match_patterns(patterns: Iterable[str], value: str) -> bool:
    hit = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if fnmatch.fnmatchcase(value, pattern.lstrip("!")):
            if negated:
                return False
            hit = True
    return hit


class AllowedSigners:
    """The keys an allowed_signers file trusts, with their principals and options."""

    def __init__(self, entries: Iterable[AllowedSigner]) -> None:
        self.entries = tuple(entries)

    @classmethod
    def load(cls, path: str | Path) -> AllowedSigners:
        try:
            text = Path(path).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SshSigError(f"allowed_signers {path}: {exc}") from None
        return cls(parse_allowed_signers(text))

    def principals(self, key: bytes, namespace: str, when: datetime) -> list[str]:
        """The principals listed with exactly this key, allowed for ``namespace`` at ``when``
        (wildcard principals are returned as written)."""
        found: list[str] = []
        for entry in self.entries:
            if entry.key == key and entry.allows(namespace, when):
                found.extend(p for p in entry.principals if not p.startswith("!"))
        return found

    def allows(self, principal: str, key: bytes, namespace: str, when: datetime) -> bool:
        return any(
            e.key == key and e.matches(principal) and e.allows(namespace, when)
            for e in self.entries
        )


def parse_allowed_signers(text: str) -> Iterator[AllowedSigner]:
    """Parse allowed_signers lines; SshSigError naming the line when one is malformed.
    ``cert-authority`` lines are skipped (certificates are not supported)."""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        entry = _parse_line(line, number)
        if entry is not None:
            yield entry


def _parse_line(line: str, number: int) -> AllowedSigner | None:
    fields = _FIELD.findall(line)
    if "".join(fields).count('"') % 2 or len(fields) < 3:
        raise SshSigError(
            f"allowed_signers line {number}: expected principals [options] key (quotes balanced)"
        )
    principals, rest = tuple(fields[0].strip('"').split(",")), fields[1:]
    options: dict[str, str] = {}
    if rest[0] not in KEY_TYPES and not rest[0].startswith(("sk-", "ssh-", "ecdsa-")):
        options = _options(rest[0], number)
        rest = rest[1:]
    if len(rest) < 2:
        raise SshSigError(f"allowed_signers line {number}: no key")
    if "cert-authority" in options or rest[0] not in KEY_TYPES:
        return None
    try:
        blob = base64.b64decode(rest[1], validate=True)
        parse_key_blob(blob)
    except (ValueError, SshSigError):
        raise SshSigError(f"allowed_signers line {number}: malformed {rest[0]} key") from None
    spaces = options.get("namespaces")
    return AllowedSigner(
        principals,
        blob,
        tuple(spaces.split(",")) if spaces is not None else None,
        _time(options.get("valid-after"), number),
        _time(options.get("valid-before"), number),
        number,
    )


def _options(text: str, number: int) -> dict[str, str]:
    options: dict[str, str] = {}
    for part in _OPTION.findall(text):
        name, _, value = part.partition("=")
        options[name.strip().lower()] = value.strip().strip('"')
    if any(not name for name in options):
        raise SshSigError(f"allowed_signers line {number}: malformed options")
    return options


def _time(value: str | None, number: int) -> datetime | None:
    if value is None:
        return None
    digits = value.rstrip("Zz")
    formats = {8: "%Y%m%d", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}
    try:
        parsed = datetime.strptime(digits, formats[len(digits)])
    except (KeyError, ValueError):
        raise SshSigError(f"allowed_signers line {number}: bad time {value!r}") from None
    if value[-1:] in "Zz":
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)

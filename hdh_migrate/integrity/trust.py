"""Which public key a manifest check trusts, and why: never silently the ``.pub`` beside it.

The ``.pub`` next to a manifest sits in the same directory as the evidence (and, by
default, as the signing key): whoever can rewrite the manifest can rewrite it too, so
checking against it proves integrity, not origin. An auditor names the expected signer
from outside: ``--public-key FILE`` (a copy obtained separately), or a fingerprint pinned
in the plan (``signing.fingerprint``). The adjacent key is used only when asked for by
name (``--trust-adjacent-key``), and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hdh_migrate.errors import UsageError, VerificationError
from hdh_migrate.integrity.manifest import public_key_path
from hdh_migrate.integrity.signing import fingerprint, load_public_key


@dataclass(frozen=True)
class TrustedKey:
    """The raw public key a check uses, and where the trust in it comes from."""

    key: bytes
    source: str
    origin_proven: bool

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.key)

    def to_dict(self) -> dict[str, object]:
        return {
            "fingerprint": self.fingerprint,
            "source": self.source,
            "origin_proven": self.origin_proven,
        }

    def one_line(self) -> str:
        proven = "" if self.origin_proven else " — integrity only, origin NOT proven"
        return f"trusted key {self.fingerprint} ({self.source}){proven}"


def trusted_key(
    manifest: Path,
    public_key: Path | None = None,
    pinned: str | None = None,
    adjacent: bool = False,
) -> TrustedKey:
    """Resolve the key to check ``manifest`` against.

    ``public_key`` (a trusted copy) and ``pinned`` (a plan's fingerprint) may be combined:
    the key must then match the pin (VerificationError, exit 4). With only a pin, the
    adjacent ``.pub`` is used if it matches the pin. With neither, ``adjacent`` must be
    True (UsageError, exit 2, otherwise).
    """
    if public_key is not None:
        key = TrustedKey(load_public_key(public_key), f"--public-key {public_key}", True)
    elif pinned is not None:
        key = TrustedKey(load_public_key(public_key_path(manifest)), f"pinned {pinned}", True)
    elif adjacent:
        key = TrustedKey(
            load_public_key(public_key_path(manifest)), "the .pub beside the manifest", False
        )
    else:
        raise UsageError(
            f"which signer does {manifest} have to be signed by? The .pub beside it proves "
            "nothing about origin",
            hint="pass --public-key TRUSTED.pub, or --plan PLAN with signing.fingerprint "
            "pinned (or --trust-adjacent-key for an integrity-only check)",
        )
    if pinned is not None and key.fingerprint != pinned:
        raise VerificationError(
            f"{manifest}: the key {key.fingerprint} ({key.source}) is not the signer the plan "
            f"pins ({pinned}): the manifest may have been re-signed"
        )
    return key

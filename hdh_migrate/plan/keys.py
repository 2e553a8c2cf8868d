"""Customer-held keys: ``keys.<name>`` (key-encryption keys) and ``signing`` (manifests)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from hdh_migrate.plan.types import Secret, StrictModel, Text


class FileKey(StrictModel):
    """A 256-bit key-encryption key kept in a file. Give exactly one of ``path`` (a key
    file, relative paths resolve against the working directory) and ``ref`` (a secret
    reference holding the key, base64)."""

    kind: Literal["file"] = Field(description="Selects this key kind.")
    path: Text | None = Field(
        default=None,
        description="Path of the key file (may be a ${env:NAME} reference to the path).",
        examples=["/etc/hdh/kek-2026.key", ".hdh-migrate/hdh-rehearsal/kek.key"],
    )
    ref: Secret | None = Field(
        default=None,
        description="Reference to the key material itself (base64 text).",
        examples=["${env:HDH_KEK_B64}"],
    )
    create: bool = Field(
        default=False,
        description="Generate a random key at path (mode 0600) when missing. For rehearsals: "
        "a production key is never created by the tool.",
    )


class Pkcs11Key(StrictModel):
    """A non-extractable AES key in an HSM reached through a PKCS#11 module."""

    kind: Literal["pkcs11"] = Field(description="Selects this key kind.")
    module: Text = Field(
        description="Path of the PKCS#11 module.", examples=["/usr/lib/softhsm/libsofthsm2.so"]
    )
    token: Text = Field(description="Token label.", examples=["hdh-prod"])
    label: Text = Field(description="Key label on the token.", examples=["kek-2026"])
    pin: Secret = Field(description="Reference to the user PIN.", examples=["${env:HSM_PIN}"])
    slot: int | None = Field(
        default=None, ge=0, description="Slot number, when the label is ambiguous."
    )


Fingerprint = Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")]
"""A public key fingerprint as records name it: ``sha256:`` and 64 hex digits."""

Key = Annotated[FileKey | Pkcs11Key, Field(discriminator="kind")]
"""One key-encryption key, selected by its ``kind``."""


class FileSigningKey(StrictModel):
    """An Ed25519 private key (PEM) that signs manifest checkpoints."""

    kind: Literal["file"] = Field(description="Selects this signing key kind.")
    private_key: Secret = Field(
        description="Reference to the PEM private key.",
        examples=["${file:/etc/hdh/manifest-ed25519.pem}"],
    )
    fingerprint: Fingerprint | None = Field(
        default=None,
        description="The signer's public key fingerprint (sha256:<hex of the raw key>), pinned: "
        "the run refuses another key, and `manifest verify --plan` trusts only this one.",
        examples=["sha256:3b5f0c…"],
    )


class Pkcs11SigningKey(StrictModel):
    """A signing key held in an HSM."""

    kind: Literal["pkcs11"] = Field(description="Selects this signing key kind.")
    module: Text = Field(
        description="Path of the PKCS#11 module.", examples=["/usr/lib/softhsm/libsofthsm2.so"]
    )
    token: Text = Field(description="Token label.", examples=["hdh-prod"])
    label: Text = Field(description="Key label on the token.", examples=["manifest-2026"])
    pin: Secret = Field(description="Reference to the user PIN.", examples=["${env:HSM_PIN}"])
    slot: int | None = Field(
        default=None, ge=0, description="Slot number, when the label is ambiguous."
    )
    fingerprint: Fingerprint | None = Field(
        default=None,
        description="The signer's public key fingerprint (sha256:<hex of the raw key>), pinned: "
        "the run refuses another key, and `manifest verify --plan` trusts only this one.",
        examples=["sha256:3b5f0c…"],
    )


SigningKey = Annotated[FileSigningKey | Pkcs11SigningKey, Field(discriminator="kind")]
"""The manifest signing key, selected by its ``kind``."""

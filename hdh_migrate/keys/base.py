"""The key-provider contract: what HDH1 needs from a key-encryption key (KEK)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class KeyProvider(Protocol):
    """A KEK held by the customer: a key file, an HSM token, later a KMS.

    ``ref`` identifies the KEK without revealing it and is written into every HDH1 header
    (``file:kcv=…``, ``pkcs11:token=…;label=…``). Implementations never put key material
    in messages, ``repr`` or ``describe()``.
    """

    ref: str

    def wrap(self, dek: bytes) -> bytes:
        """Wrap a 32-byte data key with RFC 3394 AES key wrap (40 bytes out). Not idempotent
        in general, but deterministic for AES-KW. Raises AuthError if the KEK is refused."""
        ...

    def unwrap(self, blob: bytes) -> bytes:
        """Unwrap ``blob`` into the 32-byte data key. Raises IntegrityAuthError when the
        blob does not open under this KEK (wrong key or tampered), AuthError when the KEK
        itself cannot be used (PIN, token)."""
        ...

    def describe(self) -> dict[str, Any]:
        """Custody facts about the KEK, no secret material: provider, reference, and for
        PKCS#11 the key attributes and token identity."""
        ...

    def close(self) -> None:
        """Release sessions or handles. Idempotent."""
        ...

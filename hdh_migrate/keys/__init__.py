"""Key-encryption-key providers: a file, an HSM through PKCS#11 (imported lazily)."""

from hdh_migrate.keys.base import KeyProvider
from hdh_migrate.keys.factory import (
    FileKeySpec,
    KeySpec,
    Pkcs11KeySpec,
    open_key_provider,
    open_key_spec,
)
from hdh_migrate.keys.file import FileKeyProvider, generate_key_file, key_check_value

__all__ = [
    "FileKeyProvider",
    "FileKeySpec",
    "KeyProvider",
    "KeySpec",
    "Pkcs11KeySpec",
    "generate_key_file",
    "key_check_value",
    "open_key_provider",
    "open_key_spec",
]

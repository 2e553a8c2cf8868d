"""HDH1: streaming AES-256-GCM encryption with per-object keys and key commitment.

Crypto never sees a backend: it reads and writes ``BinaryIO`` streams. Format specification:
docs/hdh1-format.md; design and threat model: docs/encryption.md.
"""

from hdh_migrate.crypto.cipher import (
    Envelope,
    KeyProvider,
    ObjectCipher,
    open_object,
    seal_header,
)
from hdh_migrate.crypto.decrypt import (
    DecryptingReader,
    authenticate,
    check_object_size,
    read_header,
)
from hdh_migrate.crypto.encrypt import EncryptingReader, Encryptor, SourceLengthError
from hdh_migrate.crypto.envelope import encode_sidecar, parse_sidecar, rewrap
from hdh_migrate.crypto.format import (
    DEFAULT_SEGMENT_SIZE,
    MAX_HEADER_LEN,
    TAG_LEN,
    Header,
    ciphertext_length,
    parse_header,
    segment_count,
)
from hdh_migrate.crypto.ranges import aligned_part_size, decrypt_range, plan_range

__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "MAX_HEADER_LEN",
    "TAG_LEN",
    "DecryptingReader",
    "EncryptingReader",
    "Encryptor",
    "Envelope",
    "Header",
    "KeyProvider",
    "ObjectCipher",
    "SourceLengthError",
    "aligned_part_size",
    "authenticate",
    "check_object_size",
    "ciphertext_length",
    "decrypt_range",
    "encode_sidecar",
    "open_object",
    "parse_header",
    "parse_sidecar",
    "plan_range",
    "read_header",
    "rewrap",
    "seal_header",
    "segment_count",
]

"""Values resolved from ``${env:…}`` references in non-secret fields (a key file's path,
an SFTP ``known_hosts``, a user name): secret by construction, so never echoed.

``resolved()`` remembers each value with the reference it came from; ``redact()`` puts
the reference back wherever such a value would appear in a message, a JSON document or a
report. The error boundary (``HdhError.one_line``) and every writer of output call it.
"""

from __future__ import annotations

import threading

MIN_LENGTH = 3  # shorter values would blank out ordinary words; they carry little anyway
_lock = threading.Lock()
_values: dict[str, str] = {}


def resolved(reference: str, value: str) -> str:
    """Remember that ``value`` came from ``reference``; return ``value``."""
    if len(value) >= MIN_LENGTH:
        with _lock:
            _values[value] = reference
            for line in value.splitlines():
                if len(line.strip()) >= MIN_LENGTH:
                    _values.setdefault(line.strip(), reference)
    return value


def redact(text: str) -> str:
    """``text`` with every remembered value replaced by its reference."""
    with _lock:
        pairs = sorted(_values.items(), key=lambda kv: -len(kv[0]))
    for value, reference in pairs:
        if value in text:
            text = text.replace(value, reference)
    return text

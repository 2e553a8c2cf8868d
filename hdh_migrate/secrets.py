"""Secret references: ``${env:NAME}`` and ``${file:PATH}``, resolved when used, never shown.

``${env:NAME:-default}`` gives a value to use when NAME is unset or empty (shell syntax):
for the public fields of portable plans (endpoints, ports, buckets). A secret field never
accepts a default, which would be a secret written in the plan.

A plan holds only references. ``SecretRef.reveal()`` reads the value at the moment a
client is built; ``str()``/``repr()`` show the reference, never the value, so a secret
cannot leak through a log line, a report or an exception message.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hdh_migrate.errors import SecretError

_REF = re.compile(r"^\$\{(env|file):([^}]+)\}$")


def is_reference(text: str) -> bool:
    return bool(_REF.match(text.strip()))


@dataclass(frozen=True)
class SecretRef:
    """A reference to a secret. ``scheme`` is ``env`` or ``file``; ``name`` the variable or path."""

    scheme: str
    name: str
    default: str | None = None  # ``${env:NAME:-default}``: used when NAME is unset or empty

    @classmethod
    def parse(cls, text: str) -> SecretRef:
        match = _REF.match(text.strip())
        if not match:
            raise ValueError("expected a secret reference such as ${env:NAME} or ${file:/path}")
        scheme, body = match.group(1), match.group(2)
        if scheme == "env" and ":-" in body:
            name, default = body.split(":-", 1)
            return cls(scheme, name.strip(), default)
        return cls(scheme, body.strip())

    def __str__(self) -> str:
        default = "" if self.default is None else f":-{self.default}"
        return f"${{{self.scheme}:{self.name}{default}}}"

    def __repr__(self) -> str:
        return f"SecretRef({self})"

    def reveal(self) -> str:
        """The secret as text (file contents are stripped of surrounding whitespace)."""
        return self.reveal_bytes().decode("utf-8").strip()

    def reveal_bytes(self) -> bytes:
        """The secret as raw bytes (for key files). Raises SecretError, never with the value."""
        if self.scheme == "env":
            value = os.environ.get(self.name)
            if not value and self.default is not None:
                return self.default.encode("utf-8")
            if value is None:
                raise SecretError(
                    f"secret {self} is not set",
                    hint=f"export {self.name}=… in the environment that runs hdh-migrate",
                )
            return value.encode("utf-8")
        path = Path(self.name).expanduser()
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise SecretError(f"secret {self}: no such file", hint="check the path") from None
        except PermissionError:
            raise SecretError(
                f"secret {self}: permission denied", hint="make the file readable by this user"
            ) from None
        except IsADirectoryError:
            raise SecretError(f"secret {self} is a directory", hint="name a file") from None


class Revealable(Protocol):
    def reveal_bytes(self) -> bytes: ...


def reveal_private(ref: Revealable) -> bytes:
    """Key material (a KEK, an SSE-C key, a PIN, a private key): like ``reveal_bytes``, and
    a ``${file:…}`` must not be readable by group or others (AuthError otherwise)."""
    if isinstance(ref, SecretRef) and ref.scheme == "file":
        refuse_shared_file(Path(ref.name).expanduser(), str(ref))
    return ref.reveal_bytes()


def refuse_shared_file(path: Path, label: str) -> None:
    """AuthError when the file ``path`` (named ``label`` in messages) is group/other
    accessible; a missing file is left to the reader to report."""
    from hdh_migrate.errors import AuthError

    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return
    if mode & 0o077:
        raise AuthError(
            f"{label} is key material accessible by group or others (mode {mode:o})",
            hint="chmod 600 the file",
        )

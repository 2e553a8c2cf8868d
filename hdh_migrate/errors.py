"""The exception tree, grouped by what a caller can do about it.

    HdhError                      every error the tool raises on purpose (exit_code, hint)
    ├── UsageError          (2)   the command line or an input file is wrong: fix the input
    │   └── PlanError       (2)   the plan is invalid; carries file:line:column and a dotted path
    ├── SecretError         (2)   a ${env:…}/${file:…} reference cannot be resolved
    ├── PolicyError         (3)   a sovereignty rule blocks the plan
    ├── VerificationError   (4)   what is at the target is not what was read at the source
    ├── ObjectsFailedError  (5)   some objects failed after retries (names them)
    ├── GateRefusedError    (6)   a cutover gate is not satisfied
    ├── AuthError           (7)   credentials, key file, HSM PIN or KEK refused
    │   ├── IntegrityAuthError    an HDH1 object failed authentication (tampered, wrong key)
    │   │   └── WrongKeyError     the key given is not the one the object names: stop, mark nothing
    │   └── CertificateError      a server's TLS certificate failed verification
    ├── UnreachableError    (8)   an endpoint does not answer
    │   └── CircuitOpenError      an endpoint stopped answering mid-run: the run stopped
    ├── StateError          (9)   the local state (journal, manifest) is damaged, missing or
    │                             cannot be written (disk full): names the file and the fix
    ├── RunInterrupted (130/143)  Ctrl-C or SIGTERM: stopped cleanly, run again to continue
    └── StorageError        (1)   raised by backends at their boundary; SDK errors never escape
        ├── NotFoundError                  the key does not exist (never retried)
        ├── PreconditionFailedError        the source changed (ETag no longer matches)
        ├── RetryableError                 transient: network reset, 5xx, timeout
        │   ├── ThrottledError             503 SlowDown / 429: back off with jitter
        │   └── ConnectionFailedError (8)  no connection could be opened to an endpoint
        └── PermanentError                 will fail the same way again: do not retry

Exit codes are mapped in exactly one place: ``hdh_migrate.cli.main``. Messages are one
line, never contain secrets, and end with a hint when the fix is known.
"""

from __future__ import annotations

from hdh_migrate.redaction import redact


class HdhError(Exception):
    """Base of every error raised on purpose. ``hint`` tells the user what to do."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        text = self.message if not self.hint else f"{self.message} — {self.hint}"
        return redact(" ".join(text.split()))


class UsageError(HdhError):
    exit_code = 2


class PlanError(UsageError):
    """An invalid plan. ``location`` is ``file:line:column``; ``path`` the dotted path."""

    def __init__(
        self,
        message: str,
        *,
        file: str = "<plan>",
        line: int = 0,
        column: int = 0,
        path: str = "",
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.file, self.line, self.column, self.path = file, line, column, path

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def one_line(self) -> str:
        where = f"{self.location}: " + (f"{self.path}: " if self.path else "")
        return where + super().one_line()


class SecretError(UsageError):
    """A secret reference could not be resolved. The message never holds the secret."""


class PolicyError(HdhError):
    exit_code = 3


class VerificationError(HdhError):
    exit_code = 4


class ObjectsFailedError(HdhError):
    exit_code = 5


class GateRefusedError(HdhError):
    exit_code = 6


class AuthError(HdhError):
    """Credentials, key material or an HSM refused. Also raised by backends on 401/403."""

    exit_code = 7


class IntegrityAuthError(AuthError):
    """An encrypted object failed authentication: tampered, truncated or wrong key."""


class CertificateError(AuthError):
    """A server's TLS certificate failed verification (unknown CA, expired, wrong host
    name). Never retried, never answered by turning verification off."""


class WrongKeyError(IntegrityAuthError):
    """The key given is not the key an object was written with (its header or sidecar names
    another KEK). A configuration error, not a damaged object: commands that go over many
    objects (verify, restore) stop at the first one and mark nothing."""


class UnreachableError(HdhError):
    exit_code = 8


class CircuitOpenError(UnreachableError):
    """An endpoint failed every connection for longer than the plan allows: the run stops
    taking new work (``hdh_migrate.circuit``). ``endpoint`` names it."""

    def __init__(self, message: str, *, endpoint: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.endpoint = endpoint


class StateError(HdhError):
    """The state directory cannot be trusted or written: a damaged, truncated or missing
    journal or manifest while evidence of earlier runs exists, or a full disk. The message
    names the file; the hint gives the recovery command. Nothing is re-uploaded or
    regenerated silently."""

    exit_code = 9


class RunInterrupted(HdhError):
    """A run stopped on a signal after finishing what was in flight; 128 + the signal."""

    exit_code = 130

    def __init__(self, message: str, *, signum: int = 2, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = 128 + signum


class StorageError(HdhError):
    """Base of the errors backends raise. ``key`` names the object when there is one."""

    retryable = False

    def __init__(self, message: str, *, key: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.key = key


class NotFoundError(StorageError):
    pass


class PreconditionFailedError(StorageError):
    pass


class RetryableError(StorageError):
    retryable = True
    #: Set once a retry policy gave up on this error: an outer policy (a whole copy or
    #: check retried around retried operations) does not start over, so the attempts a
    #: plan allows are not multiplied.
    spent = False


class ThrottledError(RetryableError):
    pass


class ConnectionFailedError(RetryableError):
    """No connection could be opened to ``endpoint`` (refused, unreachable, connect timeout)
    although it answered before: retried, and counted by the endpoint's circuit breaker."""

    exit_code = 8

    def __init__(
        self, message: str, *, endpoint: str, key: str | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, key=key, hint=hint)
        self.endpoint = endpoint


class PermanentError(StorageError):
    pass

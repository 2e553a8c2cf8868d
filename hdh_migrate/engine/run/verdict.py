"""The error a ``run`` or ``verify`` ends with, from its per-dataset outcomes.

One rule, so the exit code says what happened to the worst object:

- ``verify``: an object that failed authentication (tampered ciphertext, a damaged header)
  → ``IntegrityAuthError`` (exit 7); a mismatch, including an earlier verification's left
  in the journal → ``VerificationError`` (exit 4); an object that could not be checked or
  was never copied → ``ObjectsFailedError`` (exit 5).
- ``run``: any object failed, unverifiable or left unverified → ``ObjectsFailedError``
  (exit 5): a run copies them again.
"""

from __future__ import annotations

from collections.abc import Sequence

from hdh_migrate.errors import (
    HdhError,
    IntegrityAuthError,
    ObjectsFailedError,
    VerificationError,
)
from hdh_migrate.reports.run_report import DatasetOutcome

HINTS = {
    "run": "see `hdh-migrate status`; run again to retry",
    "verify": "see `hdh-migrate status`; `hdh-migrate run` copies failed objects again",
    "unverifiable": "nothing was marked failed; run `hdh-migrate verify` again once the "
    "target answers",
}


def verdict(outcomes: Sequence[DatasetOutcome], verb: str) -> HdhError | None:
    """The error to end with (None: every selected object is verified or done)."""
    failed = _named(outcomes, "failed")
    pending = _named(outcomes, "unverifiable") + _named(outcomes, "not_verified")
    tampered = sum(o.tampered for o in outcomes)
    if verb == "verify" and tampered:
        return IntegrityAuthError(
            f"{tampered} object(s) failed authentication at the target: {_list(failed)}",
            hint="they were marked failed; `hdh-migrate run` copies them again",
        )
    if failed:
        error = VerificationError if verb == "verify" else ObjectsFailedError
        return error(f"{len(failed)} object(s) failed: {_list(failed)}", hint=HINTS[verb])
    if pending:
        return ObjectsFailedError(
            f"{len(pending)} object(s) not verified: {_list(pending)}",
            hint=HINTS["unverifiable" if _named(outcomes, "unverifiable") else verb],
        )
    return None


def _named(outcomes: Sequence[DatasetOutcome], field: str) -> list[tuple[str, str, str]]:
    return [(o.dataset, key, reason) for o in outcomes for key, reason in getattr(o, field)]


def _list(named: list[tuple[str, str, str]]) -> str:
    shown = "; ".join(f"{d}/{k}: {r}" for d, k, r in named[:3])
    return shown + (f" (and {len(named) - 3} more)" if len(named) > 3 else "")

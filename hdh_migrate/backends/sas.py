"""Shared access signatures: when they expire (``se=``), and refusing one already expired.

No SDK import. A SAS is a query string (``sv=…&se=2026-12-04T10:00:00Z&sig=…``), alone or
inside a connection string (``SharedAccessSignature=…``); only ``se`` is read, the rest
(the signature) is never kept nor shown.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs

from hdh_migrate.errors import AuthError


def sas_expiry(text: str) -> dt.datetime | None:
    """The expiry (UTC) of the SAS in ``text``, or None when it names none."""
    if "SharedAccessSignature=" in text:
        text = text.split("SharedAccessSignature=", 1)[1].split(";", 1)[0]
    values = parse_qs(text.split("?", 1)[-1]).get("se")
    if not values:
        return None
    raw = values[0].strip()
    try:
        moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def refuse_if_expired(
    expiry: dt.datetime | None, where: str, now: dt.datetime | None = None
) -> None:
    """AuthError (exit 7) naming when the SAS expired; nothing when it has not."""
    current = now or dt.datetime.now(dt.UTC)
    if expiry is not None and expiry <= current:
        raise AuthError(
            f"{where}: the SAS expired at {expiry:%Y-%m-%dT%H:%M:%SZ} "
            f"({span(current - expiry)} ago)",
            hint="issue a new SAS and put it where the plan's reference points; the run "
            "resumes where it stopped",
        )


def time_left(expiry: dt.datetime, now: dt.datetime | None = None) -> dt.timedelta:
    """How long the SAS is still valid (negative once expired)."""
    return expiry - (now or dt.datetime.now(dt.UTC))


def span(delta: dt.timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"

"""Before a dataset is copied: a source credential that will expire before the copy ends
is refused up front (exit 7, with the time left), rather than failing half-way.

Today this covers SAS tokens (their ``se=``); Entra ID tokens and refreshable AWS
credentials are renewed by their SDKs and have no window. The estimate is the bytes still
pending over the plan's bandwidth (``estimates.bandwidth``, else ``defaults.bandwidth``):
with no bandwidth in the plan there is no estimate, and only an expired SAS is refused.
"""

from __future__ import annotations

import datetime as dt

from hdh_migrate.backends.base import Backend
from hdh_migrate.backends.sas import refuse_if_expired, span, time_left
from hdh_migrate.errors import AuthError


def check_window(
    source: Backend,
    pending_bytes: int,
    bandwidth: int | None,
    dataset: str,
    now: dt.datetime | None = None,
) -> None:
    """Raise AuthError when ``source``'s credential expires before the estimated copy ends."""
    expires = source.capabilities().credential_expires
    if expires is None:
        return
    refuse_if_expired(expires, f"dataset {dataset!r}: source", now)
    if not bandwidth or pending_bytes <= 0:
        return
    needed = dt.timedelta(seconds=pending_bytes / bandwidth)
    left = time_left(expires, now)
    if needed > left:
        raise AuthError(
            f"dataset {dataset!r}: the source's SAS expires in {span(left)}, before the copy "
            f"ends (about {span(needed)} for {pending_bytes} bytes at {bandwidth} B/s)",
            hint="issue a SAS valid long enough (or use an Entra ID identity, whose tokens "
            "are renewed), then run again",
        )

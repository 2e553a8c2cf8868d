"""SAS expiry: read from ``se=``, an expired SAS refused, a wave that would outlast it
refused up front with the time left."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from hdh_migrate.backends.base import Capabilities
from hdh_migrate.backends.memory import MemoryBackend
from hdh_migrate.backends.sas import refuse_if_expired, sas_expiry
from hdh_migrate.engine.credential_window import check_window
from hdh_migrate.errors import AuthError

NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
SAS = (
    "sv=2024-08-04&ss=b&srt=co&sp=rl&se=2026-12-03T11:30:00Z&st=2026-12-03T08:00:00Z&sig=abc%2Bdef"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (SAS, dt.datetime(2026, 12, 3, 11, 30, tzinfo=dt.UTC)),
        ("?" + SAS, dt.datetime(2026, 12, 3, 11, 30, tzinfo=dt.UTC)),
        ("BlobEndpoint=https://a.blob.core.windows.net;SharedAccessSignature=" + SAS + ";",
         dt.datetime(2026, 12, 3, 11, 30, tzinfo=dt.UTC)),
        ("sv=2024&se=2026-12-05&sig=x", dt.datetime(2026, 12, 5, tzinfo=dt.UTC)),
        ("sv=2024&se=2026-12-03T11%3A30%3A00Z&sig=x",
         dt.datetime(2026, 12, 3, 11, 30, tzinfo=dt.UTC)),
        ("AccountName=a;AccountKey=k;BlobEndpoint=https://a", None),
        ("sv=2024&se=not-a-date&sig=x", None),
    ],
)  # fmt: skip
def test_the_expiry_is_read_from_se(text: str, expected: dt.datetime | None) -> None:
    assert sas_expiry(text) == expected


def test_an_expired_sas_is_refused_with_when() -> None:
    expiry = dt.datetime(2026, 12, 3, 7, 30, tzinfo=dt.UTC)
    with pytest.raises(AuthError) as caught:
        refuse_if_expired(expiry, "azure://acct", now=NOW)
    line = caught.value.one_line()
    assert "expired at 2026-12-03T07:30:00Z (1h30m ago)" in line and "abc" not in line
    refuse_if_expired(NOW + dt.timedelta(seconds=1), "azure://acct", now=NOW)


class Source(MemoryBackend):
    """A source declaring the SAS expiry its credential carries (as Azure's does)."""

    def capabilities(self) -> Capabilities:
        expires = dt.datetime(2026, 12, 3, 11, 30, tzinfo=dt.UTC)  # 2h30m after NOW
        return replace(super().capabilities(), credential_expires=expires)


def test_a_wave_that_outlasts_the_sas_is_refused_with_the_time_left() -> None:
    mib_per_s = 1 << 20
    with pytest.raises(AuthError) as caught:
        check_window(Source(), 3 * 3600 * mib_per_s, mib_per_s, "dcir", now=NOW)  # type: ignore[arg-type]
    line = caught.value.one_line()
    assert line.startswith("dataset 'dcir': the source's SAS expires in 2h30m")
    assert "about 3h00m" in line and caught.value.exit_code == 7
    check_window(Source(), 2 * 3600 * mib_per_s, mib_per_s, "dcir", now=NOW)  # type: ignore[arg-type]
    check_window(Source(), 10**15, None, "dcir", now=NOW)  # type: ignore[arg-type]  # no estimate
    check_window(MemoryBackend(), 10**15, 1, "dcir", now=NOW)  # no SAS

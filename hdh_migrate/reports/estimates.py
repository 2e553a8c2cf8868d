"""Duration and cost of moving what the diff says must move, per wave and in total."""

from __future__ import annotations

from dataclasses import dataclass

from hdh_migrate.reports.model import Estimate
from hdh_migrate.reports.tally import RequestTally

GIB = 1024**3


@dataclass(frozen=True)
class Pricing:
    """Prices from plan.estimates.prices (per GiB egress, per 1,000 requests)."""

    egress_per_gib: float
    put_per_1000: float
    get_per_1000: float
    currency: str


def estimate(
    scope: str,
    tally: RequestTally,
    bandwidth: int | None,
    bandwidth_source: str,
    pricing: Pricing | None,
) -> Estimate:
    """The estimate of ``tally``: seconds = bytes stored / bandwidth (None without one);
    egress = source bytes read; request cost = PUTs at the target + GETs at the source."""
    seconds = tally.stored_bytes / bandwidth if bandwidth else None
    egress = request = None
    if pricing is not None:
        egress = round(tally.bytes / GIB * pricing.egress_per_gib, 4)
        request = round(
            tally.puts / 1000 * pricing.put_per_1000 + tally.gets / 1000 * pricing.get_per_1000, 4
        )
    return Estimate(
        scope=scope,
        objects=tally.objects,
        bytes=tally.bytes,
        stored_bytes=tally.stored_bytes,
        seconds=round(seconds, 3) if seconds is not None else None,
        bandwidth=bandwidth,
        bandwidth_source=bandwidth_source,
        puts=tally.puts,
        gets=tally.total_gets,
        heads=tally.heads,
        lists=tally.lists,
        egress_cost=egress,
        request_cost=request,
        currency=pricing.currency if pricing else None,
    )

"""The first lines of ``run``, ``rehearse``, ``audit`` and ``probe``: where the plan connects.

Printed on stderr, so stdout stays a clean JSON document or event stream under ``--json``.
The values are rendered as data (no markup), in their validated form (engine.endpoints).
"""

from __future__ import annotations

from hdh_migrate.cli.render import stderr
from hdh_migrate.engine.endpoints import PlanEndpoint, plan_endpoints
from hdh_migrate.errors import PlanError, UsageError
from hdh_migrate.plan import Plan, load_plan


def show_endpoints(plan: str | Plan) -> list[PlanEndpoint]:
    """Print one ``endpoint …`` line per source, target and SSH hook; return them. A plan
    that does not load prints nothing here: the command reports it in its own way."""
    try:
        loaded = load_plan(plan) if isinstance(plan, str) else plan
    except (PlanError, UsageError):
        return []
    endpoints = plan_endpoints(loaded)
    for endpoint in endpoints:
        stderr.print(f"endpoint {endpoint.line()}", markup=False, highlight=False)
    return endpoints

"""Create (or, with --fresh, empty and re-create) a plan target's bucket: for rehearsals
on local servers. Production buckets are created by the provider's own tooling.

    python examples/target_bucket.py plans/rehearsal.yaml seaweedfs --fresh
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hdh_migrate.backends.registry import open_backend
from hdh_migrate.engine.specs import target_spec
from hdh_migrate.plan import load_plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("plan")
    parser.add_argument("target")
    parser.add_argument("--fresh", action="store_true", help="delete the bucket first")
    args = parser.parse_args(argv)
    plan = load_plan(args.plan)
    if not plan.policy.rehearsal:
        sys.exit("refusing: this helper only touches buckets of rehearsal plans")
    spec = target_spec(plan, args.target)
    backend: Any = open_backend(spec.kind, spec.config)
    if args.fresh:
        backend.delete_bucket(force=True)
    backend.ensure_bucket()
    print(f"bucket ready: {backend.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

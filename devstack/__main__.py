"""``python -m devstack up|down [--purge]|status|env``."""

from __future__ import annotations

import argparse
import os
import sys
import time

from devstack import procs
from devstack.config import stack_dir
from devstack.errors import DevstackError
from devstack.orchestrate import down, status, up


def _table(rows: list[tuple[str, str, str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return "\n".join(f"{a.ljust(widths[0])}  {b.ljust(widths[1])}  {c}" for a, b, c in rows)


def cmd_up() -> int:
    began = time.monotonic()
    stack, outcomes = up()
    rows = [("service", "endpoint", "credentials")]
    for o in outcomes:
        state = "reused" if o.reused else f"{o.seconds:.1f}s"
        rows.append((f"{o.service.name} ({state})", o.service.endpoint(), o.service.credentials()))
    print(_table(rows))
    print(f"stack ready in {time.monotonic() - began:.1f}s; env: source {stack.dir / 'env.sh'}")
    return 0


def cmd_status() -> int:
    if not (stack_dir() / "stack.json").exists():
        print(f"devstack: nothing set up in {stack_dir()}: run `python -m devstack up`")
        return 1
    worst = 0
    for svc, pid, reason in status():
        mem = f" rss={procs.rss_mib(pid):.0f}MiB" if pid else ""
        line = f"{svc.name:<18} {'healthy' if reason is None else 'DOWN: ' + reason}"
        print(f"{line} pid={pid or '-'}{mem}")
        worst = worst or (1 if reason else 0)
    return worst


def cmd_down(purge: bool) -> int:
    for name, pid, stopped in down(purge=purge):
        print(f"{name:<18} pid {pid} {'stopped' if stopped else 'not running (pid file removed)'}")
    if purge:
        print(f"purged {stack_dir()}")
    return 0


def cmd_dask(action: str) -> int:
    from devstack import dask_cluster

    if action == "down":
        for pid in dask_cluster.stop():
            print(f"dask pid {pid} stopped")
        return 0
    stack, _ = up()
    cluster = dask_cluster.ensure({**os.environ, **stack.env()})
    pids = " ".join(str(p) for p in cluster.worker_pids)
    print(f"dask scheduler {cluster.address} (pid {cluster.scheduler_pid}), workers {pids}")
    return 0


def cmd_env() -> int:
    path = stack_dir() / "env.sh"
    if not path.exists():
        print("devstack: no env.sh yet: run `python -m devstack up`", file=sys.stderr)
        return 1
    sys.stdout.write(path.read_text())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="install what is missing and start everything (idempotent)")
    sub.add_parser("status", help="health of each service")
    sub.add_parser("env", help="print env.sh (exports for shells)")
    stop = sub.add_parser("down", help="stop the processes `up` started")
    stop.add_argument("--purge", action="store_true", help="also delete data and credentials")
    dask = sub.add_parser("dask", help="a Dask scheduler + 2 workers on 127.0.0.1 (on demand)")
    dask.add_argument("action", choices=["up", "down"])
    args = parser.parse_args(argv)
    try:
        if args.command == "dask":
            return cmd_dask(args.action)
        if args.command == "up":
            return cmd_up()
        if args.command == "down":
            return cmd_down(args.purge)
        return cmd_status() if args.command == "status" else cmd_env()
    except DevstackError as exc:
        _report(exc)
        return 1


def _report(exc: DevstackError) -> None:
    """Last log lines of each failed service, then one line per failure."""
    for error in exc.all():
        if error.log is not None and procs.tail(error.log):
            print(f"--- last lines of {error.log} ---", file=sys.stderr)
            print(procs.tail(error.log), file=sys.stderr)
    for error in exc.all():
        print(f"devstack: {error}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

"""``python -m bench.profile SUITE``: where hdh-migrate's time goes, with py-spy.

Seeds a small version of a suite's dataset, runs ``hdh-migrate run`` under
``py-spy record --format raw`` (collapsed stacks, all threads; ``--idle`` to include
waiting), and prints the functions with the most samples (self and inclusive).
py-spy is a dev tool: ``pip install py-spy``.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import servers
from bench.measure import run_measured
from bench.suites import Options, opts_stack
from bench.tools import VENV_BIN, Tuning, stack_env, write_plan, write_rclone_conf
from devstack.corpus import KIB, MIB, Dataset, fixed, uniform

DATASETS = {
    "copy": lambda: fixed("copy", 8, 64 * MIB),
    "small": lambda: uniform("small", 2000, 4 * KIB, 64 * KIB),
}


def top(raw: Path, count: int) -> tuple[list[tuple[str, int]], list[tuple[str, int]], int]:
    """(self, inclusive) sample counts per frame from py-spy's collapsed-stack output."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        frames = [f for f in stack.split(";") if f]
        samples = int(n)
        total += samples
        if frames:
            own[frames[-1]] += samples
        for frame in set(frames[1:]):
            inclusive[frame] += samples
    return own.most_common(count), inclusive.most_common(count), total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("suite", choices=sorted(DATASETS))
    parser.add_argument("--verify", default="metadata")
    parser.add_argument("--idle", action="store_true", help="count waiting threads too")
    parser.add_argument("--noop", action="store_true", help="profile a no-op re-run")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    if shutil.which("py-spy", path=str(VENV_BIN)) is None:
        sys.exit("py-spy is not installed: pip install py-spy")
    work = Path(tempfile.mkdtemp(prefix="hdh-profile-"))
    stack = opts_stack(Options(work=work))
    data: Dataset = DATASETS[args.suite]()
    container, bucket = servers.fresh_name("prof"), servers.new_bucket(stack, "prof")
    servers.seed_container(stack, container, data, 16)
    plan = write_plan(stack, container, bucket, work, Tuning(), args.verify)
    hdh = str(VENV_BIN / "hdh-migrate")
    env = stack_env(stack)
    subprocess.run([hdh, "probe", str(plan)], capture_output=True, env=env, check=False)
    if args.noop:  # profile a second, no-op run
        subprocess.run([hdh, "run", str(plan)], capture_output=True, env=env, check=False)
    raw = work / "profile.txt"
    command = [str(VENV_BIN / "py-spy"), "record", "--format", "raw", "-o", str(raw), "-r", "200"]
    command += ["--idle"] if args.idle else []
    command += ["--", hdh, "run", str(plan)]
    measured = run_measured(command, work / "run.log", env)
    servers.drop_container(stack, container)
    servers.drop_bucket(stack, bucket, write_rclone_conf(stack, work, bucket))
    print(
        f"{data.count} objects, {data.bytes / MIB:.0f} MiB in {measured.seconds:.1f} s,"
        f" {measured.cpu_seconds:.1f} CPU-s"
    )
    own, inclusive, total = top(raw, args.top)
    for title, rows in (("self", own), ("inclusive", inclusive)):
        print(f"\n-- {title} (of {total} samples)")
        for frame, n in rows:
            print(f"{100 * n / total:5.1f}%  {frame}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The two tools under test, each run as a separate process on the same servers.

- hdh-migrate: a one-dataset plan (like tests/e2e's) from an Azurite container to a fresh
  SeaweedFS bucket, ``hdh-migrate run`` (quiet: not a TTY), then ``status --json`` to
  confirm every object ended ``verified``.
- rclone: ``rclone copy az:CONTAINER/data s3:BUCKET/data`` with a config written to a
  temporary file (azureblob on Azurite, s3 provider Other on SeaweedFS), ``--transfers``
  equal to our concurrency and the same multipart cutoff / chunk size / part concurrency.
  rclone does no client-side encryption here (``crypt=True`` adds a crypt remote).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure import Measured, run_measured
from devstack.plans import one_dataset_wave, plan_head

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Tuning:
    """Knobs both tools get the same values for."""

    concurrency: int = 8
    state_base: str = ""  # where hdh-migrate's state dir goes ("" = the run's work dir)
    part_size: int = 16 << 20
    threshold: int = 16 << 20
    part_concurrency: int = (
        2  # hdh: stages.buffers.parts_in_flight(16 MiB); rclone --s3-upload-concurrency
    )
    code: str = ""  # run hdh-migrate from this checkout (PYTHONPATH) instead of the install
    https: bool = False  # the target over HTTPS (the stack's CA), both tools
    executor: str = ""  # hdh-migrate: "" = the plan default (threads), "dask:N" = N processes
    buffer_memory: int = 0  # hdh-migrate's defaults.buffer_memory (0 = the plan default)


def stack_env(stack: Any, code: str = "") -> dict[str, str]:
    """The stack's variables; ``code`` (a checkout of another commit) goes first on
    PYTHONPATH, so hdh-migrate runs that code (before/after rows from one install)."""
    env = {**os.environ, **stack.env()}
    if code:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (code, env.get("PYTHONPATH")) if p)
    return env


def run_hdh(
    stack: Any,
    container: str,
    bucket: str,
    work: Path,
    tuning: Tuning,
    verify: str,
    *,
    probe: bool = True,
    rerun: bool = False,
) -> tuple[Measured, dict[str, Any], Measured | None]:
    """``hdh-migrate run`` of a generated plan (after an untimed ``probe``, as an operator
    does: unprobed, ``verify: metadata`` is upgraded to ``full``); returns the measurement,
    the status, and with ``rerun`` the measurement of a second, no-op ``run``."""
    plan = write_plan(stack, container, bucket, work, tuning, verify)
    env = stack_env(stack, tuning.code)
    hdh = str(VENV_BIN / "hdh-migrate")
    if probe:
        subprocess.run([hdh, "probe", str(plan)], capture_output=True, env=env, check=False)
    measured = run_measured([hdh, "run", str(plan)], work / "run.log", env)
    status = subprocess.run(
        [hdh, "status", str(plan), "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    again = run_measured([hdh, "run", str(plan)], work / "rerun.log", env) if rerun else None
    return measured, json.loads(status.stdout) if status.returncode == 0 else {}, again


def write_plan(
    stack: Any, container: str, bucket: str, work: Path, tuning: Tuning, verify: str
) -> Path:
    """A one-dataset plan Azurite ``container`` → SeaweedFS ``bucket``, state under ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    plan = work / "plan.yaml"
    head = plan_head(
        name=f"bench-{bucket}",
        container=container,
        bucket=bucket,
        s3_endpoint=stack.s3_https_endpoint if tuning.https else stack.s3_endpoint,
        key=work / "kek.key",
        state=Path(tuning.state_base or work) / f"state-{bucket}",
        defaults=f"verify: {verify}, concurrency: {tuning.concurrency}, part_size: "
        f"{tuning.part_size}, multipart_threshold: {tuning.threshold}"
        + (f", buffer_memory: {tuning.buffer_memory}" if tuning.buffer_memory else ""),
    )
    if tuning.https:  # the target only: the seeded Azurite is the plain-http one
        line = f"    bucket: {bucket}\n"
        head = head.replace(line, f'{line}    ca_bundle: "{stack.ca_bundle}"\n', 1)
    if tuning.executor.startswith("dask"):
        workers = tuning.executor.partition(":")[2] or "2"
        head += f"executor: {{kind: dask, workers: {int(workers)}}}\n"
    plan.write_text(head + one_dataset_wave(target_prefix="data/"))
    return plan


def verified_count(status: dict[str, Any]) -> int:
    items = status.get("waves", {}).get("w1", {}).get("ds", {}).get("items", {})
    return int(items.get("verified", {}).get("objects", 0))


RCLONE_CONF = """\
[az]
type = azureblob
account = {account}
key = {key}
endpoint = {azure}

[s3]
type = s3
provider = Other
access_key_id = {access}
secret_access_key = {secret}
endpoint = {s3}
region = us-east-1
force_path_style = true

[s3crypt]
type = crypt
remote = s3:{bucket}/data
password = {password}
filename_encryption = off
directory_name_encryption = false
"""


def run_rclone(
    stack: Any,
    container: str,
    bucket: str,
    work: Path,
    tuning: Tuning,
    crypt: bool = False,
    *,
    rerun: bool = False,
) -> tuple[Measured, Measured | None]:
    """``rclone copy`` Azure → S3 (or → a crypt remote over S3) with the same tuning; with
    ``rerun``, a second ``rclone copy --checksum`` that finds nothing to do."""
    command = rclone_command(stack, container, bucket, work, tuning, crypt)
    env = stack_env(stack)
    measured = run_measured(command, work / "rclone.log", env)
    again = None
    if rerun:
        again = run_measured([*command, "--checksum"], work / "rclone-rerun.log", env)
    return measured, again


def rclone_command(
    stack: Any, container: str, bucket: str, work: Path, tuning: Tuning, crypt: bool
) -> list[str]:
    conf = write_rclone_conf(stack, work, bucket, https=tuning.https)
    target = "s3crypt:" if crypt else f"s3:{bucket}/data"
    tls = ["--ca-cert", str(stack.ca_bundle)] if tuning.https else []
    return [
        str(VENV_BIN / "rclone"),
        "--config",
        str(conf),
        *tls,
        "copy",
        f"az:{container}/data",
        target,
        f"--transfers={tuning.concurrency}",
        f"--checkers={tuning.concurrency}",
        f"--s3-upload-cutoff={tuning.threshold // 1024}K",  # a bare number means KiB
        f"--s3-chunk-size={tuning.part_size // 1024}K",
        f"--s3-upload-concurrency={tuning.part_concurrency}",
        "--s3-no-check-bucket",
        # rclone carries the Azure tier ("Hot") over as the S3 storage class of single PUTs,
        # which SeaweedFS rejects (400 InvalidStorageClass): name the class explicitly.
        "--s3-storage-class=STANDARD",
        "--stats=0",
        "--log-level=NOTICE",
    ]


def write_rclone_conf(stack: Any, work: Path, bucket: str, *, https: bool = False) -> Path:
    """An rclone config for the stack in ``work`` (mode 0600; it holds the keys)."""
    work.mkdir(parents=True, exist_ok=True)
    conf = work / "rclone.conf"
    conf.write_text(_rclone_conf(stack, bucket, https))
    conf.chmod(0o600)
    return conf


def _rclone_conf(stack: Any, bucket: str, https: bool = False) -> str:
    password = subprocess.run(
        [str(VENV_BIN / "rclone"), "obscure", "bench-crypt-password"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return RCLONE_CONF.format(
        account=stack.azurite_account_name,
        key=stack.azurite_account_key,
        azure=stack.azurite_account_url,
        access=stack.s3_access_key,
        secret=stack.s3_secret_key,
        s3=stack.s3_https_endpoint if https else stack.s3_endpoint,
        bucket=bucket,
        password=password,
    )

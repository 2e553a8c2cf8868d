"""The CI packs (examples/ci/) and this project's MinIO workflow: every file parsed, the
environment contract they rely on checked across files, then exercised for real — the
rehearse command line the GitHub pack runs, with only the variables the packs set, against
SeaweedFS playing the external S3 server (MinIO cannot run here) and Azurite."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from hdh_migrate.backends.registry import open_backend
from tests.integration.junit_cases import LIFECYCLE, step_statuses

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "examples" / "ci"
GITHUB_FILES = [PACK / "github-actions.yml", ROOT / ".github" / "workflows" / "rehearse-minio.yml"]
CONTRACT = (
    "HDH_S3_ENDPOINT",
    "HDH_S3_ACCESS_KEY",
    "HDH_S3_SECRET_KEY",
    "AZURE_STORAGE_CONNECTION_STRING",
)
S3_PORT, AZURITE_PORT = 9000, 10000


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def blob_endpoint(connection: str) -> str:
    return dict(p.split("=", 1) for p in connection.split(";") if "=" in p)["BlobEndpoint"]


def rehearse_line(text: str) -> list[str]:
    """The `hdh-migrate rehearse …` command of a script, as argv."""
    line = next(line for line in text.splitlines() if "hdh-migrate rehearse" in line)
    return shlex.split(line[line.index("hdh-migrate") :])


def github_rehearse(path: Path) -> tuple[dict[str, str], list[dict[str, Any]], list[str]]:
    job = load(path)["jobs"]["rehearse"]
    steps = job["steps"]
    run = next(s["run"] for s in steps if "hdh-migrate rehearse" in str(s.get("run", "")))
    return job["env"], steps, rehearse_line(" ".join(run.split()))


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_the_compose_file_publishes_the_contract_ports_with_the_contract_keys() -> None:
    services = load(PACK / "compose.yaml")["services"]
    minio, azurite = services["minio"], services["azurite"]
    assert minio["ports"] == [f"127.0.0.1:{S3_PORT}:9000"]
    assert azurite["ports"] == [f"127.0.0.1:{AZURITE_PORT}:10000"]
    assert minio["environment"]["MINIO_ROOT_USER"].startswith("${HDH_S3_ACCESS_KEY")
    assert minio["environment"]["MINIO_ROOT_PASSWORD"].startswith("${HDH_S3_SECRET_KEY")


@pytest.mark.parametrize("path", GITHUB_FILES, ids=lambda p: p.name)
def test_github_jobs_call_the_contract(path: Path) -> None:
    env, steps, argv = github_rehearse(path)
    assert urlsplit(env["HDH_S3_ENDPOINT"]).port == S3_PORT
    assert urlsplit(env["HDH_S3_ENDPOINT"]).hostname == "127.0.0.1"
    assert urlsplit(blob_endpoint(env["AZURE_STORAGE_CONNECTION_STRING"])).port == AZURITE_PORT
    scripts = "\n".join(str(s.get("run", "")) for s in steps)
    for name in ("HDH_S3_ACCESS_KEY", "HDH_S3_SECRET_KEY"):
        assert f'echo "{name}=$' in scripts and '>> "$GITHUB_ENV"' in scripts
    assert "docker compose -f examples/ci/compose.yaml up -d --wait" in scripts
    assert argv[:3] == ["hdh-migrate", "rehearse", "$PLAN"]
    assert option(argv, "--target-provider") == "minio"
    junit, summary = option(argv, "--junit"), option(argv, "--summary")
    report = next(s for s in steps if "action-junit-report" in str(s.get("uses", "")))
    assert report["with"]["report_paths"] == junit
    assert f'cat {summary} >> "$GITHUB_STEP_SUMMARY"' in scripts
    assert "make rehearse" not in scripts  # the pack needs nothing from this repository


def test_the_gitlab_job_calls_the_contract() -> None:
    job = load(PACK / "gitlab-ci.yml")["rehearse"]
    variables = job["variables"]
    assert set(CONTRACT) <= set(variables)
    assert urlsplit(variables["HDH_S3_ENDPOINT"]).port == S3_PORT
    blob = blob_endpoint(variables["AZURE_STORAGE_CONNECTION_STRING"])
    assert urlsplit(blob).port == AZURITE_PORT
    assert variables["MINIO_ROOT_USER"] == "$HDH_S3_ACCESS_KEY"
    assert variables["MINIO_ROOT_PASSWORD"] == "$HDH_S3_SECRET_KEY"
    aliases = {s["alias"]: s for s in job["services"]}
    assert "minio" in aliases["minio"]["name"] and "azurite" in aliases["azurite"]["name"]
    setup = "\n".join(job["before_script"])
    assert f"TCP-LISTEN:{S3_PORT},bind=127.0.0.1" in setup and f"TCP:minio:{S3_PORT}" in setup
    assert f"TCP-LISTEN:{AZURITE_PORT},bind=127.0.0.1" in setup and "TCP:azurite:" in setup
    argv = rehearse_line("\n".join(job["script"]))
    assert argv[:3] == ["hdh-migrate", "rehearse", "$PLAN"]
    assert option(argv, "--target-provider") == "minio"
    assert job["artifacts"]["reports"]["junit"] == option(argv, "--junit")
    assert option(argv, "--summary").startswith(job["artifacts"]["paths"][0])


@pytest.mark.stack
def test_the_packs_command_works_with_only_the_contract_variables(
    stack: Any, tmp_path: Path
) -> None:
    """SeaweedFS plays the external S3 (MinIO in CI): its endpoint and keys are given only
    through the contract's variables, its buckets do not exist yet (rehearse creates them)."""
    _, _, argv = github_rehearse(PACK / "github-actions.yml")
    plan = ROOT / "examples" / "ovh-snc.yaml"
    for bucket in ("hdh-snds", "hdh-snds-dr"):
        open_backend("s3", s3_config(stack, bucket)).delete_bucket(force=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "HDH_S3_ENDPOINT": stack.s3_endpoint,
        "HDH_S3_ACCESS_KEY": stack.s3_access_key,
        "HDH_S3_SECRET_KEY": stack.s3_secret_key,
        "AZURE_STORAGE_CONNECTION_STRING": stack.azurite_connection_string,
    }
    command = [
        sys.executable,
        "-m",
        "hdh_migrate",
        *[a.replace("$PLAN", str(plan)) for a in argv[1:]],
    ]
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert step_statuses(tmp_path / option(argv, "--junit")) == {
        **dict.fromkeys(LIFECYCLE, "passed"),
        "cutover wave-1-referentiels": "passed",
        "rollback wave-1-referentiels": "passed",
        "cutover wave-2-dcir-pmsi": "skipped",  # depends on wave 1, finalized only with --finalize
        "evidence-export": "passed",
        "evidence-verify": "passed",
    }
    summary = (tmp_path / option(argv, "--summary")).read_text()
    assert "integrity only (no HSM)" in summary  # no HDH_HSM_* in the contract: a file key
    assert "sandboxed, recorded locally" in summary and "not run: /opt/hdh/bin/" in summary
    shown = rf"endpoint target ovh-snc-rbx \(s3/minio\): {stack.s3_endpoint} hdh-snds"
    assert re.search(shown, done.stderr)
    derived = next(tmp_path.glob(".hdh-migrate/rehearse/*/rehearsal.yaml")).read_text()
    for production in ("snc.ovh.net", "windows.net", "bastion.hdh.internal", "/etc/hdh"):
        assert production not in derived and production not in done.stdout + done.stderr
    for bucket in ("hdh-snds", "hdh-snds-dr"):
        open_backend("s3", s3_config(stack, bucket)).head_bucket()


def s3_config(stack: Any, bucket: str) -> dict[str, Any]:
    return {
        "endpoint_url": stack.s3_endpoint,
        "bucket": bucket,
        "region": "us-east-1",
        "access_key": stack.s3_access_key,
        "secret_key": stack.s3_secret_key,
    }

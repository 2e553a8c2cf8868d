"""The capability probe against real servers: SeaweedFS (validating), rclone serve s3
(stores whatever it is told), a closed port, refused credentials; and the CLI command."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.backends.probe import PROBE_PREFIX, load_probe, probe_s3
from hdh_migrate.backends.s3 import S3Backend
from hdh_migrate.cli.main import run
from hdh_migrate.errors import AuthError, UnreachableError

pytestmark = pytest.mark.stack
REHEARSAL = Path(__file__).resolve().parents[3] / "plans" / "rehearsal.yaml"


def config(stack: Any, endpoint: str, bucket: str, **extra: Any) -> dict[str, Any]:
    return {
        "endpoint_url": endpoint,
        "bucket": bucket,
        "access_key": stack.s3_access_key,
        "secret_key": stack.s3_secret_key,
    } | extra


@pytest.fixture
def bucket(stack: Any, request: pytest.FixtureRequest) -> Any:
    """A fresh bucket on the endpoint named by the test's ``endpoint`` param."""
    endpoint = getattr(stack, request.param)
    backend = S3Backend.from_config(config(stack, endpoint, f"hdh-probe-t-{uuid.uuid4().hex[:12]}"))
    backend.ensure_bucket()
    yield backend
    backend.delete_bucket(force=True)


def probe(stack: Any, backend: S3Backend) -> Any:
    cfg = config(stack, backend.settings.endpoint_url or "", backend.bucket)
    result = probe_s3(cfg, target="t")
    assert list(backend.list(PROBE_PREFIX)) == []  # the canary prefix is gone
    assert list(backend.list_multipart_uploads(PROBE_PREFIX)) == []
    return result


@pytest.mark.parametrize("bucket", ["s3_endpoint"], indirect=True)
def test_seaweedfs_validates_and_enforces(stack: Any, bucket: S3Backend) -> None:
    result = probe(stack, bucket)
    assert result.checksums == {"sha256": "validated", "crc32c": "validated", "md5": "validated"}
    assert result.sse_c == "enforced"
    assert (result.conditional_write, result.conditional_read) == ("enforced", "enforced")
    assert result.multipart == "ok" and result.min_part_size_enforced is True
    assert (result.versioning_server, result.object_lock_server) == ("supported", "supported")
    assert result.versioning in ("off", "enabled", "suspended") and result.trustworthy
    rules = result.key_rules  # file names of at most 255 bytes, a//b and x/ folded
    assert (rules["max_segment_bytes"], rules["empty_segments"], rules["trailing_slash"]) == (
        255,
        "folds",
        "folds",
    )


@pytest.mark.parametrize("bucket", ["rclone_s3_endpoint"], indirect=True)
def test_rclone_serve_s3_is_not_validating(stack: Any, bucket: S3Backend) -> None:
    result = probe(stack, bucket)
    assert result.checksums["sha256"] == "not-validated"
    assert result.checksums["crc32c"] == "not-validated"
    assert result.sse_c == "ignored"
    assert result.conditional_write == "ignored"
    assert not result.trustworthy
    assert result.versioning_server == "unsupported"
    rules = result.key_rules  # a local directory: 255-byte names, a//b refused, x/ is x
    assert (rules["max_segment_bytes"], rules["empty_segments"], rules["trailing_slash"]) == (
        255,
        "folds",
        "folds",
    )


def test_closed_port_is_unreachable_in_one_line(stack: Any) -> None:
    with pytest.raises(UnreachableError) as info:
        probe_s3(config(stack, "http://127.0.0.1:9", "nobody-home"), target="t")
    assert info.value.exit_code == 8 and "\n" not in info.value.one_line()


def test_wrong_credentials_are_an_auth_error(stack: Any) -> None:
    cfg = config(stack, stack.s3_endpoint, "hdh-probe-auth") | {"secret_key": "wrong-secret"}
    with pytest.raises(AuthError) as info:
        probe_s3(cfg, target="t")
    assert info.value.exit_code == 7 and "wrong-secret" not in info.value.one_line()


def plan_file(tmp_path: Path, endpoint: str, bucket: str) -> Path:
    text = REHEARSAL.read_text()
    text = text.replace("bucket: hdh-rehearsal", f"bucket: {bucket}")
    text = text.replace("endpoint: ${env:HDH_S3_ENDPOINT}", f"endpoint: {endpoint}")
    assert f"endpoint: {endpoint}" in text
    text = text.replace("name: hdh-rehearsal", f"name: hdh-rehearsal\nstate_dir: {tmp_path}/state")
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("bucket", ["s3_endpoint"], indirect=True)
def test_cli_probe_prints_json_and_caches(
    stack: Any, bucket: S3Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = plan_file(tmp_path, stack.s3_endpoint, bucket.bucket)
    assert run(["probe", str(plan), "--target", "seaweedfs", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)["targets"][0]
    assert printed["checksums"]["sha256"] == "validated" and printed["bucket"] == bucket.bucket
    cached = load_probe(tmp_path / "state", "seaweedfs")
    assert cached is not None and cached.sse_c == "enforced"
    assert run(["probe", str(plan)]) == 0
    assert "validated" in capsys.readouterr().out


def test_cli_probe_of_a_stopped_server_exits_8(
    stack: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = plan_file(tmp_path, "http://127.0.0.1:9", "nobody-home")
    assert run(["probe", str(plan)]) == 8
    lines = capsys.readouterr().err.strip().splitlines()  # the endpoints, then one error line
    assert [line for line in lines if not line.startswith("endpoint ")] == [lines[-1]]
    assert "does not answer" in lines[-1] and "http://127.0.0.1:9 " in lines[-1]


def test_cli_probe_unknown_target_is_a_usage_error(
    stack: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = plan_file(tmp_path, stack.s3_endpoint, "x-bucket")
    assert run(["probe", str(plan), "--target", "nope"]) == 2


def test_cli_probe_of_a_missing_bucket_is_a_configuration_error(
    stack: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = f"hdh-absent-{uuid.uuid4().hex[:12]}"
    plan = plan_file(tmp_path, stack.s3_endpoint, missing)
    assert run(["probe", str(plan), "--target", "seaweedfs"]) == 2
    err = capsys.readouterr().err.strip()
    lines = [x for x in err.splitlines() if not x.startswith("endpoint ")]  # printed first
    assert len(lines) == 1 and missing in err and "does not exist" in err
    assert "targets.seaweedfs.bucket" in err and "report it" not in err

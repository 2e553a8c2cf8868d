"""`make rehearse` with HDH_DEVSTACK_PORT_OFFSET on a second, freshly purged devstack: it
exits 0, and the stack on the usual ports (the test suite's) is left untouched — the plan's
endpoints and ports follow the offset (issue 10 acceptance)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.backends.registry import open_backend
from hdh_migrate.errors import NotFoundError, PermanentError

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[2]
BUCKET, CONTAINER = "hdh-rehearsal", "rehearsal"  # what plans/rehearsal.yaml writes to


def snapshot(stack: Any) -> tuple[Any, Any]:
    """The suite stack's copy of what a mis-pointed rehearsal would touch."""
    target: Any = open_backend(
        "s3",
        {
            "endpoint_url": stack.s3_endpoint,
            "bucket": BUCKET,
            "region": "us-east-1",
            "access_key": stack.s3_access_key,
            "secret_key": stack.s3_secret_key,
        },
    )
    source: Any = open_backend(
        "azure_blob", {"container": CONTAINER, "connection_string": stack.azurite_connection_string}
    )
    return _listing(target), _listing(source)


def _listing(backend: Any) -> Any:
    try:
        return sorted((i.key, i.size, i.etag) for i in backend.list(""))
    except (NotFoundError, PermanentError):  # no such bucket / container
        return "absent"


def test_make_rehearse_on_an_offset_stack_leaves_the_other_stack_untouched(
    stack: Any, tmp_path: Path
) -> None:
    before = snapshot(stack)
    offset = int(os.environ.get("HDH_DEVSTACK_PORT_OFFSET") or 0) + 37
    # Not under tmp_path (0700): the stack's sshd user must reach its authorized_keys.
    second = Path(tempfile.mkdtemp(prefix="hdh-devstack-offset-", dir="/tmp"))
    second.chmod(0o755)
    env = os.environ | {
        "HDH_DEVSTACK_DIR": str(second),
        "HDH_DEVSTACK_PORT_OFFSET": str(offset),
    }
    for name in ("HDH_S3_ENDPOINT", "AZURE_STORAGE_CONNECTION_STRING", "HDH_SFTP_PORT"):
        env.pop(name, None)  # only what `make rehearse` itself sets up may be used
    python = str(ROOT / ".venv" / "bin" / "python")
    try:
        done = subprocess.run(
            ["make", "rehearse", f"REHEARSAL_OUT={tmp_path / 'out'}"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert f"127.0.0.1:{8333 + offset} hdh-rehearsal" in done.stderr
        assert (tmp_path / "out" / "junit.xml").exists()
    finally:
        subprocess.run(
            [python, "-m", "devstack", "down", "--purge"],
            env=env,
            check=False,
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(second, ignore_errors=True)
    assert snapshot(stack) == before

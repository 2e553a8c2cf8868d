"""``hdh-migrate whoami``: the identity of each endpoint and a dry run of its permissions,
against the local stack — with a read-only S3 identity (SeaweedFS per-identity actions)
exactly the missing permission is reported."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

pytestmark = pytest.mark.stack

KEYS = ("${env:HDH_S3_ACCESS_KEY}", "${env:HDH_S3_SECRET_KEY}")
READ_ONLY = ("${env:HDH_S3_READONLY_ACCESS_KEY}", "${env:HDH_S3_READONLY_SECRET_KEY}")


def checks(stdout: str) -> dict[str, dict[str, str]]:
    endpoints = json.loads(stdout)["endpoints"]
    return {
        f"{e['role']} {e['name']}": {c["action"]: c["outcome"] for c in e["checks"]}
        for e in endpoints
    }


def test_whoami_reports_identities_and_exactly_the_missing_permission(
    world: Any, stack: Any
) -> None:
    world.put("data/a.csv", os.urandom(100))
    full = world.cli("whoami", str(world.plan), "--json")
    assert full.returncode == 0, full.stderr
    assert checks(full.stdout) == {
        "source azurite": {"list": "ok", "read": "ok"},
        "target seaweedfs": {"list": "ok", "write": "ok"},
    }
    identities = {e["name"]: e["identity"] for e in json.loads(full.stdout)["endpoints"]}
    assert identities["seaweedfs"].startswith(
        f"static access keys (key {stack.s3_access_key[:4]}…) at http://127.0.0.1:"
    )
    assert stack.s3_secret_key not in full.stdout and stack.s3_access_key not in full.stdout
    assert "account key" in identities["azurite"]

    text = world.plan.read_text()
    for key, read_only in zip(KEYS, READ_ONLY, strict=True):
        text = text.replace(key, read_only)
    world.plan.write_text(text)
    limited = world.cli("whoami", str(world.plan), "--json")
    assert limited.returncode == 7, limited.stderr
    assert checks(limited.stdout)["target seaweedfs"] == {"list": "ok", "write": "refused"}
    assert checks(limited.stdout)["source azurite"] == {"list": "ok", "read": "ok"}
    errors = [line for line in limited.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "1 permission(s) missing: target seaweedfs: write" in errors[0]
    assert [info.key for info in world.target.list("")] == []  # the probe object is gone

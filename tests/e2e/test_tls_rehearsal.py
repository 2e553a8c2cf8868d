"""A rehearsal over HTTPS: Azurite and SeaweedFS behind the stack's private CA, named by
``ca_bundle:`` in the plan. SOV-07 passes; a wrong CA on either side stops the run with one
line and exit 7 (the plan setting is what the backends verify with)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from stack_world import make_world

from devstack import tls

pytestmark = pytest.mark.stack


@pytest.fixture
def tls_world(stack: Any, tmp_path: Path, unique_name: str) -> Any:
    made = make_world(stack, tmp_path, unique_name, tls=True)
    yield made
    made.source.delete_container()
    made.target.delete_bucket(force=True)


def seed(world: Any) -> None:
    for name, size in {"a.csv": 1000, "empty": 0, "é/x y%+#.bin": 4097, "big.bin": 7 << 20}.items():
        world.put(f"data/{name}", os.urandom(size))


def test_a_rehearsal_over_https_passes_sov07_and_moves_everything(
    tls_world: Any, stack: Any
) -> None:
    plan = tls_world.plan.read_text()
    assert plan.count("ca_bundle:") == 2 and "https://" in plan and "http://" not in plan
    seed(tls_world)
    audit = tls_world.cli("audit", str(tls_world.plan), "--format", "json")
    assert audit.returncode == 0, audit.stderr
    assert _sov07_findings(audit.stdout) == 0
    plain = tls_world.plan.with_name("plain.yaml")  # control: the same plan over http
    plain.write_text(_plain_http(tls_world.plan.read_text(), stack))
    control = tls_world.cli("audit", str(plain), "--format", "json", "--no-inventory")
    assert control.returncode == 0, control.stderr
    assert _sov07_findings(control.stdout) >= 1  # http:// to the target (and the source)
    run = tls_world.cli("run", str(tls_world.plan))
    assert run.returncode == 0, run.stderr
    assert len(list(tls_world.target.list("enc/"))) >= 4
    verify = tls_world.cli("verify", str(tls_world.plan), "--mode", "full")
    assert verify.returncode == 0, verify.stderr
    _use_ca(tls_world, _wrong_ca(tls_world.plan.parent), "target")
    refused = tls_world.cli("verify", str(tls_world.plan), "--mode", "full")
    assert refused.returncode == 7, refused.stderr  # not 4: nothing was found to differ
    assert "TLS certificate is not trusted" in refused.stderr


@pytest.mark.parametrize("side", ["source", "target"])
def test_a_wrong_ca_in_the_plan_stops_the_run_with_exit_7(
    tls_world: Any, tmp_path: Path, side: str
) -> None:
    seed(tls_world)
    _use_ca(tls_world, _wrong_ca(tmp_path), side)
    run = tls_world.cli("run", str(tls_world.plan))
    assert run.returncode == 7, (run.stdout, run.stderr)
    errors = [x for x in run.stderr.splitlines() if x.strip() and not x.startswith("endpoint ")]
    assert len(errors) == 1, run.stderr
    assert "TLS certificate is not trusted" in errors[0]
    assert ("azure://" if side == "source" else "s3://") in errors[0]
    assert "Traceback" not in run.stderr
    assert list(tls_world.target.list("enc/")) == []


def _wrong_ca(where: Path) -> Path:
    path = where / "wrong-ca.pem"
    tls.write_authority(tls.new_authority("not the stack CA"), path, where / "wrong-ca.key")
    return path


def _use_ca(world: Any, bundle: Path, side: str) -> None:
    """Point the plan's source (first) or target (second) ca_bundle at ``bundle``."""
    lines = world.plan.read_text().splitlines()
    index = [i for i, line in enumerate(lines) if "ca_bundle:" in line][side == "target"]
    lines[index] = lines[index].split("ca_bundle:")[0] + f'ca_bundle: "{bundle}"'
    world.plan.write_text("\n".join(lines) + "\n")


def _sov07_findings(audit_json: str) -> int:
    report = json.loads(audit_json)
    return int(next(rule["findings"] for rule in report["rules"] if rule["id"] == "SOV-07"))


def _plain_http(plan: str, stack: Any) -> str:
    lines = [line for line in plan.splitlines() if "ca_bundle:" not in line]
    text = "\n".join(lines) + "\n"
    text = text.replace("HDH_AZURITE_HTTPS_CONNECTION_STRING", "AZURE_STORAGE_CONNECTION_STRING")
    return text.replace(stack.s3_https_endpoint, stack.s3_endpoint)

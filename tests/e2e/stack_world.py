"""Helpers for a small migration on the real local stack: an Azurite container, a SeaweedFS bucket,
a key file and a state directory of its own, and a plan that ties them together."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hdh_migrate.backends.registry import open_backend

PLAN = """\
version: 1
name: {name}
policy: {{profile: rehearsal, rehearsal: true, allowed_regions: [local]}}
sources:
  azurite:
    kind: azure_blob
    connection_string: ${{env:AZURE_STORAGE_CONNECTION_STRING}}
    container: {name}
targets:
  seaweedfs:
    kind: s3
    provider: seaweedfs
    region: local
    endpoint: {s3}
    bucket: {name}
    credentials:
      access_key: ${{env:HDH_S3_ACCESS_KEY}}
      secret_key: ${{env:HDH_S3_SECRET_KEY}}
keys:
  kek: {{kind: file, path: "{key}", create: true}}
defaults: {{key: kek, verify: {verify}, concurrency: {concurrency}, part_size: 5MiB,
           multipart_threshold: 6MiB}}
state_dir: "{state}"
waves:
  - name: w1
    datasets:
      - name: ds
        source: azurite
        prefix: data/
        target: seaweedfs
        target_prefix: enc/
"""


@dataclass
class World:
    """Handles on one migration's source, target and files."""

    name: str
    plan: Path
    state: Path
    source: Any
    target: Any

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run the real console script (a separate process, as an operator would)."""
        command = [sys.executable, "-m", "hdh_migrate", *args]
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=os.environ.copy(),
            check=False,
        )

    def put(self, key: str, data: bytes) -> None:
        import io

        self.source.write(key, io.BytesIO(data), len(data))

    def target_etags(self) -> dict[str, str | None]:
        return {info.key: info.etag for info in self.target.list("enc/")}


def make_world(
    stack: Any,
    tmp_path: Path,
    name: str,
    verify: str = "full",
    concurrency: int = 4,
    s3_endpoint: str | None = None,
) -> World:
    state = tmp_path / "state"
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        PLAN.format(
            name=name,
            s3=s3_endpoint or stack.s3_endpoint,
            key=tmp_path / "kek.key",
            state=state,
            verify=verify,
            concurrency=concurrency,
        )
    )
    source = open_backend(
        "azure_blob", {"container": name, "connection_string": stack.azurite_connection_string}
    )
    source.ensure_container()  # type: ignore[attr-defined]
    target = open_backend(
        "s3",
        {
            "endpoint_url": s3_endpoint or stack.s3_endpoint,
            "region": "us-east-1",
            "bucket": name,
            "access_key": stack.s3_access_key,
            "secret_key": stack.s3_secret_key,
        },
    )
    target.ensure_bucket()  # type: ignore[attr-defined]
    return World(name, plan, state, source, target)

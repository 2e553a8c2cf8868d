"""Helpers for a small migration on the real local stack: an Azurite container, a SeaweedFS bucket,
a key file and a state directory of its own, and a plan that ties them together."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.plans import one_dataset_wave, plan_head
from hdh_migrate.backends.registry import open_backend


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
    tls: bool = False,
) -> World:
    """A fresh container → bucket migration; ``tls``: both over HTTPS, verified with the
    stack's CA (``ca_bundle:`` in the plan)."""
    if tls:
        s3_endpoint = s3_endpoint or stack.s3_https_endpoint
    tls_config = {"ca_bundle": str(stack.ca_bundle)} if tls else {}
    azure = stack.azurite_https_connection_string if tls else stack.azurite_connection_string
    state = tmp_path / "state"
    plan = tmp_path / "plan.yaml"
    head = plan_head(
        name=name,
        s3_endpoint=s3_endpoint or stack.s3_endpoint,
        key=tmp_path / "kek.key",
        state=state,
        defaults=f"verify: {verify}, concurrency: {concurrency}, part_size: 5MiB,"
        " multipart_threshold: 6MiB",
        ca_bundle=stack.ca_bundle if tls else None,
    )
    plan.write_text(head + one_dataset_wave())
    source = open_backend(
        "azure_blob", {"container": name, "connection_string": azure, **tls_config}
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
            **tls_config,
        },
    )
    target.ensure_bucket()  # type: ignore[attr-defined]
    return World(name, plan, state, source, target)

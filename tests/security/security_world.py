"""Helpers for the security suite (see conftest.py)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hdh_migrate.backends.registry import open_backend

PLAN = """\
version: 1
name: {name}
policy: {{profile: rehearsal, rehearsal: true, allowed_regions: [local]}}
sources:
  disk: {{kind: local, path: "{src}"}}
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
defaults: {{key: kek, verify: full, concurrency: 2}}
state_dir: "{state}"
waves:
  - name: w1
    datasets:
      - {{name: ds, source: disk, prefix: "", target: seaweedfs, target_prefix: enc/}}
"""


@dataclass
class SecretLedger:
    """What the tool wrote during the suite: captured streams and directories to scan."""

    streams: list[str] = field(default_factory=list)
    roots: list[Path] = field(default_factory=list)
    key_files: list[Path] = field(default_factory=list)

    def secrets(self) -> dict[str, str]:
        found = {
            "S3 secret": os.environ.get("HDH_S3_SECRET_KEY", ""),
            "Azure key": os.environ.get("HDH_AZURITE_ACCOUNT_KEY", ""),
            "HSM PIN": os.environ.get("HDH_HSM_PIN", ""),
        }
        for path in self.key_files:
            if path.exists():
                raw = path.read_bytes()
                found[f"KEK {path.name} file"] = raw.decode("ascii", "replace").strip()
                with_bytes = _key_bytes(raw)
                if with_bytes is not None:
                    found[f"KEK {path.name} hex"] = with_bytes.hex()
                    found[f"KEK {path.name} b64"] = base64.b64encode(with_bytes).decode()
        for path in self.key_files:
            if path.exists() and b"PRIVATE KEY" in path.read_bytes():
                pem = path.read_text("ascii", "replace").splitlines()
                found[f"signing key {path}"] = "".join(p for p in pem if "-----" not in p)
        for root in self.roots:
            for signing in root.rglob("signing.key"):
                pem = signing.read_text("ascii", "replace").splitlines()
                found[f"signing key {signing}"] = "".join(p for p in pem if "-----" not in p)
        return {name: value for name, value in found.items() if len(value) >= 8}

    def leaks(self) -> list[str]:
        secrets = self.secrets()
        out = []
        for index, text in enumerate(self.streams):
            out += [f"stream #{index}: {n}" for n, v in secrets.items() if v in text]
        for root in self.roots:
            for path in root.rglob("*"):
                if path.is_file() and not path.is_symlink() and path not in self.key_files:
                    if path.name == "signing.key" or path.suffix in (".key", ".b64", ".pin"):
                        continue  # the secrets themselves, where the test put them
                    data = path.read_bytes().decode("utf-8", "replace")
                    out += [f"{path}: {n}" for n, v in secrets.items() if v in data]
        return out


def _key_bytes(raw: bytes) -> bytes | None:
    text = raw.strip()
    try:
        return bytes.fromhex(text.decode())
    except ValueError:
        pass
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        return None if len(raw) != 32 else raw


@dataclass
class SecWorld:
    name: str
    root: Path
    src: Path
    plan: Path
    state: Path
    key: Path
    target: Any

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hdh_migrate", *args],
            capture_output=True,
            text=True,
            timeout=300,
            env=os.environ.copy(),
            check=False,
        )


def make_sec_world(stack: Any, tmp_path: Path, name: str, ledger: SecretLedger) -> SecWorld:
    src, state, key = tmp_path / "src", tmp_path / "state", tmp_path / "kek.key"
    src.mkdir()
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.format(name=name, src=src, s3=stack.s3_endpoint, key=key, state=state))
    target = open_backend(
        "s3",
        {
            "endpoint_url": stack.s3_endpoint,
            "region": "us-east-1",
            "bucket": name,
            "access_key": stack.s3_access_key,
            "secret_key": stack.s3_secret_key,
        },
    )
    target.ensure_bucket()  # type: ignore[attr-defined]
    ledger.roots.append(tmp_path)
    ledger.key_files.append(key)
    world = SecWorld(name, tmp_path, src, plan, state, key, target)
    original = world.cli

    def recorded(*args: str) -> subprocess.CompletedProcess[str]:
        done = original(*args)
        ledger.streams.append(done.stdout + done.stderr)
        return done

    world.cli = recorded  # type: ignore[method-assign]
    return world


@dataclass
class AzureWorld(SecWorld):
    source: Any = None

    def put(self, key: str, data: bytes) -> None:
        import io

        self.source.write(key, io.BytesIO(data), len(data))


def make_azure_world(stack: Any, tmp_path: Path, name: str, ledger: SecretLedger) -> AzureWorld:
    """An Azurite container (prefix ``data/``) → SeaweedFS ``enc/``, dataset ``ds``."""
    from devstack.plans import one_dataset_wave, plan_head

    base = make_sec_world(stack, tmp_path, name, ledger)
    head = plan_head(name=name, s3_endpoint=stack.s3_endpoint, key=base.key, state=base.state)
    base.plan.write_text(head + one_dataset_wave())
    source = open_backend(
        "azure_blob", {"container": name, "connection_string": stack.azurite_connection_string}
    )
    source.ensure_container()  # type: ignore[attr-defined]
    world = AzureWorld(**{k: getattr(base, k) for k in SecWorld.__dataclass_fields__})
    world.cli = base.cli  # type: ignore[method-assign]
    world.source = source
    return world

"""Fixtures for the plan-language tests: a minimal valid plan and a writer for variants."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

MINIMAL = """\
version: 1
name: unit-plan
sources:
  azure:
    kind: azure_blob
    account_url: https://hdhexports.blob.core.windows.net
    credential: ${env:AZURE_STORAGE_SAS}
    container: snds
targets:
  snc:
    kind: s3
    provider: ovh-snc
    region: eu-west-rbx-snc
    bucket: hdh-snds
    credentials:
      access_key: ${env:OVH_S3_ACCESS_KEY}
      secret_key: ${file:/etc/hdh/ovh-secret}
keys:
  kek:
    kind: file
    path: /etc/hdh/kek.key
  hsm:
    kind: pkcs11
    module: /usr/lib/softhsm/libsofthsm2.so
    token: hdh-prod
    label: kek-2026
    pin: ${env:HSM_PIN}
defaults:
  key: kek
  verify: sample:5%
  concurrency: 4
  bandwidth: 100MiB/s
waves:
  - name: wave-1
    datasets:
      - name: ir-referentiels
        source: azure
        prefix: referentiels/
        target: snc
      - name: dcir-2019
        source: azure
        container: dcir
        prefix: "2019/"
        target: snc
        target_prefix: dcir/2019/
        key: hsm
        verify: full
        concurrency: 12
"""


@pytest.fixture
def minimal_text() -> str:
    """A small valid plan (two datasets, a file key and a pkcs11 key)."""
    return MINIMAL


@pytest.fixture
def write_plan(tmp_path: Path) -> Callable[[str], Path]:
    """Write plan text to a fresh file and return its path."""
    counter = iter(range(1_000_000))

    def write(text: str) -> Path:
        path = tmp_path / f"plan-{next(counter)}.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write

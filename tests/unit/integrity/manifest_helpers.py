"""Helpers for the manifest tests: well-formed records, a fixed clock, a writer loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hdh_migrate.integrity.manifest import ManifestWriter
from hdh_migrate.integrity.signing import Ed25519FileSigner

ORIGIN = "hdh-migrate/test-plan"


def run_record(run_id: str = "run-1") -> dict[str, Any]:
    return {
        "type": "run",
        "run_id": run_id,
        "tool_version": "0.1.0",
        "plan_digest": "sha256:" + "ab" * 32,
        "kek_custody": {"provider": "file", "kek_ref": "kek-2026"},
    }


def object_record(i: int, dataset: str = "cohort-a") -> dict[str, Any]:
    return {
        "type": "object",
        "dataset": dataset,
        "object_id": f"{dataset}/patients/é {i:05d}.parquet",
        "source": {"uri": f"azure://acct/c/{i}", "etag": f'"0x{i:X}"', "size": i * 1000},
        "target": {
            "bucket": "hdh-target",
            "key": f"cohort/{i}",
            "version": None,
            "size": i * 1000 + 64,
            "checksum": None,
        },
        "crypto": {"header_sha256": f"{i:064x}", "kek_ref": "kek-2026"},
        "plaintext_sha256": f"{i + 1:064x}",
        "ciphertext_sha256": f"{i + 2:064x}",
        "verify": {"mode": "full", "result": "ok"},
    }


def fixed_clock() -> str:
    return "2026-11-29T08:00:00.000000Z"


def write_manifest(
    path: Path, signer: Ed25519FileSigner, objects: int, every: int = 10, run_id: str = "run-1"
) -> None:
    with ManifestWriter(path, signer, ORIGIN, checkpoint_every=every, clock=fixed_clock) as w:
        w.append(run_record(run_id))
        for i in range(objects):
            w.append(object_record(i))

"""Plans that need no server: a local directory as the source and one in-memory store
standing in for every S3 target. Shared by the engine, cutover and rotation unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hdh_migrate.backends.memory import MemoryBackend
from hdh_migrate.engine.runner import Migration, plan_digest
from hdh_migrate.events import ListReporter
from hdh_migrate.execution import SerialExecutor
from hdh_migrate.integrity import Ed25519FileSigner, ManifestWriter
from hdh_migrate.journal import Journal
from hdh_migrate.plan import Plan, check_text
from hdh_migrate.stages.clients import Clients

_HEAD = """\
version: 1
name: {name}
policy: {{profile: rehearsal, rehearsal: true}}
sources:
  disk: {{kind: local, path: "{src}"}}
targets:
  mem:
    kind: s3
    provider: seaweedfs
    region: local
    endpoint: http://127.0.0.1:9
    bucket: unit-bucket
    credentials: {{access_key: "${{env:NOPE_A}}", secret_key: "${{env:NOPE_S}}"}}
"""


def parse_offline_plan(name: str, src: Path, rest: str) -> Plan:
    """``rest`` (keys, defaults, state_dir, waves) after the shared head, validated."""
    result = check_text(_HEAD.format(name=name, src=src) + rest, f"{name}.yaml")
    assert not result.errors, [e.one_line() for e in result.errors]
    assert result.plan is not None
    return result.plan


def offline_plan_text(name: str, src: Path, rest: str) -> str:
    return _HEAD.format(name=name, src=src) + rest


class MemoryTargetClients(Clients):
    """Real sources and key providers; every S3 target is the in-memory ``target``, whose
    writes are counted in ``puts``."""

    def __init__(self, store: str) -> None:
        super().__init__()
        self.target = MemoryBackend(store)
        self.puts = 0
        original = self.target.write

        def counting_write(*args: Any, **kwargs: Any) -> Any:
            self.puts += 1
            return original(*args, **kwargs)

        self.target.write = counting_write  # type: ignore[method-assign]

    def backend(self, spec: Any) -> Any:
        return self.target if spec.kind == "s3" else super().backend(spec)


@contextmanager
def offline_migration(
    plan: Plan,
    state: Path,
    clients: Clients,
    *,
    signer: Ed25519FileSigner | None = None,
    executor: Any = None,
    window: int = 4,
    job_class: type[Migration] = Migration,
) -> Iterator[Any]:
    """A Migration over ``state`` (journal + manifest, created when missing), a serial
    executor unless one is given, and a ListReporter (``job.reporter.events``). Runs of
    one state must share a ``signer`` (the manifest keeps its public key)."""
    state.mkdir(parents=True, exist_ok=True)
    with (
        Journal(state / "journal.sqlite") as journal,
        ManifestWriter(
            state / "manifest.jsonl", signer or Ed25519FileSigner.generate("unit"), "hdh/unit"
        ) as manifest,
    ):
        yield job_class(
            plan,
            plan_digest(b"plan"),
            journal=journal,
            manifest=manifest,
            executor=executor or SerialExecutor(),
            clients=clients,
            reporter=ListReporter(),
            window=window,
        )

"""Plans that need no server: a local directory as the source and an in-memory target
(``kind: memory``, a rehearsal-profile plan). Shared by the engine, cutover and rotation
unit tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hdh_migrate.backends.memory import MemoryBackend
from hdh_migrate.backends.specs import MemorySpec
from hdh_migrate.engine.run.runner import Migration, plan_digest
from hdh_migrate.events import ListReporter
from hdh_migrate.execution import SerialExecutor
from hdh_migrate.integrity import Ed25519FileSigner, ManifestWriter
from hdh_migrate.journal import Journal
from hdh_migrate.plan import Plan, check_text
from hdh_migrate.stages.clients import Clients
from hdh_migrate.stages.items import Spec

_HEAD = """\
version: 1
name: {name}
policy: {{profile: rehearsal, rehearsal: true}}
sources:
  disk: {{kind: local, path: "{src}"}}
targets:
  mem: {{kind: memory, store: "{store}"}}
"""

#: One dataset ``ds`` (wave ``w1``) from ``disk:data/`` to ``mem:enc/`` under a file key.
ONE_DATASET = """\
keys:
  k: {{kind: file, path: "{key}", create: true}}
defaults: {{key: k, verify: "{verify}"{defaults}}}
state_dir: "{state}"
waves:
  - name: w1
    datasets:
      - name: ds
        source: disk
        prefix: data/
        target: mem
        target_prefix: enc/
"""


def new_store() -> str:
    """A fresh name for a memory target's store (``drop_store`` it after the test)."""
    return f"t-{uuid.uuid4().hex}"


def one_dataset(key: Path, state: Path, *, verify: str = "full", defaults: str = "") -> str:
    """The rest of a plan with ONE_DATASET; ``defaults`` adds ``, name: value`` pairs."""
    extra = f", {defaults}" if defaults else ""
    return ONE_DATASET.format(key=key, state=state, verify=verify, defaults=extra)


def parse_offline_plan(name: str, src: Path, rest: str, *, store: str) -> Plan:
    """``rest`` (keys, defaults, state_dir, waves) after the shared head, validated; the
    target ``mem`` is the memory store ``store``."""
    result = check_text(offline_plan_text(name, src, rest, store=store), f"{name}.yaml")
    assert not result.errors, [e.one_line() for e in result.errors]
    assert result.plan is not None
    return result.plan


def offline_plan_text(name: str, src: Path, rest: str, *, store: str) -> str:
    return _HEAD.format(name=name, src=src, store=store) + rest


class MemoryTargetClients(Clients):
    """Real clients, with a handle on the plan's memory target: the backend opened for the
    spec ``MemorySpec(store)`` is ``target``, whose writes are counted in ``puts`` (tests
    inject faults into it). Any other spec is built as usual."""

    def __init__(self, store: str) -> None:
        super().__init__()
        self.target = MemoryBackend(store)
        self.puts = 0
        original = self.target.write

        def counting_write(*args: Any, **kwargs: Any) -> Any:
            self.puts += 1
            return original(*args, **kwargs)

        self.target.write = counting_write  # type: ignore[method-assign]

    def backend(self, spec: Spec) -> Any:
        if spec.config == MemorySpec(self.target.store_name):
            return self.target
        return super().backend(spec)


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

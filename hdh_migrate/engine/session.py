"""Build a Migration with its real collaborators from a plan file, and the read-side
queries (status, re-verification) the CLI offers. The CLI stays a thin adapter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hdh_migrate.engine.evidence import StatePaths, manifest_signer, state_paths
from hdh_migrate.engine.restore import RestoreOutcome, restore_all, restore_items
from hdh_migrate.engine.runner import Migration, plan_digest, verified_how
from hdh_migrate.engine.specs import key_spec, target_spec
from hdh_migrate.errors import UsageError
from hdh_migrate.events import NullReporter, Reporter
from hdh_migrate.execution import make_executor
from hdh_migrate.integrity import ManifestWriter
from hdh_migrate.journal import Journal
from hdh_migrate.plan import Plan, load_plan
from hdh_migrate.stages import buffers, throttle
from hdh_migrate.stages.clients import Clients


@dataclass(frozen=True)
class RunSettings:
    """Command-line overrides of the plan (None = the plan's value)."""

    concurrency: int | None = None
    bandwidth: int | None = None
    executor: str | None = None


def load(path: str | Path) -> tuple[Plan, str]:
    """The validated plan and the digest of its exact bytes."""
    plan = load_plan(path)
    return plan, plan_digest(Path(path).read_bytes())


@contextmanager
def migration(
    path: str | Path, settings: RunSettings | None = None, reporter: Reporter | None = None
) -> Iterator[Migration]:
    """A ready Migration; journal, manifest, executor and clients are closed on exit."""
    settings = settings or RunSettings()
    plan, digest = load(path)
    paths = state_paths(plan).ensure()
    workers = settings.concurrency or plan.executor.workers or plan.defaults.concurrency
    throttle.configure(settings.bandwidth or plan.defaults.bandwidth)
    buffers.release_large_buffers()
    executor = make_executor(settings.executor or plan.executor.kind, workers)
    clients = Clients()
    try:
        with (
            Journal(paths.journal) as journal,
            ManifestWriter(
                paths.manifest, manifest_signer(plan, paths), f"hdh-migrate/{plan.name}"
            ) as manifest,
        ):
            yield Migration(
                plan,
                digest,
                journal=journal,
                manifest=manifest,
                executor=executor,
                clients=clients,
                reporter=reporter or NullReporter(),
                window=2 * workers,
            )
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        clients.close()


def journal_for(plan: Plan) -> Journal:
    """The plan's journal, which must exist (nothing has run otherwise)."""
    paths: StatePaths = state_paths(plan)
    if not paths.journal.exists():
        raise UsageError(
            f"no journal at {paths.journal}: nothing has run for plan {plan.name!r}",
            hint=f"run `hdh-migrate run` first (state directory {paths.root})",
        )
    return Journal(paths.journal)


def status(path: str | Path) -> dict[str, Any]:
    """Per wave and dataset: state, counts and bytes per item state, failures with reasons."""
    plan, _ = load(path)
    with journal_for(plan) as journal:
        waves: dict[str, Any] = {}
        for wave, ds in plan.iter_datasets():
            counts = {
                str(c.state): {"objects": c.count, "bytes": c.bytes}
                for c in journal.counts(ds.name)
            }
            failures = [
                {"key": i.key, "reason": i.reason or i.last_error or ""}
                for i in journal.failures(ds.name, limit=20)
            ]
            state = journal.dataset_state(ds.name)
            entry = {
                "state": str(state) if state else "new",
                "items": counts,
                "verified_by": verified_by(journal.verified_modes(ds.name)),
                "failures": failures,
            }
            waves.setdefault(wave.name, {})[ds.name] = entry
        runs = [r.to_dict() for r in journal.runs()[-5:]]
    return {
        "plan": plan.name,
        "state_dir": str(state_paths(plan).root),
        "waves": waves,
        "runs": runs,
    }


def verified_by(modes: dict[str, int]) -> dict[str, int]:
    """Journal verify modes → ``full`` / ``sampled`` / ``metadata`` counts."""
    out: dict[str, int] = {}
    for mode, n in modes.items():
        how = verified_how(mode)
        out[how] = out.get(how, 0) + n
    return out


def restore(path: str | Path, dataset: str, to: Path, only: str = "") -> RestoreOutcome:
    """Download, decrypt and check the verified objects of ``dataset`` under ``only``."""
    plan, _ = load(path)
    if dataset not in {d.name for _, d in plan.iter_datasets()}:
        names = ", ".join(d.name for _, d in plan.iter_datasets())
        raise UsageError(f"no dataset {dataset!r} in the plan", hint=f"use one of: {names}")
    eff = plan.effective(dataset)
    if eff.key is None or eff.key_name is None:
        raise UsageError(f"dataset {dataset!r} names no key: nothing was encrypted with one")
    target, kek = target_spec(plan, eff.dataset.target), key_spec(eff.key_name, eff.key)
    workers = plan.executor.workers or plan.defaults.concurrency
    clients = Clients()
    with journal_for(plan) as journal, make_executor("threads", workers) as executor:
        items = restore_items(journal.items(dataset=dataset), dataset, eff.dataset.prefix, only)
        try:
            return restore_all(items, to, target, kek, clients, dataset, executor, 2 * workers)
        finally:
            clients.close()

"""Build a Migration with its real collaborators from a plan file, and the read-side
queries (status, re-verification) the CLI offers. The CLI stays a thin adapter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hdh_migrate.engine.evidence import StatePaths, manifest_signing, state_paths
from hdh_migrate.engine.executor_choice import open_executor
from hdh_migrate.engine.restore import RestoreOutcome, restore_all, restore_items
from hdh_migrate.engine.run.object_ids import fill_object_ids
from hdh_migrate.engine.run.runner import Migration, plan_digest
from hdh_migrate.engine.specs import key_spec, target_spec
from hdh_migrate.engine.state_lock import state_lock
from hdh_migrate.engine.state_repair import guard as state_guard
from hdh_migrate.errors import HdhError, UsageError
from hdh_migrate.events import NullReporter, Reporter
from hdh_migrate.execution import make_executor
from hdh_migrate.integrity import ManifestWriter
from hdh_migrate.journal import Journal
from hdh_migrate.plan import Plan, VerifyMode, load_plan
from hdh_migrate.reports.run_report import verified_how
from hdh_migrate.stages import buffers, throttle
from hdh_migrate.stages.clients import Clients


@dataclass(frozen=True)
class RunSettings:
    """Command-line overrides of the plan (None = the plan's value)."""

    concurrency: int | None = None
    bandwidth: int | None = None
    executor: str | None = None


def verify_mode(text: str | None) -> VerifyMode | None:
    """``--mode`` of ``verify``, typed (None: each dataset's own mode)."""
    if text is None:
        return None
    if text.strip() == "header":  # header + final segment of every object: a 0 % sample
        return VerifyMode("sample", 0.0)
    try:
        return VerifyMode.parse(text)
    except ValueError:
        raise UsageError(
            f"--mode {text[:40]!r} is not a verification mode",
            hint="use full, sample:P% (e.g. sample:5%), header, metadata or none",
        ) from None


def load(path: str | Path) -> tuple[Plan, str]:
    """The validated plan and the digest of its exact bytes."""
    plan = load_plan(path)
    return plan, plan_digest(Path(path).read_bytes())


@contextmanager
def migration(
    path: str | Path,
    settings: RunSettings | None = None,
    reporter: Reporter | None = None,
    command: str = "run",
) -> Iterator[Migration]:
    """A ready Migration holding the plan's state lock; journal, manifest, executor and
    clients are closed (and the lock released) on exit."""
    settings = settings or RunSettings()
    plan, digest = load(path)
    paths = state_paths(plan).ensure()
    with state_lock(paths.root, command):
        state_guard(paths)  # a lost journal or manifest stops here (exit 9), nothing re-uploaded
        yield from _migration(plan, digest, paths, settings, reporter)


def _migration(
    plan: Plan,
    digest: str,
    paths: StatePaths,
    settings: RunSettings,
    reporter: Reporter | None,
) -> Iterator[Migration]:
    throttle.configure(settings.bandwidth or plan.defaults.bandwidth)
    buffers.release_large_buffers()
    executor, window = open_executor(plan, settings.executor, run_concurrency(plan, settings))
    clients = Clients()
    try:
        with (
            Journal(paths.journal) as journal,
            manifest_signing(plan, paths) as signer,
            ManifestWriter(paths.manifest, signer, f"hdh-migrate/{plan.name}") as manifest,
        ):
            job = Migration(
                plan,
                digest,
                journal=journal,
                manifest=manifest,
                executor=executor,
                clients=clients,
                reporter=reporter or NullReporter(),
                window=window,
                concurrency=settings.concurrency,
            )
            with ended(job):
                yield job
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        clients.close()


def journal_position(job: Migration) -> dict[str, Any]:
    """Which journal a command works on and how far earlier runs got: the path, whether
    it resumes, objects per state, the last run. What ``run`` prints first."""
    journal = job.journal
    runs = journal.runs()
    states: dict[str, int] = {}
    for count in journal.counts():
        states[str(count.state)] = states.get(str(count.state), 0) + count.count
    last = runs[-1] if runs else None
    return {
        "journal": str(state_paths(job.plan).journal.absolute()),
        "resumes": bool(runs),
        "runs": len(runs),
        "objects": states,
        "last_run": last.run_id if last else None,
        "last_started": last.started_at if last else None,
        "last_status": (last.status or "did not finish") if last else None,
    }


def describe_position(position: dict[str, Any]) -> str:
    """One line: ``resuming journal PATH (3 runs, last at T): 229 verified, 3 failed``."""
    if not position["resumes"]:
        return f"new journal {position['journal']}"
    objects = position["objects"]
    counts = ", ".join(f"{n} {state}" for state, n in sorted(objects.items())) or "no objects"
    total = sum(objects.values())
    return (
        f"resuming journal {position['journal']} ({position['runs']} earlier run(s), the "
        f"last started {position['last_started']}, {position['last_status']}): "
        f"{total} object(s): {counts}"
    )


@contextmanager
def ended(job: Migration) -> Iterator[None]:
    """Record in the journal how the run ended: done, failed or interrupted."""
    try:
        yield
    except KeyboardInterrupt:
        _finish_quietly(job, "interrupted")
        raise
    except BaseException:
        _finish_quietly(job, "failed")
        raise
    job.finish("done")


def _finish_quietly(job: Migration, status: str) -> None:
    with suppress(HdhError):  # the journal itself may be what failed: keep that error
        job.finish(status)


def load_state(path: str | Path) -> tuple[Plan, StatePaths]:
    """The plan and its state directory's paths (nothing opened)."""
    plan, _ = load(path)
    return plan, state_paths(plan)


def run_concurrency(plan: Plan, settings: RunSettings) -> int:
    """Objects in flight at once for the whole run: ``--concurrency``, else the threads
    executor's ``workers``, else ``defaults.concurrency`` (a Dask cluster's ``workers``
    count processes, not objects)."""
    if settings.concurrency:
        return settings.concurrency
    threads = plan.executor.workers if plan.executor.kind != "dask" else None
    return threads or plan.defaults.concurrency


def journal_for(plan: Plan) -> Journal:
    """The plan's journal, which must exist (nothing has run otherwise)."""
    paths: StatePaths = state_paths(plan)
    if not paths.journal.exists():
        raise UsageError(
            f"no journal at {paths.journal}: nothing has run for plan {plan.name!r}",
            hint=f"run `hdh-migrate run` first (state directory {paths.root})",
        )
    journal = Journal(paths.journal)
    try:
        fill_object_ids(journal, plan)
    except BaseException:
        journal.close()
        raise
    return journal


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

"""The rehearsal's steps, in order, each one a result: passed, failed (with the object at
fault when there is one) or skipped (with why). The first failure stops the lifecycle;
the steps after it are reported as skipped, never silently dropped.

derive → validate → seed → target → audit → probe → run → rerun (0 bytes move) →
verify-full → manifest-verify → restore-sample (byte for byte) → per wave with a
cutover: cutover → rollback (→ cutover → finalize with ``finalize``, → decommission with
``decommission``) → evidence-export → evidence-verify.

With ``Options.signing == "softhsm"`` the manifest is signed by the stand-in HSM's Ed25519
key (created when absent, its fingerprint pinned in the rehearsal plan), and both
``manifest-verify`` and ``evidence-verify`` trust the public key read from the HSM, never
the copy in the state directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from hdh_migrate.backends.probe import probe_s3, save_probe
from hdh_migrate.backends.registry import open_spec
from hdh_migrate.backends.s3_config import S3Settings
from hdh_migrate.engine.audit import AuditOptions, audit, policy_gate
from hdh_migrate.engine.bundle import export_bundle
from hdh_migrate.engine.cutover import WaveCutover
from hdh_migrate.engine.decommission import WaveDecommission
from hdh_migrate.engine.endpoints import plan_endpoints
from hdh_migrate.engine.evidence import create_hsm_signing_key, state_paths
from hdh_migrate.engine.evidence_report import write_run_reports
from hdh_migrate.engine.rehearsal.derive import Derived, Options, derive, target_owned
from hdh_migrate.engine.rehearsal.synthetic import (
    SeedObject,
    default_mix,
    edge_cases,
    from_inventory,
    seed,
    shaped,
)
from hdh_migrate.engine.run.session import migration, restore, verify_mode
from hdh_migrate.engine.specs import source_spec, target_spec
from hdh_migrate.errors import HdhError
from hdh_migrate.events import NullReporter, Reporter
from hdh_migrate.integrity.bundle import verify_bundle
from hdh_migrate.integrity.manifest import public_key_path
from hdh_migrate.integrity.manifest_verify import verify_manifest
from hdh_migrate.integrity.signing import fingerprint, load_public_key, write_public_key
from hdh_migrate.plan import EffectiveDataset, Plan, check_plan, load_plan
from hdh_migrate.reports.run_report import DatasetOutcome, utc_now
from hdh_migrate.units import human_size

OPERATOR = "hdh-rehearsal"
BUNDLE = "evidence.tar.gz"  # under the work directory
SIGNER_PUB = "signing.pub"  # the HSM signing key's public key, as read from the HSM
EXIT_STEP_FAILED = 4  # a step's own check failed (no error with its own exit code)
EXIT_INTERNAL = 1


class StepFailed(Exception):
    """A step's check did not hold; ``key`` is the object at fault, when there is one."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.message, self.key = message, key


@dataclass
class StepResult:
    """One step: ``status`` passed | failed | skipped."""

    name: str
    status: str
    seconds: float = 0.0
    message: str = ""
    key: str | None = None
    exit_code: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Settings:
    """What to rehearse and how (the CLI's options)."""

    plan: Path
    options: Options
    inventory: dict[str, Any] | None = None
    objects: int = 24  # default-mix objects per dataset, besides the edge cases
    max_object_size: int = 64 << 20  # cap for inventory-shaped objects
    finalize: bool = False
    decommission: bool = False  # after finalize: delete the wave's source, prove it empty


@dataclass
class Rehearsal:
    """Runs the steps; ``after_step(name)`` is called after each passed step (tests use it
    to inject a fault, e.g. a target that loses an object)."""

    settings: Settings
    reporter: Reporter = field(default_factory=NullReporter)
    after_step: Callable[[str, Rehearsal], None] | None = None
    reraise: bool = False  # let an unexpected exception through (the CLI's --debug)
    results: list[StepResult] = field(default_factory=list)
    derived: Derived | None = None
    expected: dict[str, list[SeedObject]] = field(default_factory=dict)

    @property
    def work(self) -> Path:
        return self.settings.options.work

    @property
    def plan_file(self) -> Path:
        return self.work / "rehearsal.yaml"

    @property
    def bundle(self) -> Path:
        return self.work / BUNDLE

    @property
    def signer_pub(self) -> Path | None:
        """The HSM signer's public key file (None: a state-directory key signs)."""
        return self.work / SIGNER_PUB if self.settings.options.signing == "softhsm" else None

    def plan(self) -> Plan:
        return load_plan(self.plan_file)

    @property
    def failed(self) -> StepResult | None:
        return next((r for r in self.results if r.status == "failed"), None)

    def run(self) -> list[StepResult]:
        """Every step in order; returns the results (also in ``results``)."""
        for name, action in self._steps():
            if self.failed is not None:
                self._record(
                    StepResult(name, "skipped", message=f"not run: {self.failed.name} failed")
                )
            elif action is None:
                continue
            else:
                self._step(name, action)
        return self.results

    # -- the step list -----------------------------------------------------------------------

    def _steps(self) -> Iterator[tuple[str, Callable[[], str] | None]]:
        yield "derive", self._derive
        yield "validate", self._validate
        yield "seed", self._seed
        yield "target", self._target
        yield "audit", self._audit
        yield "probe", self._probe
        yield "run", lambda: self._run("run")
        yield "rerun", lambda: self._run("rerun")
        yield "verify-full", self._verify
        yield "manifest-verify", self._manifest
        yield "restore-sample", self._restore
        if self.failed is None:
            yield from self._cutover_steps()
        yield "evidence-export", self._export
        yield "evidence-verify", self._evidence_verify

    def _cutover_steps(self) -> Iterator[tuple[str, Callable[[], str] | None]]:
        finalized: set[str] = set()
        for wave in self.plan().waves:
            if wave.cutover is None:
                continue
            waiting = [d for d in wave.depends_on if d not in finalized]
            if waiting:
                why = f"depends on {', '.join(waiting)}, not finalized"
                why += (
                    ""
                    if self.settings.finalize
                    else " (a rehearsal finalizes only with --finalize)"
                )
                self._record(StepResult(f"cutover {wave.name}", "skipped", message=why))
                continue
            yield f"cutover {wave.name}", partial(self._cutover, wave.name)
            yield f"rollback {wave.name}", partial(self._rollback, wave.name)
            if self.settings.finalize:
                yield f"cutover again {wave.name}", partial(self._cutover, wave.name)
                yield f"finalize {wave.name}", partial(self._finalize, wave.name)
                finalized.add(wave.name)
                if self.settings.decommission:
                    yield f"decommission {wave.name}", partial(self._decommission, wave.name)

    def _step(self, name: str, action: Callable[[], str]) -> None:
        self.reporter.event("rehearse.step.start", step=name)
        began = time.monotonic()
        result = StepResult(name, "passed")
        try:
            result.message = action()
        except StepFailed as failure:
            result.status, result.message, result.key = "failed", failure.message, failure.key
            result.exit_code = EXIT_STEP_FAILED
        except HdhError as exc:
            result.status, result.exit_code = "failed", exc.exit_code
            result.message = exc.one_line()
        except Exception as exc:  # a bug: still a failed step in the reports
            if self.reraise:  # for --debug's traceback
                raise
            first = (str(exc).strip().splitlines() or [""])[0]
            result.status, result.exit_code = "failed", EXIT_INTERNAL
            result.message = f"internal error: {type(exc).__name__}: {first} — rerun with --debug"
        result.seconds = round(time.monotonic() - began, 3)
        self._record(result)
        if result.status == "passed" and self.after_step is not None:
            self.after_step(name, self)

    def _record(self, result: StepResult) -> None:
        self.results.append(result)
        self.reporter.event("rehearse.step", **result.to_dict())

    # -- steps -------------------------------------------------------------------------------

    def _derive(self) -> str:
        for stale in ("state", "keys", "restored", "hdh-rehearsal-hooks.log", BUNDLE, SIGNER_PUB):
            path = self.work / stale
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(
                missing_ok=True
            )
        self.derived = derive(self.settings.plan, self.settings.options)
        self.work.mkdir(parents=True, exist_ok=True)
        signer = self._hsm_signer(self.derived.data.get("signing"))
        text = yaml.safe_dump(self.derived.data, sort_keys=False, allow_unicode=True)
        self.plan_file.write_text("# derived by hdh-migrate rehearse; do not edit\n" + text)
        endpoints = [e.to_dict() for e in plan_endpoints(self.plan())]
        self.reporter.event("rehearse.endpoints", endpoints=endpoints)
        changed = len(self.derived.notes) + len(self.derived.hooks)
        return (
            f"rehearsal plan {self.plan_file} ({changed} change(s) from the plan, see notes); "
            f"manifest signer: {signer}"
        )

    def _hsm_signer(self, signing: dict[str, Any] | None) -> str:
        """The HSM signing key, created when absent (idempotent: a purged stack gets one),
        its fingerprint pinned in the rehearsal plan and its public key kept in WORK."""
        if signing is None or self.signer_pub is None:
            return "a throwaway Ed25519 key in the state directory"
        module, token, label = (
            os.environ["HDH_HSM_MODULE"],
            os.environ["HDH_HSM_TOKEN"],
            os.environ["HDH_HSM_SIGNING_LABEL"],
        )
        public = create_hsm_signing_key(module, token, label, signing["pin"], exist_ok=True)
        signing["fingerprint"] = fingerprint(public)
        write_public_key(self.signer_pub, public)
        return f"HSM key {label!r} on token {token!r} ({signing['fingerprint']})"

    def _validate(self) -> str:
        result = check_plan(self.plan_file)
        if result.errors:
            raise StepFailed(f"{len(result.errors)} error(s); first: {result.errors[0].one_line()}")
        return f"valid, {len(result.warnings)} warning(s)"

    def _seed(self) -> str:
        plan, fresh, objects, size = self.plan(), set(), 0, 0
        for _, dataset in plan.iter_datasets():
            eff = plan.effective(dataset.name)
            backend: Any = open_spec(source_spec(eff).backend_spec)
            if backend.name not in fresh:
                backend.delete_container()
                backend.ensure_container()
                fresh.add(backend.name)
            items = self._shape(eff)
            seed(backend, dataset.prefix, items)
            self.expected[dataset.name] = [i for i in items if i.selected]
            objects, size = objects + len(items), size + sum(i.size for i in items)
        return f"{objects} objects, {human_size(size)} in {len(fresh)} Azurite container(s)"

    def _shape(self, eff: EffectiveDataset) -> list[SeedObject]:
        made = None
        if self.settings.inventory is not None:
            made = from_inventory(
                self.settings.inventory,
                eff.dataset.name,
                self.settings.objects,
                self.settings.max_object_size,
            )
        made = made or default_mix(self.settings.objects)
        objects = edge_cases(eff.part_size, eff.multipart_threshold) + made
        return shaped(objects, eff.dataset.include, eff.dataset.exclude)

    def _target(self) -> str:
        plan, owned = self.plan(), target_owned(self.settings.options)
        for name in plan.targets:
            backend: Any = open_spec(target_spec(plan, name).backend_spec)
            if owned:
                backend.delete_bucket(force=True)
                backend.ensure_bucket()
            else:
                backend.head_bucket()
        state = "emptied and created" if owned else "exists (not owned: left as is)"
        return f"{len(plan.targets)} bucket(s) {state}"

    def _audit(self) -> str:
        report = audit(str(self.plan_file), AuditOptions())
        counts = report.counts()
        if report.exit_code == 3:
            first = next(f for f in report.findings if f.severity == "block")
            raise StepFailed(
                f"{counts['block']} blocking finding(s); first {first.rule}: {first.why}"
            )
        return f"verdict {report.verdict}: {counts['block']} block, {counts['warn']} warn"

    def _probe(self) -> str:
        plan, notes = self.plan(), []
        for name in plan.targets:
            config = target_spec(plan, name).backend_spec
            if not isinstance(config, S3Settings):
                notes.append(f"{name}: a {config.kind} target (nothing to probe)")
                continue
            result = probe_s3(config, target=name, scratch_bucket=False)
            save_probe(result, plan.state_path)
            notes.append(
                f"{name}: {'validates checksums' if result.trustworthy else 'read-back only'}"
            )
        return "; ".join(notes)

    def _run(self, step: str) -> str:
        policy_gate(str(self.plan_file), None)
        with migration(self.plan_file, reporter=self.reporter) as job:
            started = utc_now()
            outcomes = job.run()
            self._report(job, "run", started, outcomes)
        _no_failures(outcomes)
        moved = sum(o.bytes_copied for o in outcomes)
        copied = sum(o.copied for o in outcomes)
        if step == "rerun":
            if copied or moved:
                raise StepFailed(
                    f"a finished plan re-run moved {copied} object(s), {human_size(moved)}"
                )
            return f"{sum(o.listed for o in outcomes)} objects listed, 0 copied, 0 bytes moved"
        self._check_listed(outcomes)
        verified = sum(o.verified for o in outcomes)
        return f"{copied} object(s) copied, {human_size(moved)}, {verified} verified"

    def _report(self, job: Any, command: str, started: Any, outcomes: list[DatasetOutcome]) -> None:
        """The run report (JSON, Markdown, HTML) as `hdh-migrate run` writes it: the
        evidence bundle carries it."""
        write_run_reports(job, command, started, outcomes, str(self.plan_file))

    def _check_listed(self, outcomes: list[DatasetOutcome]) -> None:
        for outcome in outcomes:
            expected = len(self.expected.get(outcome.dataset, []))
            if outcome.listed != expected:
                raise StepFailed(
                    f"{outcome.dataset}: {outcome.listed} object(s) selected, {expected} expected "
                    "from the dataset's include/exclude globs"
                )

    def _verify(self) -> str:
        with migration(self.plan_file, command="verify") as job:
            started = utc_now()
            outcomes = job.reverify(verify_mode("full"))
            self._report(job, "verify", started, outcomes)
        _no_failures(outcomes)
        return f"{sum(o.verified for o in outcomes)} object(s) read back, decrypted, compared"

    def _manifest(self) -> str:
        manifest = state_paths(self.plan()).manifest
        trusted = self.signer_pub or public_key_path(manifest)
        report = verify_manifest(manifest, load_public_key(trusted))
        if not report.ok:
            raise StepFailed(report.one_line())
        signed = f"{report.records} records, {report.checkpoints} signed checkpoint(s)"
        if self.signer_pub is None:
            return f"{signed}; key: the state directory's (a rehearsal without an HSM)"
        custody = _custody(manifest)
        if custody.get("extractable") is not False or custody.get("never_extractable") is not True:
            raise StepFailed(f"the signing key's custody record is not an HSM's: {custody}")
        return f"{signed} by the HSM key (non-extractable), checked against its public key"

    def _restore(self) -> str:
        plan = self.plan()
        _, dataset = next(iter(plan.iter_datasets()))
        to = self.work / "restored" / dataset.name
        outcome = restore(self.plan_file, dataset.name, to)
        if outcome.failed:
            key, reason = outcome.failed[0]
            raise StepFailed(f"{len(outcome.failed)} object(s) not restored: {reason}", key)
        source: Any = open_spec(source_spec(plan.effective(dataset.name)).backend_spec)
        compared = 0
        for path in sorted(p for p in to.rglob("*") if p.is_file()):
            key = dataset.prefix + path.relative_to(to).as_posix()
            if _sha256_file(path) != _sha256_source(source, key):
                raise StepFailed("restored bytes differ from the source", key)
            compared += 1
        if compared != len(self.expected.get(dataset.name, [])):
            raise StepFailed(
                f"{compared} file(s) restored, {len(self.expected[dataset.name])} expected"
            )
        return (
            f"{dataset.name}: {compared} object(s) restored, identical to the source byte for byte"
        )

    def _cutover(self, wave: str) -> str:
        plan = self.plan()
        gates = next(w for w in plan.waves if w.name == wave).cutover
        count = max(
            gates.gates.approvals if gates else 0, 2 if gates and gates.gates.two_person else 0
        )
        approvers = [f"rehearsal-approver-{i + 1}" for i in range(count)]
        with migration(self.plan_file, reporter=self.reporter) as job:
            report = self._engine(job).cutover(wave, approvers)
        return _hooks_ok(report.message, report.hooks)

    def _rollback(self, wave: str) -> str:
        with migration(self.plan_file, reporter=self.reporter) as job:
            report = self._engine(job).rollback(wave)
        return _hooks_ok(report.message, report.hooks)

    def _finalize(self, wave: str) -> str:
        with migration(self.plan_file, reporter=self.reporter) as job:
            report = self._engine(job).finalize(wave, True)
        return report.message

    def _engine(self, job: Any) -> WaveCutover:
        engine = WaveCutover(job, operator=OPERATOR, confirm=_yes)
        engine.plan_file = str(self.plan_file)  # the HTML reports show the policy findings
        return engine

    def _decommission(self, wave: str) -> str:
        """Delete the wave's source selection, proven empty, signed; then SOV-15 passes."""
        with migration(self.plan_file, reporter=self.reporter) as job:
            engine = WaveDecommission(job, operator=OPERATOR, confirm=_yes)
            engine.plan_file = str(self.plan_file)
            report = engine.decommission(wave)
        left = sum(int(s.get("listed_after", 0)) for s in report.steps)
        if left:
            raise StepFailed(f"{left} object(s) still listed at the source after deletion")
        datasets = {d.name for d in self.plan().wave(wave).datasets}
        findings = audit(str(self.plan_file), AuditOptions(inventory=False)).findings
        sov15 = [f for f in findings if f.rule == "SOV-15" and f.subject in datasets]
        if sov15:
            raise StepFailed(f"SOV-15 still flags {sov15[0].subject}: {sov15[0].why}")
        deleted = sum(int(s.get("deleted", 0)) for s in report.steps)
        return f"{report.message} ({deleted} object(s) deleted, 0 left; SOV-15 passes)"

    def _export(self) -> str:
        summary = export_bundle(self.plan_file, self.bundle)
        return (
            f"{self.bundle}: {summary.files} file(s), {human_size(summary.bytes)}, "
            f"index signed by {summary.signer}"
        )

    def _evidence_verify(self) -> str:
        report = verify_bundle(self.bundle, self.signer_pub)
        if not report.ok:
            raise StepFailed(report.problem or "the bundle does not verify", report.bad_file)
        if self.signer_pub is not None and not report.trusted.get("origin_proven"):
            raise StepFailed("the bundle's signature was not checked against the HSM key")
        origin = "origin proven (HSM key)" if self.signer_pub else "integrity only (no HSM)"
        return f"{report.files} file(s) match the signed index; {origin}"


def _yes(_question: str) -> bool:
    return True


def _no_failures(outcomes: list[DatasetOutcome]) -> None:
    failed = [(o.dataset, key, reason) for o in outcomes for key, reason in o.failed]
    if failed:
        dataset, key, reason = failed[0]
        raise StepFailed(f"{len(failed)} object(s) failed; first in {dataset}: {reason}", key)


def _hooks_ok(message: str, hooks: list[dict[str, Any]]) -> str:
    for hook in hooks:
        if hook.get("timed_out") or hook.get("exit_status") not in (0, None):
            raise StepFailed(f"hook {hook.get('label')} failed on {hook.get('where')}")
    return f"{message} ({len(hooks)} hook(s) ran)" if hooks else message


def _custody(manifest: Path) -> dict[str, Any]:
    """The signing key's custody attributes, as the manifest's first record carries them."""
    with manifest.open("rb") as handle:
        first = json.loads(handle.readline() or b"{}")
    signer = first.get("signer") or {}
    return dict((signer.get("custody") or {}).get("attributes") or {})


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sha256_source(source: Any, key: str) -> str:
    digest = hashlib.sha256()
    with source.open_read(key) as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

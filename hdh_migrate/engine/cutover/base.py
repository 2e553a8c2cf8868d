"""What every cutover step shares: the collaborators, the dataset states read from the
journal, the recorded transition (manifest record, then journal), hooks, listings.

``CutoverContext`` holds them. ``cutover.WaveCutover`` (the commands) owns one and hands
it to its collaborators, ``cutover.freeze.Freeze`` and ``cutover.delta.Delta``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from hdh_migrate.engine.hooks import HookResult, HookRunner
from hdh_migrate.engine.run.runner import Context, Migration
from hdh_migrate.engine.specs import target_endpoint
from hdh_migrate.errors import HdhError
from hdh_migrate.journal import DatasetState
from hdh_migrate.plan import Wave
from hdh_migrate.plan.cutover import Hook
from hdh_migrate.reports.cutover_report import Report
from hdh_migrate.stages.inventory import inventory

S = DatasetState


class CutoverError(HdhError):
    """A cutover step could not be completed (freeze not holding, hook failed …)."""


def refuse(_: str) -> bool:
    """The default confirmation: no operator to ask."""
    return False


class CutoverContext:
    """A Migration's collaborators (journal, manifest, clients, executor, reporter), the
    operator, hooks, confirmation, clock, and the report of the command running: one per
    ``WaveCutover``, shared by its freeze and delta steps."""

    def __init__(
        self,
        job: Migration,
        *,
        operator: str,
        hooks: HookRunner | None = None,
        confirm: Callable[[str], bool] = refuse,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        lease_workers: int = 16,
    ) -> None:
        self.job, self.plan, self.journal = job, job.plan, job.journal
        self.operator, self.hooks = operator, hooks or HookRunner()
        self.confirm, self.clock, self.lease_workers = confirm, clock, lease_workers
        self.report = Report("none", self.plan.name, "", operator)
        self.plan_file: str | None = None  # for the policy findings of the HTML report

    def timed(self, name: str, step: Callable[[], None]) -> None:
        started = time.monotonic()
        step()
        self.report.durations[name] = round(time.monotonic() - started, 3)

    def each(self, wave: Wave, state: DatasetState, step: Callable[[Context], None]) -> None:
        for ds in wave.datasets:
            if self.state(ds.name) is state:
                step(self.job.context(ds.name))

    def epoch(self, dataset: str) -> int:
        """How many rollbacks the dataset went through: each freeze epoch has its lease ids."""
        return sum(t.to_state is S.ROLLED_BACK for t in self.journal.transitions(dataset))

    def listing(self, ctx: Context) -> Iterator[Any]:
        source = self.job.clients.backend(ctx.source)
        for entry in inventory(source, self.job.selection(ctx)):
            yield entry.info

    def run_hooks(self, wave: Wave, hooks: Sequence[Hook], purpose: str) -> None:
        env = self.hook_env(wave)
        for index, hook in enumerate(hooks, 1):
            label = f"{purpose}[{index}/{len(hooks)}]"
            result: HookResult = self.hooks.run(hook, env, label)
            self.report.hooks.append(result.to_dict())
            self.job.reporter.event("cutover.hook", **result.to_dict())
            if not result.ok:
                raise CutoverError(
                    f"{purpose} hook failed: {result.summary()}",
                    hint=HOOK_HINTS[purpose],
                )

    def hook_env(self, wave: Wave) -> dict[str, str]:
        """What every hook of ``wave`` receives (the first dataset's target describes it)."""
        first = self.plan.effective(wave.datasets[0])
        return {
            "HDH_TARGET_ENDPOINT": target_endpoint(first.target),
            "HDH_TARGET_BUCKET": first.target.location,
            "HDH_TARGET_PREFIX": first.dataset.target_prefix,
            "HDH_WAVE": wave.name,
            "HDH_DATASETS": ",".join(d.name for d in wave.datasets),
            "HDH_PLAN": self.plan.name,
        }

    def state(self, dataset: str) -> DatasetState:
        return self.journal.dataset_state(dataset) or S.NEW

    def states(self, wave: Wave) -> dict[str, DatasetState]:
        return {d.name: self.state(d.name) for d in wave.datasets}

    def detail(self, dataset: str, state: DatasetState) -> dict[str, Any]:
        for transition in reversed(self.journal.transitions(dataset)):
            if transition.to_state is state:
                return dict(json.loads(transition.detail or "{}"))
        return {}

    def move(self, ctx: Context, target: DatasetState, detail: dict[str, Any]) -> None:
        """Manifest record, then the journal transition (a crash in between repeats the
        record on resume, never loses it)."""
        name, current = ctx.eff.name, self.state(ctx.eff.name)
        if current is target:
            return
        self.job.manifest.append(
            {
                "type": "cutover",
                "dataset": name,
                "wave": ctx.eff.wave.name,
                "from_state": str(current),
                "to_state": str(target),
                "operator": self.operator,
                "detail": detail,
            }
        )
        self.journal.move_dataset(name, target, json.dumps(detail, sort_keys=True))
        self.job.reporter.event(
            "cutover.state", dataset=name, from_state=str(current), to_state=str(target)
        )
        self.report.step(name, str(target), from_state=str(current))


HOOK_HINTS = {
    "freeze": "the source may be partly frozen: fix the hook and re-run, or roll back",
    "switch": "readers may be partly switched: fix and re-run the cutover, or roll back",
    "rollback": "readers may be partly switched back: fix the hook, re-run the rollback",
    "unfreeze": "the source may still be read-only: fix the hook, re-run the rollback",
}

"""What a cutover, rollback or finalize did: the report, written as JSON and Markdown to
``<state>/reports/``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hdh_migrate import __version__, private_files
from hdh_migrate.errors import HdhError


@dataclass
class Report:
    """What a cutover, rollback or finalize did: written as JSON and Markdown."""

    command: str
    plan: str
    wave: str
    operator: str
    started: str = field(default_factory=lambda: utc_now())
    ended: str | None = None
    outcome: str = "running"
    message: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    hooks: list[dict[str, Any]] = field(default_factory=list)
    gates: list[dict[str, Any]] = field(default_factory=list)
    datasets: dict[str, str] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)

    def step(self, dataset: str, name: str, **detail: Any) -> None:
        self.steps.append({"dataset": dataset, "step": name, "at": utc_now(), **detail})

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "paths"} | {
            "tool_version": __version__
        }

    def write(self, directory: Path) -> list[Path]:
        """``<dir>/reports/<command>-<wave>-<time>.json`` and ``.md``."""
        folder = directory / "reports"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = self.started.replace(":", "").replace("-", "").replace(".", "-").rstrip("Z")
        base = folder / f"{self.command}-{self.wave}-{stamp}"
        json_path, md_path = base.with_suffix(".json"), base.with_suffix(".md")
        private_files.write_text(
            json_path, json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        )
        private_files.write_text(md_path, markdown(self))
        self.paths = [str(json_path), str(md_path)]
        return [json_path, md_path]


def one_line(error: BaseException) -> str:
    """The error as one line (an HdhError's own, else ``Type: message``)."""
    return error.one_line() if isinstance(error, HdhError) else f"{type(error).__name__}: {error}"


def utc_now() -> str:
    """Now, UTC, to the microsecond (``2026-01-02T03:04:05.000006Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def markdown(report: Report) -> str:
    """The report as Markdown (headline, durations, gates, hooks with output, steps)."""
    lines = [
        f"# hdh-migrate {report.command}: {report.plan} / {report.wave}",
        "",
        f"- outcome: **{report.outcome}** — {report.message}",
        f"- operator: {report.operator}; started {report.started}; ended {report.ended}",
        f"- datasets: {', '.join(f'{d} → {s}' for d, s in report.datasets.items())}",
        f"- durations: {', '.join(f'{k} {v}' for k, v in report.durations.items())}",
    ]
    if report.gates:
        lines += ["", "## Gates", "", "| gate | passed | measured |", "|---|---|---|"]
        lines += [f"| {g['gate']} | {g['passed']} | {g['measured']} |" for g in report.gates]
    for hook in report.hooks:
        status = "timed out" if hook["timed_out"] else f"exit {hook['exit_status']}"
        lines += [
            "",
            f"## Hook {hook['label']} ({hook['where']}, {status}, {hook['duration_s']} s)",
        ]
        lines += [
            "",
            "```",
            hook["command"],
            "```",
            "",
            "Output:",
            "",
            "```",
            hook["output"].rstrip(),
            "```",
        ]
    lines += ["", "## Steps", ""]
    lines += [f"- {s['at']} {s['dataset']}: {s['step']} {_compact(s)}" for s in report.steps]
    return "\n".join(lines) + "\n"


def _compact(step: dict[str, Any]) -> str:
    rest = {k: v for k, v in step.items() if k not in ("at", "dataset", "step")}
    return json.dumps(rest, sort_keys=True) if rest else ""

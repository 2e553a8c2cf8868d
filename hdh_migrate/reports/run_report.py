"""The run report: what one `run` (or `verify`) did, as JSON and Markdown in the state dir.

``<state_dir>/reports/<command>-<UTC time>-<run id>.json`` and ``.md``. No secrets: only
names, counts, sizes, object keys and failure reasons (which never hold secrets).

The outcome model (:class:`DatasetOutcome`) lives here, below the engine, so that the
runner fills it and this module renders it without importing the runner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hdh_migrate import __version__, private_files
from hdh_migrate.escaping import json_text, md_code, md_text
from hdh_migrate.units import human_size

SCHEMA = "hdh-migrate/run-report/v1"

#: A concrete verification mode → how an auditor should read it.
VERIFIED_HOW = {"full": "full", "header": "sampled", "metadata": "metadata", "none": "none"}


def verified_how(mode: str | None) -> str:
    """``full`` | ``sampled`` | ``metadata`` | ``none`` for a concrete mode."""
    return VERIFIED_HOW.get(mode or "", mode or "unknown")


@dataclass
class DatasetOutcome:
    """What one dataset's run did (counts are for this run; ``failed`` names objects)."""

    dataset: str
    wave: str
    listed: int = 0
    new: int = 0
    changed: int = 0
    flagged: int = 0
    copied: int = 0
    bytes_copied: int = 0
    verified: int = 0
    not_carried: int = 0  # objects with metadata or properties the target could not hold
    tampered: int = 0  # mismatches found by authentication (HDH1 tag, header, commitment)
    failed: list[tuple[str, str]] = field(default_factory=list)
    unverifiable: list[tuple[str, str]] = field(default_factory=list)  # checked again later
    not_verified: list[tuple[str, str]] = field(default_factory=list)  # not copied (verify)
    #: How the verified objects were verified: ``full`` (read back, decrypted, hashed),
    #: ``sampled`` (header + final segment), ``metadata`` (target-validated checksum).
    verified_by: dict[str, int] = field(default_factory=dict)

    def count_verified(self, mode: str) -> None:
        self.verified += 1
        how = verified_how(mode)
        self.verified_by[how] = self.verified_by.get(how, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        for name in ("failed", "unverifiable", "not_verified"):
            data[name] = [{"key": k, "reason": r} for k, r in getattr(self, name)]
        data["verified_by"] = dict(self.verified_by)
        return data


@dataclass(frozen=True)
class RunReport:
    command: str
    plan: str
    run_id: str
    started: datetime
    ended: datetime
    rehearsal: bool
    outcomes: tuple[DatasetOutcome, ...]

    @property
    def seconds(self) -> float:
        return max((self.ended - self.started).total_seconds(), 1e-9)

    def totals(self) -> dict[str, Any]:
        moved = sum(o.bytes_copied for o in self.outcomes)
        copied = sum(o.copied for o in self.outcomes)
        return {
            "listed": sum(o.listed for o in self.outcomes),
            "copied": copied,
            "bytes_copied": moved,
            "verified": sum(o.verified for o in self.outcomes),
            "verified_by": _verified_by(self.outcomes),
            "failed": sum(len(o.failed) for o in self.outcomes),
            "flagged": sum(o.flagged for o in self.outcomes),
            "seconds": round(self.seconds, 3),
            "mib_per_s": round(moved / (1 << 20) / self.seconds, 2),
            "objects_per_s": round(copied / self.seconds, 2),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "tool_version": __version__,
            "command": self.command,
            "plan": self.plan,
            "run_id": self.run_id,
            "rehearsal": self.rehearsal,
            "started": self.started.isoformat(timespec="seconds"),
            "ended": self.ended.isoformat(timespec="seconds"),
            "totals": self.totals(),
            "datasets": [o.to_dict() for o in self.outcomes],
        }

    def markdown(self) -> str:
        t = self.totals()
        lines = [f"# hdh-migrate {self.command} — {md_text(self.plan)}", ""]
        if self.rehearsal:
            lines += ["> **REHEARSAL** — local targets; nothing here is sovereign.", ""]
        lines += [
            f"Run `{self.run_id}`, {self.started:%Y-%m-%d %H:%M:%S} → {self.ended:%H:%M:%S} UTC "
            f"({t['seconds']} s), hdh-migrate {__version__}.",
            "",
            f"**{t['copied']}** objects copied ({human_size(t['bytes_copied'])}, "
            f"{t['mib_per_s']} MiB/s, {t['objects_per_s']} objects/s), **{t['verified']}** "
            f"verified{_how(t['verified_by'])}, **{t['failed']}** failed, "
            f"{t['flagged']} flagged.",
            "",
            "| wave | dataset | listed | new | changed | flagged | copied | bytes | verified "
            "| failed |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [_row(o) for o in self.outcomes]
        failures = [(o.dataset, k, r) for o in self.outcomes for k, r in o.failed]
        if failures:
            lines += ["", "## Failed objects", ""]
            lines += [f"- {md_code(d)} {md_code(k)}: {md_text(r)}" for d, k, r in failures]
        return "\n".join(lines) + "\n"


def _verified_by(outcomes: tuple[DatasetOutcome, ...]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for o in outcomes:
        for how, n in o.verified_by.items():
            merged[how] = merged.get(how, 0) + n
    return merged


def _how(by: dict[str, int]) -> str:
    """`` (8 by full read-back, 2 sampled)``: how the verified objects were checked."""
    words = {"full": "by full read-back", "sampled": "sampled (header + final segment)"}
    parts = [f"{n} {words.get(how, how)}" for how, n in sorted(by.items()) if n]
    return f" ({', '.join(parts)})" if parts else ""


def _row(o: DatasetOutcome) -> str:
    cells = [
        md_text(o.wave),
        md_text(o.dataset),
        o.listed,
        o.new,
        o.changed,
        o.flagged,
        o.copied,
        human_size(o.bytes_copied),
        o.verified,
        len(o.failed),
    ]
    return "| " + " | ".join(str(c) for c in cells) + " |"


def write_run_report(root: Path, report: RunReport) -> tuple[Path, Path]:
    """Write the JSON and Markdown files; return their paths."""
    folder = root / "reports"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stem = f"{report.command}-{report.started:%Y%m%dT%H%M%SZ}-{report.run_id[:8]}"
    as_json, as_md = folder / f"{stem}.json", folder / f"{stem}.md"
    private_files.write_text(as_json, json_text(report.to_dict(), indent=2) + "\n")
    private_files.write_text(as_md, report.markdown())
    return as_json, as_md


def utc_now() -> datetime:
    return datetime.now(UTC)

"""What an auditor's report shows, read in one streamed pass over the signed manifest.

``evidence_view(plan, manifest_path)`` gathers: the signer (key id, fingerprint, custody),
the KEK references, the manifest's size, checkpoints and last signed root, the
verification split (object records per mode), throughput over time (bytes of object
records per minute), each wave's timeline (run start, first and last object copied and
verified, every cutover transition, rollback and decommission, with times) and every
approval with the signer's identity. Memory: a few counters per wave, dataset and minute.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hdh_migrate.plan import Plan, S3Target, Target


@dataclass
class Approval:
    wave: str
    principal: str
    at: str
    kind: str
    fingerprint: str = ""


@dataclass
class EvidenceView:
    plan: str
    plan_digest: str = ""
    signer: dict[str, Any] = field(default_factory=dict)
    kek_refs: list[str] = field(default_factory=list)
    records: int = 0
    checkpoints: int = 0
    last_checkpoint: str = ""
    verification: Counter[str] = field(default_factory=Counter)
    throughput: dict[str, int] = field(default_factory=dict)
    timeline: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    approvals: list[Approval] = field(default_factory=list)
    endpoints: list[dict[str, str]] = field(default_factory=list)

    def event(self, wave: str, at: str, dataset: str, what: str) -> None:
        self.timeline.setdefault(wave, []).append((at, dataset, what))


def evidence_view(plan: Plan, manifest: Path) -> EvidenceView:
    """Read ``manifest`` (streamed) into the view of ``plan``."""
    view = EvidenceView(plan.name, endpoints=endpoints(plan))
    waves = {ds.name: wave.name for wave, ds in plan.iter_datasets()}
    copies: dict[str, list[str]] = {}
    seen: set[tuple[str, str]] = set()
    if manifest.exists():
        with manifest.open("rb") as handle:
            for line in handle:
                _record(view, json.loads(line), waves, copies, seen)
    for dataset, (first, last) in copies.items():
        wave = waves.get(dataset, "?")
        view.event(wave, first, dataset, "copy: first object copied and verified")
        view.event(wave, last, dataset, "verify: last object copied and verified")
    for events in view.timeline.values():
        events.sort()
    return view


def _record(
    view: EvidenceView,
    record: dict[str, Any],
    waves: dict[str, str],
    copies: dict[str, list[str]],
    seen: set[tuple[str, str]],
) -> None:
    kind, at = record.get("type"), str(record.get("ts", ""))
    if kind == "checkpoint":
        view.checkpoints += 1
        view.last_checkpoint = str(record.get("note", ""))
        return
    view.records += 1
    dataset = str(record.get("dataset", ""))
    wave = str(record.get("wave") or waves.get(dataset, "?"))
    if kind == "run":
        view.plan_digest = str(record.get("plan_digest", ""))
        view.signer = dict(record.get("signer") or {})
        view.kek_refs = list(record.get("kek_refs") or [])
        for name in sorted(set(waves.values())):
            view.event(name, at, "—", "run started (inventory)")
    elif kind == "object":
        view.verification[str(record.get("verify", {}).get("mode", "none"))] += 1
        minute = at[:16]
        size = int(record.get("source", {}).get("size", 0))
        view.throughput[minute] = view.throughput.get(minute, 0) + size
        span = copies.setdefault(dataset, [at, at])
        span[1] = at
    elif kind == "cutover":
        _cutover(view, record, wave, dataset, at, seen)
    elif kind == "rollback":
        view.event(wave, at, dataset, f"rollback from {record.get('from_state')}")
    elif kind == "decommission":
        what = f"decommission: {record.get('method')}, {record.get('deleted', 0)} deleted, "
        view.event(wave, at, dataset, what + f"{record.get('listed_after')} listed after")


def _cutover(
    view: EvidenceView,
    record: dict[str, Any],
    wave: str,
    dataset: str,
    at: str,
    seen: set[tuple[str, str]],
) -> None:
    event = record.get("event")
    if event == "approval":
        signature = record.get("signature")
        key = (wave, str(signature.get("armored")) if signature else str(record.get("approver")))
        if key in seen:
            return  # one record per dataset: the same approval
        seen.add(key)
        view.approvals.append(
            Approval(
                wave,
                str(record.get("approver", "")),
                at,
                "SSH signature" if signature else "typed name (rehearsal)",
                str(signature.get("key_fingerprint", "")) if signature else "",
            )
        )
    elif event is None:
        label = {"frozen": "freeze", "delta_synced": "delta", "final_verified": "final pass"}
        to_state = str(record.get("to_state"))
        view.event(wave, at, dataset, f"{label.get(to_state, to_state.replace('_', ' '))}")
    elif event == "deleted_at_source":
        return
    else:
        view.event(wave, at, dataset, str(event).replace("_", " "))


def endpoints(plan: Plan) -> list[dict[str, str]]:
    """Each target's provider, region, bucket and endpoint in validated form (scheme, host,
    port and path only: no user info, no query); sources by kind and location only."""
    rows = [
        {
            "role": "target",
            "name": name,
            "what": f"{t.provider} {t.region}" if isinstance(t, S3Target) else t.kind,
            "where": _target_where(t),
            "location": t.location,
        }
        for name, t in plan.targets.items()
    ]
    for _, ds in plan.iter_datasets():
        eff = plan.effective(ds)
        rows.append(
            {
                "role": "source",
                "name": f"{eff.dataset.source} (dataset {eff.name})",
                "what": eff.source.kind,
                "where": eff.location or "",
                "location": eff.dataset.prefix or "",
            }
        )
    return rows


def _url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "(not shown)"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


def _target_where(target: Target) -> str:
    if not isinstance(target, S3Target):
        return "(rehearsal: in process)" if target.kind == "memory" else "(rehearsal: local disk)"
    return _url(str(target.endpoint)) if target.endpoint is not None else "(preset endpoint)"

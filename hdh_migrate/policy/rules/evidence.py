"""Evidence and integrity: SOV-10 (audit trail), SOV-12 (verification), SOV-13
(restorability), SOV-14 (reversibility), SOV-15 (decommissioning proof)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from hdh_migrate.plan.loader import DataPath
from hdh_migrate.policy.context import PolicyInput
from hdh_migrate.policy.registry import Raised, rule

POST_FINALIZE = frozenset({"finalized"})


@rule(
    "SOV-10",
    "audit trail of every operation",
    "block",
    "the run keeps a journal and a signed manifest; the signing key is the organisation's "
    "(a file key outside the state directory, or an Ed25519 key in an HSM through PKCS#11); "
    "under profile hdh a signing key in the state directory blocks",
)
def audit_trail(inp: PolicyInput) -> Iterator[Raised]:
    signing = inp.plan.signing
    production = inp.plan.policy.profile == "hdh"
    if signing is None:
        yield Raised(
            ("name",),
            "manifest checkpoints would be signed by a key generated in the state "
            "directory, beside the journal: not a key the organisation holds",
            "name an HSM key (signing: {kind: pkcs11, …}) or a customer-held Ed25519 file key",
            severity="block" if production else "info" if inp.rehearsal else "warn",
        )
        return
    if signing.kind == "pkcs11":
        return
    if signing.private_key.scheme != "file":
        yield Raised(
            ("signing", "private_key"),
            "the signing key must be a ${file:…} reference: the run could not sign its evidence",
            "use ${file:/path/to/ed25519.pem}",
        )
    elif _inside(Path(signing.private_key.name), inp.plan.state_path):
        yield Raised(
            ("signing", "private_key"),
            "the signing key lives in the state directory, beside the evidence it signs",
            "keep it outside the state directory, or in an HSM (signing: {kind: pkcs11, …})",
            severity="block" if production else "warn",
        )


def _inside(path: Path, directory: Path) -> bool:
    try:
        path.expanduser().resolve().relative_to(directory.expanduser().resolve())
    except ValueError:
        return False
    return True


@rule(
    "SOV-12",
    "integrity verified",
    "block",
    "no dataset uses verify: none; metadata-only verification is reported (warn); every "
    "cutover gate requires 100 % verified",
)
def verified(inp: PolicyInput) -> Iterator[Raised]:
    for eff, path in inp.datasets():
        where = _verify_path(inp, path)
        if eff.verify.kind == "none":
            yield Raised(
                where,
                "verification is off: corrupted or missing objects would go unnoticed",
                "use verify: full (or sample:P%)",
                eff.name,
            )
        elif eff.verify.kind == "metadata" and not inp.rehearsal:
            yield Raised(
                where,
                "metadata-only verification never reads the data back",
                "use verify: full or sample:P%",
                eff.name,
                severity="warn",
            )
    for w, wave in enumerate(inp.plan.waves):
        if wave.cutover is not None and wave.cutover.gates.verified < 100:
            yield Raised(
                ("waves", w, "cutover", "gates", "verified"),
                f"cutover of {wave.name!r} would switch with only "
                f"{wave.cutover.gates.verified:g} % verified",
                "set gates.verified: 100%",
                wave.name,
            )


def _verify_path(inp: PolicyInput, path: DataPath) -> DataPath:
    own = (*path, "verify")
    if own in inp.locations.values:
        return own
    return ("defaults", "verify") if ("defaults", "verify") in inp.locations.values else path


@rule(
    "SOV-13",
    "restorability",
    "warn",
    "the cached probe of each used target found versioning or object lock enabled on the bucket",
)
def restorable(inp: PolicyInput) -> Iterator[Raised]:
    used = {ds.target for _, ds in inp.plan.iter_datasets()}
    for name in sorted(used):
        probe = inp.probes.get(name)
        path = ("targets", name, "bucket")
        if probe is None:
            yield Raised(
                path,
                "never probed: versioning and object lock are unknown",
                f"run `hdh-migrate probe` (target {name})",
                name,
            )
        elif "enabled" not in (probe.versioning, probe.object_lock):
            yield Raised(
                path,
                f"probe of {probe.probed_at}: versioning {probe.versioning}, "
                f"object lock {probe.object_lock}: an overwrite or delete is final",
                "enable versioning (or object lock at bucket creation)",
                name,
            )


@rule(
    "SOV-14",
    "reversibility evidence",
    "warn",
    "the manifest (JSONL, open format) has its public key beside it so anyone can verify "
    "it without the tool",
)
def reversible(inp: PolicyInput) -> Iterator[Raised]:
    manifest = Path(inp.plan.state_path) / "manifest.jsonl"
    if manifest.exists() and not manifest.with_suffix(".pub").exists():
        yield Raised(
            ("name",),
            f"{manifest} has no public key beside it: it cannot be verified independently",
            "restore manifest.pub from the signing key",
        )


@rule(
    "SOV-15",
    "source decommissioning proof",
    "warn",
    "a finalized dataset has decommissioning evidence recorded: its source deleted and "
    "listed empty, or an operator's attestation (`hdh-migrate decommission`)",
)
def decommissioned(inp: PolicyInput) -> Iterator[Raised]:
    for eff, path in inp.datasets():
        if eff.name in inp.decommissioned:
            continue
        if inp.dataset_states.get(eff.name) in POST_FINALIZE:
            yield Raised(
                path,
                f"dataset {eff.name!r} is finalized but no deletion or "
                "key-destruction evidence of its source is recorded",
                f"`hdh-migrate decommission PLAN --wave {eff.wave.name}` (deletes the verified "
                "source objects, or records an attestation, signed into the manifest)",
                eff.name,
            )

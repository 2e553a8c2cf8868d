"""``hdh-migrate manifest verify|prove|keygen``: check the signed evidence of a run.

Thin adapters over ``hdh_migrate.integrity``; see docs/manifest.md for the format.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer
from rich.markup import escape

from hdh_migrate.cli.render import emit_json, ok, stdout
from hdh_migrate.engine.evidence import create_hsm_signing_key
from hdh_migrate.errors import UsageError, VerificationError
from hdh_migrate.integrity.checkpoint import (
    CheckpointError,
    SignedCheckpoint,
    parse_signed_checkpoint,
)
from hdh_migrate.integrity.manifest import (
    prove,
    verify_inclusion,
    verify_manifest,
)
from hdh_migrate.integrity.signing import (
    Ed25519FileSigner,
    fingerprint,
    write_public_key,
)
from hdh_migrate.integrity.trust import TrustedKey, trusted_key
from hdh_migrate.plan import load_plan
from hdh_migrate.secrets import SecretRef, is_reference


class ObjectsMode(StrEnum):
    NONE = "none"
    SAMPLE = "sample"
    FULL = "full"


FILE = typer.Argument(..., help="The manifest (JSON Lines).")
PUBLIC_KEY = typer.Option(
    None,
    "--public-key",
    help="The Ed25519 public key (PEM) from a trusted copy, obtained separately.",
)
PLAN = typer.Option(
    None, "--plan", help="A plan whose signing.fingerprint pins the expected signer."
)
ADJACENT = typer.Option(
    False,
    "--trust-adjacent-key",
    help="Use the .pub beside the manifest: integrity only, the origin is not proven.",
)
JSON = typer.Option(False, "--json", help="Print JSON.")
OBJECTS = typer.Option(ObjectsMode.NONE, "--objects", help="Re-check target objects.")
CHECKPOINT = typer.Option(None, "--checkpoint", help="A signed checkpoint kept elsewhere.")
OBJECT_ID = typer.Argument(..., help="The object id as recorded in the manifest.")
KEY_FILE = typer.Argument(..., help="Where to write the private key (must not exist).")

VERIFY_HELP = """Re-hash every line, rebuild the Merkle root, check every checkpoint signature
and the consistency between checkpoints. Exit 4 naming the first bad line.

--checkpoint takes a signed checkpoint kept elsewhere (the last one printed by a previous
verify): the manifest must still contain that tree, which detects truncation.
--objects sample|full (re-reading the target objects) needs the migration engine and is
not available yet; only `none` runs today.

The expected signer comes from outside the state directory: --public-key (a trusted copy)
or --plan (signing.fingerprint pinned); the .pub beside the manifest only with
--trust-adjacent-key (integrity only). The output names the key trusted and why.

  hdh-migrate manifest verify run/manifest.jsonl --public-key trusted/manifest.pub

  hdh-migrate manifest verify run/manifest.jsonl --plan plan.yaml
"""

PROVE_HELP = """Print an inclusion proof for one object (leaf index, tree size, root,
audit path, signed checkpoint) and verify it against the public key.

  hdh-migrate manifest prove run/manifest.jsonl "cohort-a/patients/0001.parquet" --json
"""

HSM_KEYGEN_HELP = """Create a non-extractable Ed25519 signing key inside an HSM (PKCS#11:
token objects, SENSITIVE, not EXTRACTABLE) and write its public key (PEM). Name it in the
plan as signing: {kind: pkcs11, …} and pin the printed fingerprint.

  hdh-migrate manifest hsm-keygen --module /usr/lib/softhsm/libsofthsm2.so --token hdh-prod \\
      --label manifest-2026 --pin '${env:HSM_PIN}' --out manifest-2026.pub
"""

manifest_app = typer.Typer(help="Signed evidence: verify a manifest, prove an object is in it.")


def register(app: typer.Typer) -> None:
    """Add the ``manifest`` group."""
    app.add_typer(manifest_app, name="manifest")
    manifest_app.command("verify", help=VERIFY_HELP)(verify)
    manifest_app.command("prove", help=PROVE_HELP)(prove_cmd)
    manifest_app.command("keygen", help="Create an Ed25519 signing key (0600) and its .pub.")(
        keygen
    )
    manifest_app.command("hsm-keygen", help=HSM_KEYGEN_HELP)(hsm_keygen)


def verify(
    file: Path = FILE,
    public_key: Path | None = PUBLIC_KEY,
    plan: Path | None = PLAN,
    trust_adjacent_key: bool = ADJACENT,
    objects: ObjectsMode = OBJECTS,
    checkpoint: Path | None = CHECKPOINT,
    json: bool = JSON,
) -> None:
    if objects is not ObjectsMode.NONE:
        raise UsageError(
            f"--objects {objects.value} is not available yet (needs the migration engine)",
            hint="use --objects none, then `hdh-migrate verify PLAN` for the objects",
        )
    trusted = _trusted(file, public_key, plan, trust_adjacent_key)
    report = verify_manifest(file, trusted.key, anchor=_anchor(checkpoint))
    if json:
        emit_json(
            {**report.to_dict(), "public_key": trusted.fingerprint, "trusted": trusted.to_dict()}
        )
    if not report.ok:
        raise VerificationError(report.one_line())
    if not json:
        stdout.print(escape(trusted.one_line()), highlight=False)
        ok(report.one_line())


def prove_cmd(
    file: Path = FILE,
    object_id: str = OBJECT_ID,
    public_key: Path | None = PUBLIC_KEY,
    plan: Path | None = PLAN,
    trust_adjacent_key: bool = ADJACENT,
    json: bool = JSON,
) -> None:
    key = _trusted(file, public_key, plan, trust_adjacent_key).key
    proof = prove(file, object_id)
    valid = verify_inclusion(proof, key)
    if json:
        emit_json({**proof.to_dict(), "verified": valid})
    if not valid:
        raise VerificationError(f"the inclusion proof for {object_id!r} does not verify")
    if not json:
        stdout.print(f"leaf index  {proof.leaf_index}", highlight=False)
        stdout.print(f"tree size   {proof.tree_size}", highlight=False)
        stdout.print(f"root        {proof.root}", highlight=False)
        stdout.print(f"leaf hash   {proof.leaf_hash}", highlight=False)
        for depth, node in enumerate(proof.audit_path):
            stdout.print(f"path[{depth}]{' ' * (4 - len(str(depth)))}{node}", highlight=False)
        ok(f"{object_id} is leaf {proof.leaf_index} of the signed tree of {proof.tree_size}")


def keygen(
    key_file: Path = KEY_FILE,
) -> None:
    if key_file.exists():
        raise UsageError(f"{key_file} already exists", hint="choose another path")
    signer = Ed25519FileSigner.generate(key_file.name)
    signer.write_private_key(key_file)
    pub = key_file.with_suffix(".pub")
    write_public_key(pub, signer.public_key_bytes())
    ok(f"wrote {key_file} (0600) and {pub}: {fingerprint(signer.public_key_bytes())}")


def _trusted(manifest: Path, given: Path | None, plan: Path | None, adjacent: bool) -> TrustedKey:
    pinned = None
    if plan is not None:
        signing = load_plan(plan).signing
        pinned = signing.fingerprint if signing is not None else None
        if pinned is None:
            raise UsageError(
                f"plan {plan} pins no signer (signing.fingerprint)",
                hint="add signing.fingerprint: sha256:… (printed by `manifest keygen`)",
            )
    return trusted_key(manifest, given, pinned, adjacent)


def _anchor(path: Path | None) -> SignedCheckpoint | None:
    if path is None:
        return None
    try:
        return parse_signed_checkpoint(path.read_text(encoding="utf-8"))
    except (OSError, CheckpointError, UnicodeDecodeError) as exc:
        raise UsageError(f"--checkpoint {path}: {exc}") from None


def hsm_keygen(
    module: str = typer.Option(..., "--module", help="Path of the PKCS#11 module."),
    token: str = typer.Option(..., "--token", help="Token label."),
    label: str = typer.Option(..., "--label", help="Label of the new key pair."),
    pin: str = typer.Option(..., "--pin", help="Reference to the user PIN: ${env:NAME}."),
    out: Path = typer.Option(..., "--out", help="Where to write the public key (PEM)."),  # noqa: B008
) -> None:
    if not is_reference(pin):
        raise UsageError("--pin takes a reference such as ${env:HSM_PIN}, never the PIN itself")
    if out.exists():
        raise UsageError(f"{out} already exists", hint="choose another path")
    public = create_hsm_signing_key(module, token, label, SecretRef.parse(pin))
    write_public_key(out, public)
    ok(f"created {label!r} on token {token!r}; wrote {out}: {fingerprint(public)}")

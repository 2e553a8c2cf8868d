"""``hdh-migrate encrypt|decrypt`` (local files) and ``hdh-migrate keys generate|describe``.

Thin adapters: the work is in ``hdh_migrate.crypto.files`` and ``hdh_migrate.keys``.
The ``keys`` group is a sub-app so plan-based ``keys describe PLAN`` and ``keys rotate``
can join it with the engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import typer

from hdh_migrate.cli.render import emit_json, ok, plain, stdout, styled
from hdh_migrate.crypto.files import FileResult, decrypt_file, decrypt_stream, encrypt_file
from hdh_migrate.errors import UsageError
from hdh_migrate.keys import KeyProvider, generate_key_file, open_key_provider
from hdh_migrate.units import human_size, parse_size

KEY_FILE = typer.Option(None, "--key-file", help="A 32-byte KEK file (mode 0600).")
PLAN = typer.Option(None, "--plan", help="A plan whose key provider to use (with --key).")
KEY = typer.Option(None, "--key", help="The name of a key in the plan's `keys` section.")
OUT = typer.Option(..., "-o", "--out", help="Output file (must not exist unless --force).")
OBJECT_ID = typer.Option(None, "--object-id", help="The logical object id in the header.")
FORCE = typer.Option(False, "--force", help="Replace OUT if it exists.")
JSON = typer.Option(False, "--json", help="Print JSON.")
PLAINTEXT = typer.Argument(..., help="The plaintext file.")
CIPHERTEXT = typer.Argument(..., help="The HDH1 object: a file, or s3://BUCKET/KEY.")
NEW_KEY = typer.Argument(..., help="Where to write the new key.")
PLAN_ARG = typer.Argument(None, help="A plan file (describe its keys).")
KEY_ARG = typer.Argument(None, help="One key name of the plan (default: all).")

ENCRYPT_HELP = """Encrypt a local file into an HDH1 object (docs/hdh1-format.md).

The object id defaults to the source file name. Examples:

  hdh-migrate encrypt scan.dcm -o scan.dcm.hdh1 --key-file kek.key --object-id ds/scan.dcm

  hdh-migrate encrypt big.parquet -o big.hdh1 --plan plan.yaml --key prod-kek
"""

DECRYPT_HELP = """Decrypt an HDH1 object: a local file, or s3://BUCKET/KEY of a plan target
(with --plan). OUT appears only once the whole object authenticated; any tampering,
truncation or wrong key exits 7 and writes nothing.

With --object-id the header must name that object (guards against swapped objects).
Examples:

  hdh-migrate decrypt scan.dcm.hdh1 -o scan.dcm --key-file kek.key --object-id ds/scan.dcm

  hdh-migrate decrypt s3://hdh-snds/ds/scan.dcm -o scan.dcm --plan plan.yaml --key prod-kek
"""

keys_app = typer.Typer(help="Key-encryption keys: generate a key file, describe a KEK.")


def register(app: typer.Typer) -> None:
    """Add ``encrypt``, ``decrypt`` and the ``keys`` group."""
    app.command("encrypt", help=ENCRYPT_HELP)(encrypt)
    app.command("decrypt", help=DECRYPT_HELP)(decrypt)
    app.add_typer(keys_app, name="keys")


def encrypt(
    src: Path = PLAINTEXT,
    out: Path = OUT,
    key_file: Path | None = KEY_FILE,
    plan: Path | None = PLAN,
    key: str | None = KEY,
    object_id: str | None = OBJECT_ID,
    segment_size: str = typer.Option("1MiB", "--segment-size", help="Power of two, 64B…16MiB."),
    force: bool = FORCE,
) -> None:
    try:
        size = parse_size(segment_size)
    except ValueError as exc:
        raise UsageError(f"--segment-size: {exc}") from None
    with _provider(key_file, plan, key) as provider:
        _done("encrypted", encrypt_file(src, out, provider, object_id, size, force))


def decrypt(
    src: str = CIPHERTEXT,
    out: Path = OUT,
    key_file: Path | None = KEY_FILE,
    plan: Path | None = PLAN,
    key: str | None = KEY,
    object_id: str | None = OBJECT_ID,
    force: bool = FORCE,
) -> None:
    with _provider(key_file, plan, key) as provider:
        if src.startswith("s3://"):
            if plan is None:
                raise UsageError("decrypting s3://… needs --plan (its target gives the endpoint)")
            result = _decrypt_target(plan, src, out, provider, object_id, force)
        else:
            result = decrypt_file(Path(src), out, provider, object_id, force)
        _done("decrypted and authenticated", result)


def expected_object_id(plan: Any, targets: list[str], object_key: str, url: str) -> str:
    """The object id the header of ``object_key`` must carry: ``<dataset>/<relative key>``
    of the plan dataset whose target prefix holds it (the longest), so an object swapped
    in from another key is refused even without --object-id."""
    owners = [
        (d.target_prefix or "", d.name)
        for _, d in plan.iter_datasets()
        if d.target in targets and object_key.startswith(d.target_prefix or "")
    ]
    if not owners:
        raise UsageError(
            f"no dataset of the plan writes {url}: its object id is unknown",
            hint="pass --object-id DATASET/KEY (the id the object was encrypted under)",
        )
    prefix, dataset = max(owners, key=lambda owner: len(owner[0]))
    return f"{dataset}/{object_key[len(prefix) :]}"


def _decrypt_target(
    plan_path: Path, url: str, out: Path, provider: KeyProvider, oid: str | None, force: bool
) -> FileResult:
    """Read s3://BUCKET/KEY through the plan target that owns BUCKET (read-only)."""
    from hdh_migrate.backends.registry import open_spec
    from hdh_migrate.engine.specs import target_spec
    from hdh_migrate.plan import load_plan
    from hdh_migrate.stages.envelopes import current_envelope, read_target_header

    bucket, _, object_key = url.removeprefix("s3://").partition("/")
    plan = load_plan(plan_path)
    names = [name for name, target in plan.targets.items() if target.location == bucket]
    if not names or not object_key:
        known = ", ".join(sorted(t.location for t in plan.targets.values())) or "none"
        raise UsageError(f"no target of the plan holds {url}", hint=f"buckets: {known}")
    oid = oid or expected_object_id(plan, names, object_key, url)
    spec = target_spec(plan, names[0])
    backend = open_spec(spec.backend_spec, read_only=True)
    try:  # the sidecar rule (stages.envelopes): a rotated object opens with the new KEK only
        header = read_target_header(backend, object_key)
        envelope = current_envelope(backend, object_key, header, provider)
        with backend.open_read(object_key) as stream:
            result = decrypt_stream(stream, out, provider, oid, force, envelope)
        return result if envelope is None else replace(result, kek_ref=envelope.kek_ref)
    finally:
        backend.close()


@keys_app.command("generate")
def keys_generate(path: Path = NEW_KEY) -> None:
    """Write a fresh random 32-byte KEK (mode 0600; refuses to overwrite)."""
    ok(f"{path}: new key {generate_key_file(path)}")


@keys_app.command("describe")
def keys_describe(
    plan: Path | None = PLAN_ARG,
    key: str | None = KEY_ARG,
    key_file: Path | None = KEY_FILE,
    pkcs11_module: str | None = typer.Option(None, "--pkcs11-module", help="PKCS#11 module."),
    token: str | None = typer.Option(None, "--token", help="Token label."),
    label: str | None = typer.Option(None, "--label", help="Key label on the token."),
    pin_env: str | None = typer.Option(None, "--pin-env", help="Variable holding the PIN."),
    as_json: bool = JSON,
) -> None:
    """What can be said of a KEK without revealing it (provider, reference, custody).

    Give a plan (and optionally one of its key names), or --key-file, or the PKCS#11
    options. Examples:

      hdh-migrate keys describe plans/prod.yaml prod-kek

      hdh-migrate keys describe --key-file kek.key --json
    """
    if plan is not None:
        _show_plan_keys(plan, key, as_json)
        return
    if key_file is not None:
        provider = open_key_provider("file", {"path": str(key_file)})
    elif pkcs11_module and token and label and pin_env:
        config = {"module": pkcs11_module, "token": token, "label": label}
        provider = open_key_provider("pkcs11", {**config, "pin": f"${{env:{pin_env}}}"})
    else:
        raise UsageError(
            "keys describe needs --key-file, or --pkcs11-module, --token, --label and --pin-env"
        )
    try:
        _show(provider.describe(), as_json)
    finally:
        provider.close()


@contextmanager
def _provider(key_file: Path | None, plan: Path | None, key: str | None) -> Iterator[KeyProvider]:
    if (key_file is None) == (plan is None) or (plan is None) != (key is None):
        raise UsageError("give either --key-file K, or --plan PLAN --key NAME")
    provider = (
        open_key_provider("file", {"path": str(key_file)})
        if key_file is not None
        else _plan_provider(plan, key)  # type: ignore[arg-type]
    )
    try:
        yield provider
    finally:
        provider.close()


def _plan_provider(plan_path: Path, name: str, *, create: bool = True) -> KeyProvider:
    from hdh_migrate.plan import load_plan

    plan = load_plan(plan_path)
    if name not in plan.keys:
        known = ", ".join(sorted(plan.keys)) or "none"
        raise UsageError(f"the plan has no key {name!r}", hint=f"keys in the plan: {known}")
    spec = plan.keys[name].model_dump()
    return open_key_provider(spec["kind"], spec if create else {**spec, "create": False})


def _show_plan_keys(plan_path: Path, name: str | None, as_json: bool) -> None:
    """Describe one or every key of a plan (never creates a missing key file)."""
    from hdh_migrate.plan import load_plan

    names = [name] if name else sorted(load_plan(plan_path).keys)
    described: dict[str, Any] = {}
    for each in names:
        provider = _plan_provider(plan_path, each, create=False)
        try:
            described[each] = provider.describe()
        finally:
            provider.close()
    if as_json:
        emit_json(described)
        return
    for each, info in described.items():
        stdout.print(styled(each, "bold"), highlight=False)
        _show(info, False)


def _done(verb: str, result: FileResult) -> None:
    ok(
        f"{verb} {result.object_id!r} → {result.path} "
        f"({human_size(result.plaintext_length)} plaintext, "
        f"{human_size(result.ciphertext_length)} HDH1, KEK {result.kek_ref})"
    )


def _show(info: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(info)
        return
    for name, value in info.items():
        if isinstance(value, dict):
            for sub, item in value.items():
                stdout.print(plain(f"{name}.{sub}: {item}"), highlight=False)
        else:
            stdout.print(plain(f"{name}: {value}"), highlight=False)


ROTATE_HELP = """Rewrap every data key of a plan's verified objects from KEK --from to KEK
--to, into sidecar envelopes (.hdh-envelopes/<key>.hdhk in the same bucket):
object bodies and headers are not touched. Resumable (objects that already
open with --to are skipped) and recorded (one manifest `rewrap` record per
sidecar). Exit 5 names failures.

Runbook, see docs/encryption.md: rotate; edit the plan so that the rotated
datasets use the --to key; rotate again, which catches objects copied
meanwhile; run `hdh-migrate verify PLAN --mode full`; destroy the --from
key.

Example:

  hdh-migrate keys rotate plans/prod.yaml --from kek-2025 --to kek-2026
"""


PLAN_FILE = typer.Argument(..., metavar="PLAN", help="The plan file.")


@keys_app.command("rotate", help=ROTATE_HELP)
def keys_rotate(
    plan: Path = PLAN_FILE,
    from_key: str = typer.Option(..., "--from", help="The plan key the data keys are under."),
    to_key: str = typer.Option(..., "--to", help="The plan key to rewrap them under."),
    dataset: str | None = typer.Option(None, "--dataset", help="Only this dataset."),
    executor: str | None = typer.Option(
        None, "--executor", help="serial, threads, dask or a Dask scheduler address."
    ),
    as_json: bool = JSON,
) -> None:
    from contextlib import nullcontext

    from hdh_migrate.cli.progress import JsonLinesReporter, RichReporter, make_reporter
    from hdh_migrate.engine.rotate import rotate_keys
    from hdh_migrate.errors import ObjectsFailedError

    reporter = make_reporter(as_json)
    live = reporter if isinstance(reporter, RichReporter) else nullcontext()
    with live:
        outcome = rotate_keys(plan, from_key, to_key, dataset, reporter, executor_kind=executor)
    if not as_json:
        _rotation_summary(outcome)
    elif not isinstance(reporter, JsonLinesReporter):
        emit_json(outcome.to_dict())
    if outcome.failed:
        names = "; ".join(f"{k}: {r}" for k, r in outcome.failed[:3])
        more = f" (and {len(outcome.failed) - 3} more)" if len(outcome.failed) > 3 else ""
        raise ObjectsFailedError(
            f"{len(outcome.failed)} object(s) not rotated: {names}{more}",
            hint="fix the cause and run `keys rotate` again: rotated objects are skipped",
        )


def _rotation_summary(outcome: Any) -> None:
    ok(
        f"rotated {outcome.rotated}, skipped {outcome.skipped} (already under "
        f"{outcome.new!r}), failed {len(outcome.failed)}; {outcome.recorded} manifest "
        f"record(s); {outcome.rate:.0f} objects/s"
    )
    datasets = ", ".join(outcome.datasets)
    stdout.print(
        plain(
            f"next: edit the plan so that {datasets} use key {outcome.new!r} instead of "
            f"{outcome.old!r}, run this rotation again (objects copied meanwhile), run "
            f"`hdh-migrate verify PLAN --mode full`, then destroy {outcome.old!r}"
        ),
        highlight=False,
    )

"""Generate docs/plan-reference.md from the model: every key with its type, default,
description and an example. Run ``python -m hdh_migrate.plan.reference > docs/plan-reference.md``.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from hdh_migrate.plan.cutover import Cutover, Freeze, Gates, Hook, SshTarget
from hdh_migrate.plan.keys import FileKey, FileSigningKey, Pkcs11Key, Pkcs11SigningKey
from hdh_migrate.plan.model import Plan
from hdh_migrate.plan.settings import Defaults, Estimates, Executor, ExecutorTls, Policy, Prices
from hdh_migrate.plan.sources import (
    AzureAuth,
    AzureBlobSource,
    LocalSource,
    S3Auth,
    S3Credentials,
    S3Source,
    SftpSource,
)
from hdh_migrate.plan.targets import HdsCertificate, LocalTarget, MemoryTarget, S3Target
from hdh_migrate.plan.types import (
    Bucket,
    Container,
    Duration,
    Endpoint,
    Name,
    Percent,
    Port,
    Rate,
    RuleId,
    Secret,
    Size,
    Text,
    Verify,
)
from hdh_migrate.plan.waves import Dataset, MetadataMapping, Wave

# (where the section sits in a plan, model) in reading order.
SECTIONS: tuple[tuple[str, type[BaseModel]], ...] = (
    ("(top level)", Plan),
    ("policy", Policy),
    ("sources.NAME (kind: azure_blob)", AzureBlobSource),
    ("sources.NAME (kind: s3)", S3Source),
    ("sources.NAME (kind: sftp)", SftpSource),
    ("sources.NAME (kind: local)", LocalSource),
    ("sources.NAME.credentials, targets.NAME.credentials", S3Credentials),
    ("sources.NAME.auth (kind: s3), targets.NAME.auth", S3Auth),
    ("sources.NAME.auth (kind: azure_blob)", AzureAuth),
    ("targets.NAME (kind: s3)", S3Target),
    ("targets.NAME (kind: memory, rehearsals only)", MemoryTarget),
    ("targets.NAME (kind: local, rehearsals only)", LocalTarget),
    ("targets.NAME.hds", HdsCertificate),
    ("keys.NAME (kind: file)", FileKey),
    ("keys.NAME (kind: pkcs11)", Pkcs11Key),
    ("signing (kind: file)", FileSigningKey),
    ("signing (kind: pkcs11)", Pkcs11SigningKey),
    ("defaults", Defaults),
    ("waves[]", Wave),
    ("waves[].datasets[]", Dataset),
    ("waves[].datasets[].metadata", MetadataMapping),
    ("waves[].cutover", Cutover),
    ("waves[].cutover.freeze", Freeze),
    ("waves[].cutover.gates", Gates),
    ("waves[].cutover.switch[], .rollback[], .freeze.hook, .freeze.unfreeze", Hook),
    ("….ssh", SshTarget),
    ("executor", Executor),
    ("executor.tls", ExecutorTls),
    ("estimates", Estimates),
    ("estimates.prices", Prices),
)

_VALUE_TYPES: tuple[tuple[Any, str], ...] = (
    (Secret, "secret reference"),
    (Size, "size"),
    (Rate, "rate"),
    (Percent, "percentage"),
    (Duration, "duration"),
    (Verify, "verification mode"),
    (Endpoint, "URL"),
    (Text, "text or ${env:NAME}"),
    (Name, "name"),
    (Bucket, "S3 bucket name"),
    (Container, "Azure container name"),
    (Port, "port"),
    (RuleId, "rule id (SOV-NN)"),
)
_IGNORED = ("description", "examples", "title", "default")
MIB = 1024**2

VALUE_TYPE_ROWS: tuple[tuple[str, str, str], ...] = (
    (
        "secret reference",
        "`${env:NAME}` or `${file:/path}`",
        "the only accepted form for secrets; resolved when a client is built, never printed. "
        "A literal secret is an error, and so is anything that looks like one anywhere in the "
        "plan (AWS key ids, `AccountKey=`, SAS `sig=`, private key blocks, passwords in URLs "
        "or commands).",
    ),
    (
        "text or ${env:NAME}",
        "`ops` or `${env:HDH_SFTP_USER}`",
        "a non-secret value that may come from the environment.",
    ),
    ("size", "`64MiB`, `5GB`, `1048576`", "units B, K/KB, KiB, M/MB, MiB, G/GB, GiB, T/TB, TiB."),
    ("rate", "`400MiB/s`", "a size per second."),
    ("percentage", "`100%`, `99.5%`", "between 0 and 100."),
    ("duration", "`300`, `90s`, `5m`, `1h`", "whole seconds."),
    (
        "verification mode",
        "`full`, `sample:5%`, `metadata`, `none`",
        "`full` reads back, decrypts and compares SHA-256; `sample:P%` does so for P % of "
        "objects plus the header and last segment of all; `metadata` compares HEAD only; "
        "`none` is refused by policy (SOV-12).",
    ),
    (
        "URL",
        "`https://s3.example.fr`",
        "`http://` only on a loopback host (127.0.0.1, ::1, localhost).",
    ),
    (
        "URL, S3 bucket name, Azure container name, port",
        "`${env:HDH_S3_ENDPOINT}`, `${env:HDH_SFTP_PORT:-22}`",
        "portable plans: these may be `${env:NAME}` or `${env:NAME:-default}` (used when NAME "
        "is unset or empty), resolved when the plan is loaded and then checked like a written "
        "value; an error names the reference, never the value. `run`, `rehearse`, `audit` "
        "and `probe` print every resolved endpoint first.",
    ),
    (
        "name",
        "`wave-2-dcir`",
        "letters, digits, `.`, `_`, `-`; at most 63; starts with a letter or digit.",
    ),
)

INTRO = """# Plan reference

<!-- Generated by `python -m hdh_migrate.plan.reference` from the model; do not edit. -->

A plan is one YAML file: `version`, `name`, `policy`, `sources`, `targets`, `keys`,
`signing`, `defaults`, `waves` (each with `datasets` and a `cutover`), `executor`,
`estimates`, `state_dir`. Check one with `hdh-migrate validate PLAN`; editors can use the
JSON Schema in `plans/plan.schema.json` (`hdh-migrate schema`). Commented examples:
`examples/*.yaml` (one per provider family) and `plans/rehearsal.yaml` (local stack).

{value_types}
A relative `state_dir` is taken from the plan file's directory (so `status` gives the same
answer from any directory); other relative paths (key files) resolve against the working
directory.

## Checks beyond the schema

`hdh-migrate validate` also checks: datasets name defined sources, targets and keys
(`defaults.key` too), with a did-you-mean; wave and dataset names are unique across the
plan; `depends_on` names existing waves and has no cycle; the provider preset exists,
has the region, and gets an `endpoint` (minio, seaweedfs, generic) or a `namespace`
(cloud-temple) when it needs one; a dataset uses `container` with azure_blob sources,
`bucket` with s3 sources and `path` with sftp/local sources; exactly one of
`account_url`/`connection_string` (azure_blob), of `key`/`key_file`/`password` (sftp), of
`key`/`key_file` (ssh), of `path`/`ref` (file keys); freeze `hook`/`unfreeze` exactly with
strategy `hook`; `two_person` needs `approvals` ≥ 2; `part_size` ≥ 5MiB; `buffer_memory`
≥ 16MiB; `circuit_open_after` ≤ 1h; a remote Dask scheduler needs TLS unless
`allow_insecure: true`. Warnings (exit 0): rehearsal plans, datasets without a key, TLS
verification off, rehearsal-only presets outside a rehearsal.
Whether a plan may *run* (sovereignty rules SOV-01 … SOV-16) is judged by
`hdh-migrate audit`.
"""


def render() -> str:
    """The whole reference document."""
    parts = [INTRO.replace("{value_types}", _value_types()), "## Sections\n", _toc()]
    parts += [_section(where, model) for where, model in SECTIONS]
    return "\n".join(parts).rstrip() + "\n"


def _value_types() -> str:
    rows = "".join(
        f"| {name} | {written} | {notes} |\n" for name, written, notes in VALUE_TYPE_ROWS
    )
    return "## Value types\n\n| type | written as | notes |\n|---|---|---|\n" + rows


def _anchor(model: type[BaseModel]) -> str:
    return model.__name__.lower()


def _toc() -> str:
    return "".join(f"- [`{where}`](#{_anchor(m)})\n" for where, m in SECTIONS)


def _section(where: str, model: type[BaseModel]) -> str:
    doc = " ".join(inspect.cleandoc(model.__doc__ or "").split())
    rows = [_row(name, field, model) for name, field in model.model_fields.items()]
    table = "| key | type | default | description | example |\n|---|---|---|---|---|\n"
    return f'<a id="{_anchor(model)}"></a>\n\n## `{where}`\n\n{doc}\n\n{table}' + "".join(rows)


def _row(name: str, field: FieldInfo, model: type[BaseModel]) -> str:
    schema = model.model_json_schema()["properties"][name]
    cells = (
        f"`{name}`",
        _type(schema),
        _default(field),
        _escape(field.description or ""),
        _example(field, schema),
    )
    return "| " + " | ".join(cells) + " |\n"


def _type(schema: dict[str, Any]) -> str:
    label = _known_label(schema)  # a value type whose own schema is an anyOf (Bucket, Port)
    if label:
        return label
    options = schema.get("anyOf") or [schema]
    names = [_type_one(o) for o in options if o.get("type") != "null"]
    optional = len(names) < len(options)
    return " or ".join(names) + (" (optional)" if optional else "")


def _type_one(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    label = _known_label(schema)
    if label:
        return label
    if "oneOf" in schema:
        return " or ".join(_type_one(o) for o in schema["oneOf"])
    if "enum" in schema or "const" in schema:
        values = schema.get("enum") or [schema.get("const")]
        return " \\| ".join(f"`{v}`" for v in values)
    kind = schema.get("type")
    if kind == "array":
        return f"list of {_type_one(schema.get('items', {}))}"
    if kind == "object":
        values = schema.get("additionalProperties") or next(
            iter(schema.get("patternProperties", {}).values()), {}
        )
        return f"mapping of name → {_type_one(values)}"
    return str(kind or "any")


def _known_label(schema: dict[str, Any]) -> str | None:
    key = _fingerprint(schema)
    return next((label for t, label in _VALUE_TYPES if _fingerprint(_schema_of(t)) == key), None)


def _schema_of(annotation: Any) -> dict[str, Any]:
    result: dict[str, Any] = TypeAdapter(annotation).json_schema()
    return result


def _fingerprint(schema: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in schema.items() if k not in _IGNORED}, sort_keys=True)


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "see section"
    if isinstance(value, int) and not isinstance(value, bool) and value and value % MIB == 0:
        return f"`{value // MIB}MiB`"
    if value is None or value is PydanticUndefined:
        return "—"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{json.dumps(value) if isinstance(value, list | dict) else value}`"


def _example(field: FieldInfo, schema: dict[str, Any]) -> str:
    examples = field.examples or []
    if not examples:
        return ""
    value = examples[0]
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return f"`{_escape(text)}`"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


if __name__ == "__main__":
    print(render(), end="")

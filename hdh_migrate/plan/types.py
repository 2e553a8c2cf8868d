"""Field types shared by the plan model: secret references, sizes, rates, names, URLs.

Each type validates a YAML scalar into a typed value and describes itself in the JSON
Schema as the string the user writes (``64MiB``, ``${env:NAME}``, ``sample:5%``).
Validators raise ``PydanticCustomError`` with a stable error type so the plan loader can
turn them into precise messages; none of them ever puts the input value in a message
that could hold a secret.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from hdh_migrate.redaction import resolved
from hdh_migrate.secrets import SecretRef, is_reference
from hdh_migrate.units import parse_percent, parse_rate, parse_size

REFERENCE_PATTERN = r"^\$\{(env|file):[^}]+\}$"
ENV_REFERENCE_PATTERN = r"^\$\{env:[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$"
"""``${env:NAME}`` or ``${env:NAME:-default}``: accepted by the public fields of portable
plans (endpoints, buckets, containers, hosts, ports), resolved at load (plan.portable)."""


def or_env_reference(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema accepting ``schema`` or an ``${env:…}`` reference (portable plans)."""
    reference = {"type": "string", "pattern": ENV_REFERENCE_PATTERN}
    return {"anyOf": [schema, reference], "examples": schema.get("examples", [])}


REFERENCE_REQUIRED = "literal_secret"  # error type the loader turns into a how-to-fix message


class StrictModel(BaseModel):
    """Base of every plan section: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _secret(value: Any) -> SecretRef:
    if isinstance(value, SecretRef):
        return value
    if isinstance(value, str) and is_reference(value):
        ref = SecretRef.parse(value)
        if ref.default is not None:
            raise PydanticCustomError(
                "secret_default",
                "a secret reference cannot have a default (it would be a secret written in "
                "the plan): write ${env:NAME}",
            )
        return ref
    if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
        raise PydanticCustomError(
            "secret_type", "expected a secret reference such as ${env:NAME} or ${file:/path}"
        )
    raise PydanticCustomError(REFERENCE_REQUIRED, "a secret must be written as a reference")


Secret = Annotated[
    SecretRef,
    PlainValidator(_secret),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": REFERENCE_PATTERN,
            "description": "A secret reference: ${env:NAME} or ${file:/path}; never a literal.",
            "examples": ["${env:OVH_S3_SECRET_KEY}", "${file:/etc/hdh/ovh-secret}"],
        }
    ),
]
"""A secret: only ``${env:NAME}`` or ``${file:PATH}``; resolved at use, never printed."""


def _text(value: Any) -> str:
    if isinstance(value, str) and value.strip():
        if is_reference(value) and SecretRef.parse(value).scheme == "file":
            raise PydanticCustomError(
                "file_reference_in_text",
                "${file:…} is only for secrets; give the value itself or ${env:NAME}",
            )
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise PydanticCustomError("text_type", "expected a non-empty string")


Text = Annotated[
    str,
    PlainValidator(_text),
    WithJsonSchema({"type": "string", "minLength": 1}),
]
"""A non-secret string that may also be a ``${env:NAME}`` reference resolved at use."""


def resolve_text(value: str) -> str:
    """A ``Text`` value as used: a ``${env:…}`` reference is resolved (and the value is
    never echoed: see ``hdh_migrate.redaction``)."""
    if not is_reference(value):
        return value
    return resolved(value.strip(), SecretRef.parse(value).reveal())


def _size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PydanticCustomError("size_type", "expected a size such as 64MiB, 5GB or 1048576")
    try:
        return parse_size(value)
    except ValueError:
        raise PydanticCustomError(
            "size_parsing", "expected a size such as 64MiB, 5GB or 1048576"
        ) from None


Size = Annotated[
    int,
    PlainValidator(_size),
    WithJsonSchema(
        {
            "type": ["string", "integer"],
            "pattern": r"^\s*\d+(\.\d+)?\s*([kKmMgGtT]i?[bB]?|[bB])?\s*$",
            "minimum": 0,
            "examples": ["64MiB", "5GB", 1048576],
        }
    ),
]
"""A byte size: ``64MiB``, ``5GB`` or a plain number of bytes."""


def _rate(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PydanticCustomError("rate_type", "expected a rate such as 400MiB/s")
    try:
        rate = parse_rate(value)
    except ValueError:
        raise PydanticCustomError("rate_parsing", "expected a rate such as 400MiB/s") from None
    if rate <= 0:
        raise PydanticCustomError("rate_parsing", "expected a rate above zero, such as 400MiB/s")
    return rate


Rate = Annotated[
    int,
    PlainValidator(_rate),
    WithJsonSchema(
        {
            "type": ["string", "integer"],
            "pattern": r"^\s*\d+(\.\d+)?\s*([kKmMgGtT]i?[bB]?|[bB])?(/s)?\s*$",
            "examples": ["400MiB/s", "1GB/s"],
        }
    ),
]
"""A transfer rate in bytes per second: ``400MiB/s``."""


def _percent(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PydanticCustomError("percent_type", "expected a percentage such as 100%")
    try:
        return parse_percent(value)
    except ValueError:
        raise PydanticCustomError(
            "percent_parsing", "expected a percentage between 0% and 100%, such as 100%"
        ) from None


Percent = Annotated[
    float,
    PlainValidator(_percent),
    WithJsonSchema(
        {
            "type": ["string", "number"],
            "pattern": r"^\s*\d+(\.\d+)?\s*%?\s*$",
            "examples": ["100%", "99.5%"],
        }
    ),
]
"""A percentage between 0 and 100: ``100%``."""

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h)?\s*$")
_SECONDS = {None: 1, "s": 1, "m": 60, "h": 3600}


def _duration(value: Any) -> int:
    match = _DURATION.match(str(value)) if isinstance(value, str | int) else None
    if isinstance(value, bool) or match is None or int(match.group(1)) <= 0:
        raise PydanticCustomError("duration_parsing", "expected a duration such as 300, 90s, 5m")
    return int(match.group(1)) * _SECONDS[match.group(2)]


Duration = Annotated[
    int,
    PlainValidator(_duration),
    WithJsonSchema(
        {
            "type": ["string", "integer"],
            "pattern": r"^\s*\d+\s*(s|m|h)?\s*$",
            "examples": ["300", "90s", "5m", "1h"],
        }
    ),
]
"""A duration in whole seconds: ``300``, ``90s``, ``5m``, ``1h``."""


@dataclass(frozen=True)
class VerifyMode:
    """How a dataset is verified: ``full``, ``sample`` (with a percentage), ``metadata``,
    or ``none`` (accepted by the language, refused by policy SOV-12)."""

    kind: Literal["full", "sample", "metadata", "none"]
    percent: float | None = None

    @classmethod
    def parse(cls, text: str) -> VerifyMode:
        text = text.strip()
        if text in ("full", "metadata", "none"):
            return cls(text)  # type: ignore[arg-type]
        if text.startswith("sample:"):
            percent = parse_percent(text.removeprefix("sample:"))
            if percent <= 0:
                raise ValueError("a sample must be above 0%")
            return cls("sample", percent)
        raise ValueError("unknown verification mode")

    def __str__(self) -> str:
        return f"sample:{self.percent:g}%" if self.kind == "sample" else self.kind


def _verify(value: Any) -> VerifyMode:
    if isinstance(value, VerifyMode):
        return value
    expected = "expected full, metadata, none or sample:P% with 0 < P ≤ 100"
    if not isinstance(value, str):
        raise PydanticCustomError("verify_mode", expected)
    try:
        return VerifyMode.parse(value)
    except ValueError:
        raise PydanticCustomError("verify_mode", expected) from None


Verify = Annotated[
    VerifyMode,
    PlainValidator(_verify),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^(full|metadata|none|sample:\d+(\.\d+)?%)$",
            "examples": ["full", "sample:5%", "metadata"],
        }
    ),
]
"""A verification mode: ``full`` | ``sample:P%`` | ``metadata`` | ``none``."""

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
"""A name other parts of the plan refer to: letters, digits, ``.``, ``_``, ``-`` (≤ 63)."""

BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
Bucket = Annotated[
    str,
    StringConstraints(pattern=BUCKET_PATTERN),
    WithJsonSchema(or_env_reference({"type": "string", "pattern": BUCKET_PATTERN})),
]
"""An S3 bucket name: 3–63 lowercase letters, digits, dots and hyphens."""

CONTAINER_PATTERN = r"^(\$root|[a-z0-9][a-z0-9-]{1,61}[a-z0-9])$"


def _container(value: str) -> str:
    if "--" in value:
        raise PydanticCustomError(
            "string_pattern_mismatch", "invalid format", {"pattern": CONTAINER_PATTERN}
        )
    return value


Container = Annotated[
    str,
    StringConstraints(pattern=CONTAINER_PATTERN),
    AfterValidator(_container),
    WithJsonSchema(or_env_reference({"type": "string", "pattern": CONTAINER_PATTERN})),
]
"""An Azure container name: 3–63 lowercase letters, digits and single hyphens."""

RULE_PATTERN = r"^SOV-\d{2}$"
RuleId = Annotated[str, StringConstraints(pattern=RULE_PATTERN)]
"""A sovereignty rule id such as ``SOV-09``."""

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _endpoint(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("url_type", "expected an https:// URL")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError(
            "url_scheme", "expected an https:// URL (http:// only on a loopback host)"
        )
    if parts.username is not None or parts.query or parts.fragment:
        raise PydanticCustomError(
            "url_parts",
            "an endpoint URL carries no user info, query or fragment: credentials go under "
            "credentials:, as references",
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise PydanticCustomError(
            "url_insecure",
            "plain http:// is allowed only on a loopback host (127.0.0.1, localhost): use https://",
        )
    return value.strip().rstrip("/")


Endpoint = Annotated[
    str,
    PlainValidator(_endpoint),
    WithJsonSchema(
        or_env_reference(
            {
                "type": "string",
                "pattern": r"^https?://",
                "format": "uri",
                "examples": ["https://s3.example.fr", "${env:HDH_S3_ENDPOINT}"],
            }
        )
    ),
]
"""An endpoint URL: ``https://…``; ``http://`` only on a loopback host."""


Port = Annotated[
    int,
    Field(ge=1, le=65535),
    WithJsonSchema(or_env_reference({"type": "integer", "minimum": 1, "maximum": 65535})),
]
"""A TCP port, 1–65535, or ``${env:NAME:-22}`` (resolved at load, then checked)."""

"""A wave's cutover: how the source is frozen, which gates must pass, which hooks switch
the readers over to the target and which bring them back."""

from __future__ import annotations

import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from hdh_migrate.plan.types import Duration, Percent, Port, Secret, StrictModel, Text

_DAY = r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
WINDOW_PATTERN = rf"^(?:{_DAY} )?(\d{{2}}):(\d{{2}})-(?:{_DAY} )?(\d{{2}}):(\d{{2}}) (\S+)$"


def _window(value: str) -> str:
    match = re.match(WINDOW_PATTERN, value.strip())
    expected = "expected a window such as 'Sat 22:00-Sun 06:00 Europe/Paris'"
    if match is None or any(int(match.group(i)) > 23 for i in (2, 5)):
        raise PydanticCustomError("window_format", expected)
    if any(int(match.group(i)) > 59 for i in (3, 6)):
        raise PydanticCustomError("window_format", expected)
    try:
        ZoneInfo(match.group(7))
    except (ZoneInfoNotFoundError, ValueError):
        raise PydanticCustomError(
            "window_timezone", "unknown time zone: use an IANA name such as Europe/Paris"
        ) from None
    return value.strip()


Window = Annotated[str, AfterValidator(_window)]


class SshTarget(StrictModel):
    """Run a hook over SSH. The host key is verified against ``known_hosts``, always.
    Authenticate with ``key`` (a secret reference to the key text) or ``key_file``."""

    host: Text = Field(description="Host name or address.", examples=["bastion.hdh.internal"])
    port: Port = Field(default=22, description="TCP port (may be a ${env:NAME:-22} reference).")
    user: Text = Field(description="Login name (may be a ${env:NAME} reference).", examples=["ops"])
    key: Secret | None = Field(
        default=None,
        description="Reference to the private key text (PEM/OpenSSH). Exactly one of key and "
        "key_file.",
        examples=["${file:/etc/hdh/ops_ed25519}"],
    )
    key_file: Text | None = Field(
        default=None,
        description="Path of the private key file (may be a ${env:NAME} reference to the path).",
        examples=["${env:HDH_SFTP_KEY}"],
    )
    known_hosts: Text = Field(
        description="Path of the known_hosts file pinning the host key (may be a "
        "${env:NAME} reference).",
        examples=["/etc/hdh/known_hosts"],
    )


class Hook(StrictModel):
    """A command run locally, or over SSH when ``ssh`` is given. It receives the
    environment HDH_TARGET_ENDPOINT, HDH_TARGET_BUCKET, HDH_TARGET_PREFIX, HDH_WAVE."""

    run: str = Field(
        min_length=1,
        description="Shell command line.",
        examples=['/opt/hdh/bin/point-readers-to --endpoint "$HDH_TARGET_ENDPOINT"'],
    )
    ssh: SshTarget | None = Field(
        default=None, description="Run on this SSH host instead of locally."
    )
    timeout: Duration = Field(
        default=300, description="Seconds before the hook is killed and fails."
    )
    retries: int = Field(
        default=0,
        ge=0,
        le=10,
        description="Attempts after a failure; only for hooks that are safe to repeat.",
    )


class Freeze(StrictModel):
    """How writes to the source are stopped before the final delta."""

    strategy: Literal["leases", "hook", "manual"] = Field(
        description="leases: infinite blob leases (Azure); hook: run freeze/unfreeze commands; "
        "manual: an operator confirms.",
        examples=["leases"],
    )
    hook: Hook | None = Field(default=None, description="With strategy hook: revokes write access.")
    unfreeze: Hook | None = Field(
        default=None, description="With strategy hook: restores write access (used by rollback)."
    )


class Gates(StrictModel):
    """Conditions checked before switching; a refused gate exits 6."""

    verified: Percent = Field(default=100.0, description="Share of objects verified, at least.")
    max_delta_objects: int = Field(
        default=0,
        ge=0,
        description="Largest residual delta (objects changed after freeze) accepted.",
    )
    approvals: int = Field(
        default=0,
        ge=0,
        description="Approvals required (quorum). With allowed_signers: distinct keys whose SSH "
        "signatures verify (--approval FILE.sig); without: names given with --approve NAME "
        "(profile rehearsal only).",
    )
    allowed_signers: Text | None = Field(
        default=None,
        description="OpenSSH allowed_signers file (ssh-keygen ALLOWED SIGNERS format) naming "
        "who may approve this wave; then only signed approvals count. Relative paths resolve "
        "against the working directory.",
        examples=["/etc/hdh/approvers/allowed_signers"],
    )
    roles: dict[Text, list[Text]] = Field(
        default_factory=dict,
        description="Roles that must each sign at least once: role -> principals (patterns "
        "as in allowed_signers) holding it. Needs allowed_signers.",
        examples=[{"rssi": ["alice@hdh.example"], "dpo": ["bob@hdh.example"]}],
    )
    approval_max_age: Duration = Field(
        default=7 * 86400,
        description="Oldest signed approval statement accepted (its timestamp).",
        examples=["72h"],
    )
    two_person: bool = Field(
        default=False, description="Require two distinct approvers other than the operator."
    )
    require_full_readback: bool = Field(
        default=False,
        description="Refuse the switch until every object was verified by a full read-back "
        "(a sampled or metadata-only verification does not count): run "
        "`hdh-migrate verify PLAN --mode full` first.",
    )
    window: Window | None = Field(
        default=None,
        description="Time window in which the switch may happen: '[Day ]HH:MM-[Day ]HH:MM Zone'.",
        examples=["Sat 22:00-Sun 06:00 Europe/Paris"],
    )

    @model_validator(mode="after")
    def _roles_need_signers(self) -> Gates:
        if self.roles and self.allowed_signers is None:
            raise PydanticCustomError(
                "roles_without_signers", "roles need allowed_signers (who holds which key)"
            )
        return self


class Cutover(StrictModel):
    """Freeze, gates, switch and rollback of one wave."""

    freeze: Freeze = Field(description="How the source is frozen.")
    gates: Gates = Field(
        default_factory=lambda: Gates(), description="Gates checked before the switch."
    )
    switch: list[Hook] = Field(
        default_factory=list, description="Hooks pointing the readers to the target, in order."
    )
    rollback: list[Hook] = Field(
        default_factory=list, description="Hooks pointing the readers back to the source."
    )

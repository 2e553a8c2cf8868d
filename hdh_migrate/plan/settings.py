"""Plan-wide settings: policy, defaults, executor, estimates."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hdh_migrate.plan.types import (
    Duration,
    Name,
    Rate,
    RuleId,
    Size,
    StrictModel,
    Text,
    Verify,
    VerifyMode,
)
from hdh_migrate.units import (
    DEFAULT_BUFFER_MEMORY,
    DEFAULT_MULTIPART_THRESHOLD,
    DEFAULT_PART_SIZE,
)

Severity = Literal["block", "warn", "info"]


class Policy(StrictModel):
    """The sovereignty policy the audit applies (rules SOV-01 … SOV-16). Validation only
    checks that the policy is well formed; ``hdh-migrate audit`` judges the plan."""

    profile: Literal["hdh", "rehearsal"] = Field(
        default="hdh",
        description="hdh: France only, qualified services only, client-side encryption and "
        "verification required. rehearsal: local targets allowed, flagged in every report.",
    )
    allowed_regions: list[str] = Field(
        default_factory=list,
        description="Target regions allowed (SOV-01); empty = the profile's default.",
        examples=[["eu-west-rbx-snc", "fr1", "u-france-east1", "cloudgouv-eu-west-1"]],
    )
    require_client_side_encryption: bool = Field(
        default=True,
        description="Every dataset is encrypted client-side under a customer-held key.",
    )
    require_verification: bool = Field(
        default=True, description="Every dataset is verified (a mode other than none)."
    )
    rehearsal: bool = Field(
        default=False,
        description="Marks a rehearsal plan: local targets are accepted and every report says "
        "loudly that nothing here is sovereign.",
    )
    severity: dict[RuleId, Severity] = Field(
        default_factory=dict,
        description="Override the severity of a rule.",
        examples=[{"SOV-09": "block", "SOV-13": "info"}],
    )


class Defaults(StrictModel):
    """Values a dataset inherits unless it sets its own."""

    key: Name | None = Field(
        default=None, description="Key-encryption key (a name under keys).", examples=["hsm-kek"]
    )
    verify: Verify = Field(
        default=VerifyMode("full"),
        description="Verification: full | sample:P% | metadata | none.",
        examples=["full", "sample:5%"],
    )
    concurrency: int = Field(
        default=8, ge=1, le=1024, description="Parallel transfers per dataset."
    )
    bandwidth: Rate | None = Field(
        default=None, description="Global bandwidth limit; none = unlimited.", examples=["400MiB/s"]
    )
    part_size: Size = Field(
        default=DEFAULT_PART_SIZE, description="Multipart part size.", examples=["64MiB"]
    )
    multipart_threshold: Size = Field(
        default=DEFAULT_MULTIPART_THRESHOLD,
        description="Objects at least this large are uploaded in parts.",
        examples=["64MiB"],
    )
    buffer_memory: Size = Field(
        default=DEFAULT_BUFFER_MEMORY,
        description="Bytes the copies of one process (the run, or each Dask worker) may hold "
        "in buffers at once: source read-ahead and upload parts, shared by every transfer; "
        "an object needing more runs alone. Peak RSS is about 90 MiB + this; lower it on "
        "small machines at a throughput cost (docs/benchmarks.md).",
        examples=["160MiB", "64MiB"],
    )
    retries: int = Field(
        default=5, ge=0, le=100, description="Attempts after the first, per object."
    )
    circuit_open_after: Duration = Field(  # at most 1h: plan.references
        default=20,
        description="An endpoint that refuses every connection for this long stops the run "
        "(exit 8, the endpoint named); the next run resumes once it is back.",
        examples=["20s", "2m"],
    )


class ExecutorTls(StrictModel):
    """TLS material to reach a Dask scheduler."""

    ca_file: Text = Field(description="CA certificate (PEM path).")
    cert_file: Text = Field(description="Client certificate (PEM path).")
    key_file: Text = Field(description="Client private key (PEM path).")


class Executor(StrictModel):
    """Where copy tasks run."""

    kind: Literal["serial", "threads", "dask"] = Field(
        default="threads", description="serial (debugging), threads (default) or dask."
    )
    scheduler: str | None = Field(
        default=None,
        description="Dask scheduler address (tcp:// on loopback, else tls://); omitted = a "
        "local cluster of worker processes.",
        examples=["tls://dask.hdh.internal:8786"],
    )
    workers: int | None = Field(
        default=None,
        ge=1,
        le=4096,
        description="Worker threads (threads), or worker processes of a local Dask cluster.",
    )
    threads_per_worker: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="Threads in each local Dask worker process; omitted = concurrency / workers.",
    )
    tls: ExecutorTls | None = Field(default=None, description="TLS for the Dask connection.")
    allow_insecure: bool = Field(
        default=False, description="Accept a non-loopback Dask scheduler without TLS (not advised)."
    )


class Prices(StrictModel):
    """Prices used by the audit's cost estimate."""

    egress_per_gib: float = Field(default=0.0, ge=0, description="Source egress per GiB.")
    put_per_1000: float = Field(default=0.0, ge=0, description="Target PUT requests per 1,000.")
    get_per_1000: float = Field(default=0.0, ge=0, description="Source GET requests per 1,000.")
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")


class Estimates(StrictModel):
    """Inputs of the audit's duration and cost estimates."""

    bandwidth: Rate | None = Field(
        default=None,
        description="Expected throughput; omitted = defaults.bandwidth, else measured.",
        examples=["300MiB/s"],
    )
    prices: Prices | None = Field(default=None, description="Prices; omitted = no cost estimate.")

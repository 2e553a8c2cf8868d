"""Waves of datasets: what is copied from where to where, and in which order."""

from __future__ import annotations

from pydantic import Field

from hdh_migrate.plan.cutover import Cutover
from hdh_migrate.plan.types import Bucket, Container, Name, StrictModel, Verify


class MetadataMapping(StrictModel):
    """How source user metadata is carried to the target object."""

    carry_user_metadata: bool = Field(
        default=True, description="Copy user metadata (x-ms-meta-* → x-amz-meta-*)."
    )
    rename: dict[str, str] = Field(
        default_factory=dict,
        description="Metadata names to rename: source name → target name.",
        examples=[{"extraction_date": "hdh-extraction-date"}],
    )
    drop: list[str] = Field(
        default_factory=list,
        description="Metadata names never carried.",
        examples=[["owner_email"]],
    )


class Dataset(StrictModel):
    """A set of objects under one prefix, copied from a source to a target."""

    name: Name = Field(description="Unique across the plan.", examples=["dcir-2019"])
    source: Name = Field(description="A name under sources.", examples=["azure-hdh"])
    container: Container | None = Field(
        default=None,
        description="Azure container (azure_blob sources; defaults to the source's).",
        examples=["snds"],
    )
    bucket: Bucket | None = Field(
        default=None, description="Bucket (s3 sources; defaults to the source's)."
    )
    path: str | None = Field(
        default=None, description="Directory under the source root (sftp and local sources)."
    )
    prefix: str = Field(default="", description="Only objects whose key starts with this.")
    include: list[str] = Field(
        default_factory=list,
        description="Glob patterns selecting objects; empty = everything. A pattern without / "
        "matches the object's base name, one with / the key relative to prefix (* crosses /).",
        examples=[["*.parquet", "*.csv.gz"]],
    )
    exclude: list[str] = Field(
        default_factory=list,
        description="Glob patterns excluded after include (same matching rule).",
        examples=[["*.tmp", "_SUCCESS"]],
    )
    target: Name = Field(description="A name under targets.", examples=["ovh-snc-rbx"])
    target_prefix: str = Field(
        default="",
        description="Prepended to the key relative to prefix.",
        examples=["snds/dcir/2019/"],
    )
    key: Name | None = Field(
        default=None, description="Key-encryption key (a name under keys); defaults.key otherwise."
    )
    verify: Verify | None = Field(
        default=None,
        description="Verification mode; defaults.verify otherwise.",
        examples=["sample:5%"],
    )
    concurrency: int | None = Field(
        default=None,
        ge=1,
        le=1024,
        description="Parallel transfers; defaults.concurrency otherwise.",
    )
    metadata: MetadataMapping = Field(
        default_factory=lambda: MetadataMapping(), description="Metadata mapping."
    )


class Wave(StrictModel):
    """Datasets migrated, verified and cut over together."""

    name: Name = Field(description="Unique across the plan.", examples=["wave-2-dcir"])
    depends_on: list[Name] = Field(
        default_factory=list,
        description="Waves that must be finalized before this one cuts over.",
        examples=[["wave-1-referentiels"]],
    )
    datasets: list[Dataset] = Field(min_length=1, description="At least one dataset.")
    cutover: Cutover | None = Field(
        default=None, description="How this wave is frozen, gated and switched over."
    )

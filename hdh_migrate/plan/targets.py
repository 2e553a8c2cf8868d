"""Where data is written: ``targets.<name>``, an S3 bucket on a provider preset, or (under
the rehearsal profile only) an in-process store or a local directory."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from hdh_migrate.plan.sources import (
    S3Auth,
    S3Credentials,
    ca_bundle_field,
    s3_auth_field,
    s3_credentials_field,
)
from hdh_migrate.plan.types import Bucket, Endpoint, Name, Secret, StrictModel, Text


class HdsCertificate(StrictModel):
    """The HDS (Hébergeur de Données de Santé) certificate covering the target service."""

    reference: str = Field(description="Certificate reference.", examples=["HDS-2024-0123"])
    issued: date = Field(description="Issue date (YYYY-MM-DD).", examples=["2024-03-01"])
    expires: date = Field(description="Expiry date (YYYY-MM-DD).", examples=["2027-02-28"])
    scope: str = Field(default="", description="Activities covered, as written on the certificate.")


class S3Target(StrictModel):
    """An S3 bucket at a provider. The preset gives endpoint, addressing, checksum mode and
    qualification facts; fields here override it only where the service needs it."""

    kind: Literal["s3"] = Field(description="Selects this target kind.")
    provider: str = Field(
        description="Provider preset: ovh, ovh-snc, cloud-temple, s3ns, outscale, scaleway, "
        "minio, seaweedfs or generic (see hdh-migrate providers).",
        examples=["ovh-snc"],
    )
    region: str = Field(
        description="Region of the preset; presets without a region list accept any name.",
        examples=["eu-west-rbx-snc"],
    )
    bucket: Bucket = Field(description="Bucket written to.", examples=["hdh-snds"])
    endpoint: Endpoint | None = Field(
        default=None,
        description="Explicit endpoint; required for minio, seaweedfs and generic, otherwise "
        "derived from the preset.",
        examples=["http://127.0.0.1:8333"],
    )
    namespace: str | None = Field(
        default=None,
        description="Value of {namespace} in the preset's endpoint template (Cloud Temple).",
        examples=["hdh-prod"],
    )
    auth: S3Auth = s3_auth_field()
    credentials: S3Credentials | None = s3_credentials_field()
    sse_c_key: Secret | None = Field(
        default=None,
        description="Optional SSE-C key (a second layer on top of client-side encryption).",
        examples=["${file:/etc/hdh/ssec.key}"],
    )
    verify_tls: bool = Field(
        default=True,
        description="Verify the server's TLS certificate (policy SOV-07 blocks false).",
    )
    ca_bundle: Text | None = ca_bundle_field()
    addressing_style: Literal["path", "virtual", "auto"] | None = Field(
        default=None, description="Override the preset's addressing style."
    )
    checksum_mode: Literal["when_required", "when_supported"] | None = Field(
        default=None, description="Override the preset's request checksum mode."
    )
    signature: Literal["s3v4", "s3"] | None = Field(
        default=None, description="Override the preset's signature version."
    )
    storage_class: str | None = Field(
        default=None,
        description="Storage class sent with each PUT (never derived from Azure tiers).",
    )
    hds: HdsCertificate | None = Field(
        default=None, description="HDS certificate of the target service (policy SOV-06)."
    )
    replicas: list[Name] = Field(
        default_factory=list,
        description="Other targets holding replicas or backups of this one (policy SOV-04).",
    )

    @property
    def location(self) -> str:
        """Where objects land, for messages and records: the bucket."""
        return self.bucket


class MemoryTarget(StrictModel):
    """An in-process store (rehearsals and tests): objects live as long as the process.
    Accepted only under ``policy.profile: rehearsal``."""

    kind: Literal["memory"] = Field(description="Selects this target kind.")
    store: str = Field(
        description="Name of the store; backends opened on the same name in one process "
        "share its objects.",
        examples=["rehearsal-target"],
    )

    @property
    def location(self) -> str:
        return self.store


class LocalTarget(StrictModel):
    """A local directory (rehearsals, staging): objects as files, metadata beside them.
    Accepted only under ``policy.profile: rehearsal``."""

    kind: Literal["local"] = Field(description="Selects this target kind.")
    path: Text = Field(description="Directory written to.", examples=["/srv/rehearsal-target"])

    @property
    def location(self) -> str:
        return self.path


Target = Annotated[S3Target | MemoryTarget | LocalTarget, Field(discriminator="kind")]
"""One target, selected by its ``kind``."""

"""The plan language: a YAML file → a typed, validated, immutable ``Plan``.

    from hdh_migrate.plan import load_plan
    plan = load_plan("plans/rehearsal.yaml")          # raises InvalidPlan (exit 2)
    for wave, dataset in plan.iter_datasets():
        settings = plan.effective(dataset)             # defaults applied, names resolved

Secrets stay ``SecretRef`` references until a client is built. Modules: ``types`` (field
types), ``sources``/``targets``/``keys``/``waves``/``cutover``/``settings`` (sections),
``model`` (the root), ``loader`` (YAML with positions), ``errors`` (pydantic → PlanError),
``secrets_scan``, ``references``/``field_rules`` (cross-checks), ``check`` (the pipeline),
``summary`` (what validate prints), ``schema`` and ``reference`` (JSON Schema and docs).
"""

from __future__ import annotations

from hdh_migrate.plan.check import CheckResult, check_plan, check_text, load_plan
from hdh_migrate.plan.cutover import Cutover, Freeze, Gates, Hook, SshTarget
from hdh_migrate.plan.errors import InvalidPlan
from hdh_migrate.plan.keys import FileKey, FileSigningKey, Key, Pkcs11Key, Pkcs11SigningKey
from hdh_migrate.plan.model import EffectiveDataset, Plan
from hdh_migrate.plan.settings import Defaults, Estimates, Executor, Policy, Prices
from hdh_migrate.plan.sources import (
    AzureAuth,
    AzureBlobSource,
    LocalSource,
    S3Auth,
    S3Credentials,
    S3Source,
    SftpSource,
    Source,
)
from hdh_migrate.plan.targets import HdsCertificate, LocalTarget, MemoryTarget, S3Target, Target
from hdh_migrate.plan.types import VerifyMode, resolve_text
from hdh_migrate.plan.waves import Dataset, MetadataMapping, Wave

__all__ = [
    "AzureAuth",
    "AzureBlobSource",
    "CheckResult",
    "Cutover",
    "Dataset",
    "Defaults",
    "EffectiveDataset",
    "Estimates",
    "Executor",
    "FileKey",
    "FileSigningKey",
    "Freeze",
    "Gates",
    "HdsCertificate",
    "Hook",
    "InvalidPlan",
    "Key",
    "LocalSource",
    "LocalTarget",
    "MemoryTarget",
    "MetadataMapping",
    "Pkcs11Key",
    "Pkcs11SigningKey",
    "Plan",
    "Policy",
    "Prices",
    "S3Auth",
    "S3Credentials",
    "S3Source",
    "S3Target",
    "SftpSource",
    "Source",
    "SshTarget",
    "Target",
    "VerifyMode",
    "Wave",
    "check_plan",
    "check_text",
    "load_plan",
    "resolve_text",
]

"""A source object's headers and metadata as the target will hold them, after the plan's
``metadata`` rules (drop, rename, carry) and the Azure → S3 mapping rules
(docs/metadata-mapping.md). Anything not carried is named in the report."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from hdh_migrate.backends.base import ObjectInfo
from hdh_migrate.backends.metadata_map import MappedMetadata, map_azure_to_s3

#: The tool's own user metadata on every encrypted object. No plaintext digest here: on a
#: small record it would confirm a guessed content.
FORMAT_METADATA = {"hdh-format": "HDH1"}


def target_metadata(
    info: ObjectInfo,
    *,
    carry: bool = True,
    rename: Iterable[tuple[str, str]] = (),
    drop: Iterable[str] = (),
) -> tuple[MappedMetadata, list[str]]:
    """(what to write, names the plan chose not to carry)."""
    dropped = {name.lower() for name in drop}
    renames = {old.lower(): new for old, new in rename}
    kept: dict[str, str] = {}
    left: list[str] = []
    for name, value in info.metadata.items():
        if not carry or name.lower() in dropped:
            left.append(f"metadata:{name}")
            continue
        kept[renames.get(name.lower(), name)] = value
    mapped = map_azure_to_s3(replace(info, metadata=kept), FORMAT_METADATA)
    return mapped, left


def not_carried(mapped: MappedMetadata, by_plan: list[str]) -> tuple[str, ...]:
    """Every item left behind, the plan's choices marked as such."""
    return tuple(mapped.report.not_carried()) + tuple(f"{n} (plan)" for n in by_plan)


def as_pairs(mapping: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(mapping.items()))

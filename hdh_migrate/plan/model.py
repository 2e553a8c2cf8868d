"""The plan: one typed, immutable document, with resolved views for the stages.

Build it with ``hdh_migrate.plan.load_plan`` (which adds file:line:column errors and the
cross-reference checks); the model alone checks shapes and types.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr

from hdh_migrate.plan.keys import Key, SigningKey
from hdh_migrate.plan.settings import Defaults, Estimates, Executor, Policy
from hdh_migrate.plan.sources import Source
from hdh_migrate.plan.targets import Target
from hdh_migrate.plan.types import Name, StrictModel, VerifyMode
from hdh_migrate.plan.waves import Dataset, Wave

PLAN_VERSION = 1


@dataclass(frozen=True)
class EffectiveDataset:
    """A dataset with every default applied and its references resolved."""

    wave: Wave
    dataset: Dataset
    source: Source
    target: Target
    key_name: str | None
    key: Key | None
    verify: VerifyMode
    concurrency: int
    bandwidth: int | None
    part_size: int
    multipart_threshold: int
    buffer_memory: int
    retries: int
    location: str | None  # container (azure_blob), bucket (s3) or path (sftp/local)

    @property
    def name(self) -> str:
        return self.dataset.name


class Plan(StrictModel):
    """A migration plan: sources, targets, keys, policy, defaults and ordered waves."""

    version: Literal[1] = Field(description="Plan language version; only 1 exists.")
    name: Name = Field(
        description="Plan name; names the state directory.", examples=["hdh-snds-2026"]
    )
    description: str | None = Field(default=None, description="Free text for reviewers.")
    policy: Policy = Field(default_factory=lambda: Policy(), description="Sovereignty policy.")
    sources: dict[Name, Source] = Field(min_length=1, description="Where data is read.")
    targets: dict[Name, Target] = Field(min_length=1, description="Where data is written.")
    keys: dict[Name, Key] = Field(
        default_factory=dict, description="Customer-held key-encryption keys."
    )
    signing: SigningKey | None = Field(
        default=None, description="Key that signs manifest checkpoints (Ed25519)."
    )
    defaults: Defaults = Field(
        default_factory=lambda: Defaults(), description="Values datasets inherit."
    )
    waves: list[Wave] = Field(min_length=1, description="Waves, migrated in order.")
    executor: Executor = Field(
        default_factory=lambda: Executor(), description="Where copy tasks run."
    )
    estimates: Estimates = Field(
        default_factory=lambda: Estimates(), description="Inputs of the audit's estimates."
    )
    state_dir: str | None = Field(
        default=None,
        description="Journal and manifest directory; a relative path is taken from the plan "
        "file's directory; default .hdh-migrate/<name> next to the plan file.",
        examples=["/var/lib/hdh-migrate/snds-2026"],
    )
    _base: Path | None = PrivateAttr(default=None)

    def anchored(self, plan_file: Path) -> Plan:
        """This plan, read from ``plan_file``: a relative ``state_dir`` is taken from the
        file's directory, whatever the working directory of the command."""
        self._base = plan_file.absolute().parent
        return self

    @property
    def state_path(self) -> Path:
        """Where the journal and manifest live: ``state_dir`` (or ``.hdh-migrate/<name>``)
        from the plan file's directory. A plan that set no ``state_dir`` and whose state
        an older version kept under the working directory keeps using that one."""
        root = Path(self.state_dir) if self.state_dir else Path(".hdh-migrate") / self.name
        if root.is_absolute() or self._base is None:
            return root
        anchored = self._base / root
        if not self.state_dir and not anchored.exists() and (root / "journal.sqlite").exists():
            return root.absolute()  # the working-directory default of earlier versions
        return anchored

    def iter_datasets(self) -> Iterator[tuple[Wave, Dataset]]:
        """Every dataset with its wave, in plan order."""
        for wave in self.waves:
            for dataset in wave.datasets:
                yield wave, dataset

    def wave(self, name: str) -> Wave:
        """The named wave; KeyError when absent."""
        for wave in self.waves:
            if wave.name == name:
                return wave
        raise KeyError(name)

    def dataset(self, name: str) -> Dataset:
        """The named dataset; KeyError when absent."""
        return self._find(name)[1]

    def wave_of(self, dataset: Dataset | str) -> Wave:
        """The wave holding a dataset."""
        return self._find(dataset if isinstance(dataset, str) else dataset.name)[0]

    def effective(self, dataset: Dataset | str) -> EffectiveDataset:
        """The dataset with defaults applied and source, target and key resolved."""
        wave, found = self._find(dataset if isinstance(dataset, str) else dataset.name)
        key_name = found.key or self.defaults.key
        source = self.sources[found.source]
        return EffectiveDataset(
            wave=wave,
            dataset=found,
            source=source,
            target=self.targets[found.target],
            key_name=key_name,
            key=self.keys[key_name] if key_name else None,
            verify=found.verify or self.defaults.verify,
            concurrency=found.concurrency or self.defaults.concurrency,
            bandwidth=self.defaults.bandwidth,
            part_size=self.defaults.part_size,
            multipart_threshold=self.defaults.multipart_threshold,
            buffer_memory=self.defaults.buffer_memory,
            retries=self.defaults.retries,
            location=_location(source, found),
        )

    def _find(self, name: str) -> tuple[Wave, Dataset]:
        for wave, dataset in self.iter_datasets():
            if dataset.name == name:
                return wave, dataset
        raise KeyError(name)


def _location(source: Source, dataset: Dataset) -> str | None:
    """Container, bucket or directory the dataset reads, after the source's default."""
    if source.kind == "azure_blob":
        return dataset.container or source.container
    if source.kind == "s3":
        return dataset.bucket or source.bucket
    return dataset.path

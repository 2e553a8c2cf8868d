"""Fixtures for the integrity tests."""

from __future__ import annotations

import pytest

from hdh_migrate.integrity.signing import Ed25519FileSigner


@pytest.fixture
def signer() -> Ed25519FileSigner:
    return Ed25519FileSigner.generate("test-key")

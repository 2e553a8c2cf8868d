"""The SOV rules, one function each, grouped by theme. Importing this package registers
them in ``hdh_migrate.policy.registry.RULES``."""

from __future__ import annotations

from . import encryption, evidence, residency, service

__all__ = ["encryption", "evidence", "residency", "service"]

"""The plan's JSON Schema (for editors and CI), generated from the model."""

from __future__ import annotations

import json
from typing import Any

from hdh_migrate.plan.model import Plan

SCHEMA_ID = "https://hdh-migrate.example/plan.schema.json"


def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema of a plan document (draft 2020-12)."""
    schema = Plan.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "hdh-migrate plan",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def plan_json_schema_text() -> str:
    """The schema as committed in plans/plan.schema.json: sorted keys, 2-space indent."""
    return json.dumps(plan_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

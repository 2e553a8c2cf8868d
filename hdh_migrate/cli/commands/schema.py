"""``hdh-migrate schema`` — print or write the plan's JSON Schema."""

from __future__ import annotations

from pathlib import Path

import typer

from hdh_migrate.cli.render import ok
from hdh_migrate.errors import UsageError
from hdh_migrate.plan.schema import plan_json_schema_text

HELP = """Print the JSON Schema of plan files (for editors and CI), or write it to a file.

The committed copy lives at plans/plan.schema.json. Point your editor at it, e.g. with the
YAML language server: a first line `# yaml-language-server: $schema=../plans/plan.schema.json`.

Examples:

  hdh-migrate schema

  hdh-migrate schema --out plans/plan.schema.json
"""


def register(app: typer.Typer) -> None:
    """Add ``schema`` to the root application."""
    app.command("schema", help=HELP)(schema)


OUT_OPTION = typer.Option(
    None, "--out", "-o", metavar="FILE", help="Write the schema here instead of stdout."
)


def schema(out: Path | None = OUT_OPTION) -> None:
    """Print or write the plan JSON Schema (see Examples)."""
    text = plan_json_schema_text()
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror}", hint="check the path") from None
    ok(f"wrote {out}")

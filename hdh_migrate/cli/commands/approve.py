"""``hdh-migrate approve``: write (and sign) the statement an approver of a wave signs."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from hdh_migrate.cli.commands.cutover import wave_engine
from hdh_migrate.cli.render import ok, stdout
from hdh_migrate.engine.approvals import NAMESPACE, sign_statement
from hdh_migrate.errors import UsageError

APPROVE_HELP = f"""Write the statement an approver of a wave signs (plan digest, wave, freeze
epoch, the manifest's signed checkpoint, time) and sign it with the approver's SSH key in
the SSHSIG format (what `ssh-keygen -Y sign` writes). Pass the .sig to `cutover --approval`.

With --statement-only, only the statement is written: sign it with your agent or token,

  ssh-keygen -Y sign -f ~/.ssh/id_ed25519 -n {NAMESPACE} STATEMENT

Examples:

  hdh-migrate approve plan.yaml --wave wave-2 --key ~/.ssh/id_ed25519 --out alice.json

  hdh-migrate approve plan.yaml --wave wave-2 --statement-only --out wave-2.json
"""


def register(app: typer.Typer) -> None:
    app.command("approve", help=APPROVE_HELP)(approve)


def approve(
    plan: str = typer.Argument(..., metavar="PLAN", help="Path of the plan file (YAML)."),
    wave: str = typer.Option(..., "--wave", help="The wave to approve."),
    key: Path | None = typer.Option(  # noqa: B008 — typer's declaration style
        None, "--key", help="Your SSH private key (ed25519, ecdsa or rsa; unencrypted)."
    ),
    out: Path = typer.Option(  # noqa: B008 — typer's declaration style
        ..., "--out", help="Where to write the statement (the signature goes to OUT.sig)."
    ),
    statement_only: bool = typer.Option(
        False, "--statement-only", help="Write the statement only (sign it with ssh-keygen)."
    ),
) -> None:
    """Write a wave's approval statement and sign it (see Examples)."""
    if key is None and not statement_only:
        raise UsageError("give --key KEY, or --statement-only to sign with ssh-keygen")
    with wave_engine(plan, False) as engine:
        statement = engine.statement(wave)
    if statement_only:
        out.write_bytes(statement.to_bytes())
        stdout.print(escape(f"ssh-keygen -Y sign -f KEY -n {NAMESPACE} {out}"), highlight=False)
        ok(f"wrote {out}: sign it, then pass {out}.sig to cutover --approval")
        return
    assert key is not None
    sig = sign_statement(statement, key, out)
    ok(f"wrote {out} and {sig}: pass {sig} to cutover --approval")

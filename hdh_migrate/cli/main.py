"""The error boundary: the one place that maps exceptions to exit codes and one-line messages.

Exit codes (documented in README.md):
  0 ok · 1 internal error · 2 invalid plan or usage · 3 policy violation · 4 verification
  mismatch · 5 objects failed after retries · 6 cutover gate refused · 7 authentication or
  key error · 8 endpoint unreachable · 9 local state damaged or unwritable · 130
  interrupted.
A traceback is printed only with ``--debug`` (or HDH_MIGRATE_DEBUG=1).
"""

from __future__ import annotations

import sys
import traceback

import typer
from typer._click import exceptions as click_exceptions  # typer vendors click

from hdh_migrate.cli.render import error
from hdh_migrate.cli.state import STATE
from hdh_migrate.errors import HdhError

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (tests call this)."""
    from hdh_migrate.cli.app import app

    try:
        result = app(args=argv, prog_name="hdh-migrate", standalone_mode=False)
    except HdhError as exc:
        return _report(exc, exc.one_line(), exc.exit_code)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        return _report(None, "interrupted", EXIT_INTERRUPTED)
    except click_exceptions.NoArgsIsHelpError:
        return EXIT_OK
    except click_exceptions.ClickException as exc:
        exc.show()
        return exc.exit_code if exc.exit_code != 1 else EXIT_USAGE
    except KeyboardInterrupt:
        return _report(None, "interrupted", EXIT_INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 — the boundary: anything unexpected is one line
        message = f"internal error: {type(exc).__name__}: {_first_line(exc)}"
        return _report(exc, message + " — rerun with --debug and report it", EXIT_INTERNAL)
    return result if isinstance(result, int) else EXIT_OK


def main() -> None:
    sys.exit(run())


def _report(exc: BaseException | None, message: str, code: int) -> int:
    if STATE.debug and exc is not None:
        traceback.print_exception(exc, file=sys.stderr)
    error(message)
    return code


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else ""

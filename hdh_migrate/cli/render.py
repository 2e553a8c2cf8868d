"""Rendering helpers shared by commands: JSON to stdout, rich tables, messages to stderr.

Untrusted text (keys, plan values, paths, server messages) reaches the terminal only
through :func:`term` (control characters made visible, rich markup escaped) or as a plain
``Text``; :func:`error`, :func:`ok` and :func:`warn` treat their whole message as data.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from rich.console import Console
from rich.text import Text

from hdh_migrate.escaping import json_text, printable
from hdh_migrate.redaction import redact

stdout = Console(soft_wrap=True, emoji=False)  # ":smile:" in a key stays as written
stderr = Console(stderr=True, soft_wrap=True, emoji=False)


_BRACKET = re.compile(r"(\\*)\[")
_TAG_LIKE = re.compile(r"\[[a-z#/@][^[]*?\]")  # what rich reads as a tag (rich.markup)


def term(text: object) -> str:
    """``text`` as rich markup that prints exactly as the text (control characters made
    visible): the one way untrusted text enters a markup string or a table cell. Each
    ``[`` and the backslashes before it are escaped the way rich unescapes them (a tag:
    backslashes doubled plus one; any other bracket: one more). A term followed directly
    by a tag goes through :func:`styled`."""
    plain = printable(text)

    def escape(match: re.Match[str]) -> str:
        count = len(match[1])
        if _TAG_LIKE.match(plain, match.end() - 1):
            return "\\" * (2 * count + 1) + "["
        return "\\" * (count + 1) + "["

    return _BRACKET.sub(escape, plain)


def styled(text: object, style: str) -> str:
    """``[style]text[/]`` as markup, ``text`` printed exactly (a trailing run of
    backslashes is doubled so it cannot escape the closing tag)."""
    body = term(text)
    trailing = len(body) - len(body.rstrip("\\"))
    return f"[{style}]{body}" + "\\" * trailing + "[/]"


def plain(text: object, style: str = "") -> Text:
    """``text`` as a rich ``Text`` (never parsed as markup), control characters visible."""
    return Text(printable(text), style=style)


def emit_json(data: Any) -> None:
    """One JSON document on stdout, UTF-8, stable key order, no raw control characters."""
    sys.stdout.write(redact(json_text(data, indent=2, sort_keys=True, default=str)))
    sys.stdout.write("\n")


def _line(console: Console, label: str, style: str, message: object) -> None:
    text = printable(redact(str(message)))
    console.print(Text.assemble((label, style), " ", text), highlight=False)


def error(message: object) -> None:
    _line(stderr, "error:", "bold red", message)


def warn(message: object) -> None:
    _line(stderr, "warning:", "yellow", message)


def ok(message: object) -> None:
    _line(stdout, "✓", "green", message)

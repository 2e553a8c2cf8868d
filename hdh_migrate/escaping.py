"""Untrusted text made safe where it is rendered: one helper per output format.

Object keys, metadata, plan values, paths and server messages are data. Whatever they
contain, they reach an output only through one of these helpers, so no key can become
terminal control sequences, rich markup, Markdown, HTML or broken JSON:

- :func:`printable` — control characters (C0, DEL, C1), unpaired surrogates and the
  invisible bidirectional / format controls shown as visible ``\\xNN``/``\\uNNNN`` escapes.
  Every other format helper starts from it, and the terminal helper is
  ``hdh_migrate.cli.render.term`` (this plus rich's markup escape).
- :func:`json_text` — a JSON document whose strings carry those same characters as JSON
  ``\\uNNNN`` escapes (still the exact values once parsed), never raw.
- :func:`md_text` and :func:`md_code` — Markdown prose and inline code (CommonMark/GFM:
  no HTML, links, emphasis or table breaks can come out of the text).
- :func:`html_text` — HTML text and attribute values.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

# Bidirectional controls and other invisible formatting characters that can reorder or
# hide what an operator reads (Trojan-Source style); the rest of category Cf (e.g. the
# zero-width joiner inside emoji) is harmless and kept.
_INVISIBLE = frozenset(
    [
        *(0x00AD, 0x061C, 0x180E, 0x200B, 0x200E, 0x200F, 0x2028, 0x2029, 0xFEFF),
        *range(0x202A, 0x202F),
        *range(0x2060, 0x2065),
        *range(0x2066, 0x206A),
    ]
)


_UNSAFE_RE = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff"
    + "".join(re.escape(chr(c)) for c in sorted(_INVISIBLE))
    + "]"
)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """``text`` with every control or invisible character replaced by a visible escape."""
    return _UNSAFE_RE.sub(_visible, str(text))


# json.dumps already writes C0 characters inside strings as escapes; the ones left in its
# output are its own line breaks, so only the other unsafe characters are rewritten.
_JSON_UNSAFE_RE = re.compile(_UNSAFE_RE.pattern.replace("\x00-\x1f", "", 1))


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def json_text(data: Any, **options: Any) -> str:
    """``json.dumps(data, ensure_ascii=False, **options)`` with unsafe characters escaped:
    the parsed values are unchanged, the bytes on screen or disk hold no control codes."""
    text = json.dumps(data, ensure_ascii=False, **options)
    return _JSON_UNSAFE_RE.sub(_json_escape, text)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>&|~!#])")


def md_text(text: object) -> str:
    """Markdown prose: every character that can open markup (emphasis, code, links,
    images, HTML, entities, table cells) backslash-escaped, so none survives."""
    return _MD_SPECIAL.sub(r"\\\1", printable(text))


def md_code(text: object, *, in_table: bool = False) -> str:
    """Markdown inline code: a code span whose fence is longer than any backtick run in
    the text (``|`` escaped inside a GFM table); HTML is never interpreted inside it."""
    body = printable(text)
    if in_table:
        body = body.replace("|", "\\|")
    if not body:
        return "` `"
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if body.startswith(("`", " ")) or body.endswith(("`", " ")) else ""
    return f"{fence}{pad}{body}{pad}{fence}"


def html_text(text: object) -> str:
    """HTML text or a quoted attribute value."""
    return html.escape(printable(text), quote=True)


__all__ = ["html_text", "json_text", "md_code", "md_text", "printable"]

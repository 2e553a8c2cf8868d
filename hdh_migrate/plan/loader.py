"""YAML text → plain data plus the 1-based line and column of every value and key.

The document is composed into a node tree first (so every node keeps its mark), checked
(duplicate keys, non-string keys, alias expansion bound), then constructed with the safe
constructor. Paths are tuples of segments: ``("waves", 0, "datasets", 1, "target")``.
Problems raise ``LoadProblem`` with a position; ``hdh_migrate.plan.errors`` turns it into
a ``PlanError``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Segment = str | int
DataPath = tuple[Segment, ...]
Position = tuple[int, int]
MAX_EXPANDED_NODES = 200_000
MAX_DEPTH = 64  # levels of nesting; a real plan uses about 8
MERGE_KEY = "<<"


_YAML_HINTS = (
    ("mapping values are not allowed", "quote a value that contains ': ', or fix the indentation"),
    ("sequence entries are not allowed", "align this '- ' entry with its siblings"),
    ("expected <block end>", "this line's indentation does not match the block it belongs to"),
    ("cannot start any token", "quote a value that starts with @, ` or %"),
    ("found undefined alias", "define the &anchor before using *alias"),
    ("expected a single document", "a plan is one YAML document: remove the extra ---"),
    ("while scanning a quoted scalar", "close the quote"),
)


class LoadProblem(Exception):
    """The text is not a usable plan document. ``line``/``column`` are 1-based."""

    def __init__(
        self,
        message: str,
        line: int = 1,
        column: int = 1,
        hint: str | None = None,
        path: DataPath = (),
    ) -> None:
        super().__init__(message)
        self.message, self.line, self.column, self.hint = message, line, column, hint
        self.path = path


@dataclass
class Locations:
    """Where each path's value (and, for mapping entries, its key) starts in the file."""

    values: dict[DataPath, Position] = field(default_factory=dict)
    keys: dict[DataPath, Position] = field(default_factory=dict)

    def of(self, path: DataPath, *, key: bool = False) -> Position:
        """Position of ``path`` (its key when ``key``), else of its closest ancestor."""
        if key and path in self.keys:
            return self.keys[path]
        for end in range(len(path), -1, -1):
            if path[:end] in self.values:
                return self.values[path[:end]]
        return (1, 1)


@dataclass(frozen=True)
class Document:
    """A loaded YAML document: the constructed data and the positions of its parts."""

    data: Any
    locations: Locations


def load_document(text: str) -> Document:
    """Parse one YAML document. Raises LoadProblem for syntax errors (tabs included),
    several documents, duplicate or non-string keys, and runaway alias expansion."""
    loader = yaml.SafeLoader(text)
    try:
        _check_depth(text)
        node = loader.get_single_node()
        if node is None:
            return Document(None, Locations())
        _check_size(node)
        locations = _locate(node)
        return Document(loader.construct_document(node), locations)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_problem(exc, text) from None
    except yaml.YAMLError as exc:
        raise LoadProblem(f"invalid YAML: {exc}") from None
    except RecursionError:  # a nesting the token check did not see: same answer
        raise _too_deep((1, 1)) from None
    finally:
        loader.dispose()


_OPEN = (
    yaml.BlockMappingStartToken,
    yaml.BlockSequenceStartToken,
    yaml.FlowMappingStartToken,
    yaml.FlowSequenceStartToken,
)
_CLOSE = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


def _check_depth(text: str) -> None:
    """Refuse a document nested deeper than MAX_DEPTH, from the token stream (the YAML
    composer and everything after it recurse once per level)."""
    depth = 0
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        if isinstance(token, _OPEN):
            depth += 1
            if depth > MAX_DEPTH:
                raise _too_deep(_pos(token))
        elif isinstance(token, _CLOSE):
            depth -= 1


def _too_deep(where: Position) -> LoadProblem:
    return LoadProblem(
        f"the plan nests deeper than {MAX_DEPTH} levels",
        *where,
        hint="a plan is a few levels deep: look for runaway brackets or indentation",
    )


def _pos(node: Node | yaml.Token) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _yaml_problem(exc: yaml.MarkedYAMLError, text: str) -> LoadProblem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    if mark is not None and _char_at(text, mark.index) == "\t":
        return LoadProblem(
            "tab character in the YAML structure",
            line,
            column,
            hint="YAML indents with spaces only: replace the tab with spaces",
        )
    problem = " ".join(str(exc.problem or exc.context or "syntax error").split())
    if exc.problem and exc.context and exc.context_mark and exc.context_mark is not mark:
        problem += f" ({exc.context} at line {exc.context_mark.line + 1})"
    hint = next((h for text, h in _YAML_HINTS if text in problem), "fix the YAML syntax here")
    return LoadProblem(f"invalid YAML: {problem}", line, column, hint=hint)


def _char_at(text: str, index: int) -> str:
    return text[index] if 0 <= index < len(text) else ""


def _children(node: Node) -> Iterator[Node]:
    if isinstance(node, MappingNode):
        for key, value in node.value:
            yield key
            yield value
    elif isinstance(node, SequenceNode):
        yield from node.value


def _check_size(root: Node) -> None:
    """Refuse documents whose aliases expand past MAX_EXPANDED_NODES (billion laughs)."""
    sizes: dict[int, int] = {}
    order: list[Node] = []
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        order.append(node)
        stack.extend(_children(node))
    for node in reversed(order):
        total = 1 + sum(sizes.get(id(child), 1) for child in _children(node))
        sizes[id(node)] = min(total, MAX_EXPANDED_NODES + 1)
    if sizes[id(root)] > MAX_EXPANDED_NODES:
        raise LoadProblem(
            "the plan expands to too many values (YAML aliases)",
            *_pos(root),
            hint=f"a plan holds at most {MAX_EXPANDED_NODES} values after alias expansion",
        )


def _locate(root: Node) -> Locations:
    locations = Locations()
    _walk(root, (), locations, set())
    return locations


def _walk(node: Node, path: DataPath, loc: Locations, seen: set[int]) -> None:
    loc.values.setdefault(path, _pos(node))
    if id(node) in seen:  # an alias: positions inside point at the anchor's first use
        return
    seen.add(id(node))
    if isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), loc, seen)
    elif isinstance(node, MappingNode):
        _walk_mapping(node, path, loc, seen)


def _walk_mapping(node: MappingNode, path: DataPath, loc: Locations, seen: set[int]) -> None:
    first: dict[str, Position] = {}
    merges: list[Node] = []
    for key, value in node.value:
        name = _key_name(key)
        if name == MERGE_KEY and key.tag == "tag:yaml.org,2002:merge":
            merges.append(value)
            continue
        if name in first:
            raise LoadProblem(
                f"duplicate key {name!r} (first written at line {first[name][0]})",
                *_pos(key),
                hint="each key may appear once in a mapping: remove or rename one",
                path=(*path, name),
            )
        first[name] = _pos(key)
        loc.keys.setdefault((*path, name), _pos(key))
        _walk(value, (*path, name), loc, seen)
    for merged in merges:
        for item in merged.value if isinstance(merged, SequenceNode) else [merged]:
            if isinstance(item, MappingNode):
                _walk_mapping(item, path, loc, seen)


def _key_name(key: Node) -> str:
    if not isinstance(key, ScalarNode):
        raise LoadProblem(
            "a mapping key must be a plain string, not a list or mapping",
            *_pos(key),
            hint="write the key as text",
        )
    return str(key.value)

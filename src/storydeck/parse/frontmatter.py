"""A note's YAML front matter -> FrontMatter, with errors at the right line and column."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

import yaml

from storydeck.errors import NotesError
from storydeck.model import Location

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Keys a story note may set; the second group is accepted and ignored (document metadata).
STORY_KEYS = ("id", "title", "level", "themes", "theme", "questions", "question", "tags", "summary")
INFO_KEYS = ("description", "type", "date", "company", "role", "team", "status", "notes", "aliases")
KNOWN_KEYS = STORY_KEYS + INFO_KEYS

#: The same, to look a key up in.
_KNOWN = frozenset(KNOWN_KEYS)

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


@dataclass(frozen=True, slots=True)
class FrontMatter:
    id: str | None = None
    title: str | None = None
    level: str | None = None
    level_at: Location | None = None
    themes: tuple[str, ...] = ()
    themes_at: Location | None = None
    questions: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    summary: str | None = None
    #: Line after the closing `---`: where the note's body starts.
    body_line: int = 1


def parse_front_matter(content: str, first_line: int, path: str, end_line: int) -> FrontMatter:
    """Check and read front matter. `first_line` is the 1-based line of its first YAML line."""
    try:
        node = yaml.compose(content, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, content, first_line, path) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every YAML error from the parser is marked
        raise NotesError(f"invalid front matter: {exc}", Location(path, first_line, 1)) from None
    if node is None:
        return FrontMatter(body_line=end_line)
    if not isinstance(node, yaml.MappingNode):
        raise NotesError(
            "front matter must be a mapping of keys to values",
            _at(node, first_line, path),
            "write it as `key: value` lines, e.g. `title: My story`",
        )
    values: dict[str, Any] = {}
    # Each value's node: where it is, worked out only for the few a story keeps.
    nodes: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        if key not in _KNOWN or not isinstance(key_node, yaml.ScalarNode):
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            hint = (
                f"did you mean {close[0]!r}?" if close else "known keys: " + ", ".join(STORY_KEYS)
            )
            raise NotesError(
                f"unknown front-matter key {key!r}", _at(key_node, first_line, path), hint
            )
        if key in values:
            raise NotesError(
                f"duplicate front-matter key {key!r}",
                _at(key_node, first_line, path),
                "keep one of them",
            )
        values[key] = _value(key, value_node, first_line, path)
        nodes[key] = value_node
    story_id = values.get("id")
    if story_id is not None and not _ID.match(story_id):
        raise NotesError(
            f"invalid story id {story_id!r}",
            _at(nodes["id"], first_line, path),
            "use letters, digits, '-', '_', '.' or '/', no spaces, e.g. `wave3-drift`",
        )
    level_node = nodes.get("level")
    themes_node = nodes.get("themes") or nodes.get("theme")
    themes = values.get("themes", ()) or values.get("theme", ())
    questions = values.get("questions", ()) or values.get("question", ())
    return FrontMatter(
        id=story_id,
        title=values.get("title"),
        level=values.get("level"),
        level_at=None if level_node is None else _at(level_node, first_line, path),
        themes=tuple(themes),
        themes_at=None if themes_node is None else _at(themes_node, first_line, path),
        questions=tuple(questions),
        tags=tuple(values.get("tags", ())),
        summary=values.get("summary"),
        body_line=end_line,
    )


def _at(node: yaml.Node, first_line: int, path: str) -> Location:
    return Location(path, node.start_mark.line + first_line, node.start_mark.column + 1)


_LISTS = {"themes", "theme", "questions", "question", "tags", "aliases"}
_STRINGS = {"id", "title", "level", "summary", "description", "type", "company", "role", "team"}


def _value(key: str, node: yaml.Node, first_line: int, path: str) -> Any:
    scalar = isinstance(node, yaml.ScalarNode)
    if scalar and node.tag.endswith(":null"):
        return None if key in _STRINGS else ()
    if key in _LISTS:
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        out = []
        for item in items:
            if not isinstance(item, yaml.ScalarNode) or item.tag.endswith(":null"):
                raise NotesError(
                    f"'{key}' must be a list of strings",
                    _at(item, first_line, path),
                    f"e.g. `{key}: [first, second]`",
                )
            value = str(item.value).strip()
            if value:
                out.append(value)
        return tuple(out)
    if key in _STRINGS:
        if not scalar:
            kind = "list" if isinstance(node, yaml.SequenceNode) else "mapping"
            raise NotesError(
                f"'{key}' must be a single value, not a {kind}",
                _at(node, first_line, path),
                f"e.g. `{key}: some text`",
            )
        return str(node.value).strip()
    return None  # informational keys: any shape, not used


def _yaml_error(exc: yaml.MarkedYAMLError, content: str, first_line: int, path: str) -> NotesError:
    mark = exc.problem_mark or exc.context_mark
    if exc.context_mark and exc.problem_mark and exc.context_mark.line == exc.problem_mark.line:
        mark = exc.context_mark  # where the bad token starts: `*` of an unquoted `**bold**`
    line = (mark.line if mark else 0) + first_line
    col = (mark.column if mark else 0) + 1
    problem = (exc.problem or exc.context or "invalid YAML").strip()
    lines = content.splitlines()
    source = lines[mark.line] if mark and mark.line < len(lines) else ""
    key, sep, _ = source.partition(":")
    if sep and key.strip() and not key.strip().startswith(("-", "#")):
        value = source.partition(":")[2].strip()
        shown = value if len(value) <= 40 else value[:37] + "..."
        quoted = f"'{shown}'" if '"' in shown else f'"{shown}"'
        hint = f"put the value of '{key.strip()}' in quotes: {key.strip()}: {quoted}"
    else:
        hint = "check the YAML syntax; values with `:`, `*`, `#` or `&` need quotes"
    return NotesError(f"invalid YAML in front matter: {problem}", Location(path, line, col), hint)

"""Text -> stories. The only part of storydeck that touches markdown-it and YAML.

`parse_text` reads one note's text; `read_notes` finds, reads and parses every note
under the given paths. Neither raises for what is wrong inside a note: problems
come back as diagnostics with `path:line:col`, so a check can report them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from storydeck.config import Config
from storydeck.errors import NotesError
from storydeck.model import Diagnostic, Location, Severity, Story
from storydeck.parse.assemble import Assembler
from storydeck.parse.blocks import Block, block_plain, markdown, to_blocks
from storydeck.parse.frontmatter import FrontMatter, parse_front_matter
from storydeck.parse.labels import Vocabulary
from storydeck.parse.stories import StoryFinder

__all__ = ["ParseResult", "parse_text", "vocabulary"]


@dataclass(frozen=True, slots=True)
class ParseResult:
    stories: tuple[Story, ...]
    diagnostics: tuple[Diagnostic, ...]


_VOCABULARIES: dict[int, tuple[Config, Vocabulary]] = {}


def vocabulary(config: Config) -> Vocabulary:
    """The compiled label vocabulary of a config, built once per config object."""
    cached = _VOCABULARIES.get(id(config))
    if cached is None or cached[0] is not config:
        cached = (config, Vocabulary(config))
        _VOCABULARIES[id(config)] = cached
    return cached[1]


def parse_text(text: str, path: str, config: Config) -> ParseResult:
    """The stories in one note. `path` is how the note is named in diagnostics."""
    diagnostics: list[Diagnostic] = []
    # The file reader does this too; text from elsewhere may still carry a BOM or CRs.
    text = text.removeprefix("\ufeff")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        diagnostics.append(
            Diagnostic(
                Severity.WARNING,
                Location(path, 1, 1),
                "empty-note",
                "the note is empty",
                "write a story in it or delete the file",
            )
        )
        return ParseResult((), tuple(diagnostics))
    md = markdown(config.allow_html)
    tokens = md.parse(text)
    try:
        front = _front_matter(tokens, text, path)
    except NotesError as exc:
        return ParseResult((), (exc.diagnostic("front-matter"),))
    blocks = to_blocks(tokens)
    vocab = vocabulary(config)
    findings = StoryFinder(vocab, md).run(blocks)
    stem = PurePath(path).stem
    assembler = Assembler(
        vocab=vocab, md=md, path=path, stem=stem, front=front, diagnostics=diagnostics
    )
    stories = assembler.stories(findings.stories)
    for group in findings.unplaced:
        diagnostics.append(_unplaced(group, path))
    for block in findings.raw_html:
        diagnostics.append(
            Diagnostic(
                Severity.WARNING,
                Location(path, block.line, 1),
                "raw-html",
                "a raw HTML element (script, style or embed) is left out",
                "notes are markdown: describe it in words, or put code in backticks",
            )
        )
    for section in findings.orphans:
        diagnostics.append(
            Diagnostic(
                Severity.WARNING,
                Location(path, section.line, 1),
                "orphan-section",
                f"a {section.kind.value} section that is not part of any story is left out",
                "a story needs sections of two kinds or more, e.g. Situation and Result",
            )
        )
    if not stories:
        diagnostics.append(
            Diagnostic(
                Severity.WARNING,
                # where the body starts, or the last line when the note is all front matter
                Location(path, min(front.body_line, text.count("\n") + 1), 1),
                "no-story",
                "no story found in this note",
                "label its parts, e.g. `## Situation`, `## Action`, `## Result`",
            )
        )
    diagnostics.sort(key=lambda d: (d.location.line, d.location.col))
    return ParseResult(tuple(stories), tuple(diagnostics))


def _front_matter(tokens: list, text: str, path: str) -> FrontMatter:  # type: ignore[type-arg]
    if tokens and tokens[0].type == "front_matter":
        start, end = tokens[0].map
        return parse_front_matter(tokens[0].content, start + 2, path, end + 1)
    first = text.split("\n", 1)[0].rstrip()
    if first == "---":
        raise NotesError(
            "front matter starts on line 1 but is never closed",
            Location(path, 1, 1),
            "end it with a line holding only `---`",
        )
    return FrontMatter()


def _unplaced(group: list[Block], path: str) -> Diagnostic:
    first = group[0]
    words = " ".join(block_plain(first).split())
    excerpt = words if len(words) <= 48 else words[:45].rstrip() + "..."
    more = (
        f" and {len(group) - 1} more block{'s' if len(group) > 2 else ''}" if len(group) > 1 else ""
    )
    return Diagnostic(
        Severity.WARNING,
        Location(path, first.line, 1),
        "unplaced-text",
        f"text outside any story section is left out: {excerpt!r}{more}",
        "if it belongs to a story, put it under a label such as Situation, Action or Result",
    )

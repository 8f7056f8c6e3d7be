"""Blocks -> story drafts: where stories start and end, and which block belongs to which section.

One pass over the blocks keeps a stack of *scopes* (the document, a heading, a
`**L4 Version**` level label, a fenced block holding a story) and the one open
*section* (the part a label started). Label headings never open or close a
scope; plain headings do, unless an open section claims them as its content
(they are deeper than its label). When a scope closes it becomes a story if it
holds sections of at least two kinds, one of them Situation, Task, Action or
Result; otherwise its sections move up to the enclosing scope, so that the five
`* Result:` lists under the sub-headings of one heading make one story.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from markdown_it import MarkdownIt

from storydeck.model import STAR, Section
from storydeck.parse.blocks import (
    FENCE,
    HEADING,
    HTML,
    ITEM,
    LIST,
    PARAGRAPH,
    QUOTE,
    RULE,
    TABLE,
    Block,
    inline_plain,
    to_blocks,
)
from storydeck.parse.labels import LevelLabel, Vocabulary, strip_markup, strip_numbering

ROOT = "root"
SCOPE_HEADING = "heading"
SCOPE_LEVEL = "level"
SCOPE_FENCE = "fence"

_END_MARKER = re.compile(r"^\s*[=\-_*~#+]{2,}\s*(?:the\s+)?end\s*[=\-_*~#+]*\s*$", re.IGNORECASE)
_HTML_ONLY = re.compile(r"^\s*(?:</?[A-Za-z][^<>]*>\s*)+$")
_NO_WORDS = re.compile(r"^[\W_]*$")
_TITLE_PREFIX = re.compile(r"^(?:case study|story|example|title)\s*[:\-–—]\s*", re.IGNORECASE)
_TERMINAL = re.compile(r"[.!?,;:…\"”']\s*$")
_KEY_VALUE = re.compile(r"^[\w /&()-]{1,30}:\s+\S")


@dataclass(slots=True, eq=False)
class SectionDraft:
    kind: Section
    level: float
    line: int
    pieces: list[Block] = field(default_factory=list)
    after_break: bool = False
    implicit: bool = False


@dataclass(slots=True, eq=False)
class Scope:
    kind: str
    level: float
    title: str
    line: int
    parent: Scope | None
    level_hint: str | None = None
    sections: list[SectionDraft] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    alternates: list[str] = field(default_factory=list)
    intro: list[Block] = field(default_factory=list)
    unplaced: list[Block] = field(default_factory=list)
    loose: list[SectionDraft] = field(default_factory=list)
    loose_from: list[Scope] = field(default_factory=list)
    ended: bool = False

    def ancestors(self) -> list[Scope]:
        """This scope and those around it, innermost first."""
        out: list[Scope] = []
        scope: Scope | None = self
        while scope is not None:
            out.append(scope)
            scope = scope.parent
        return out

    def has_star(self) -> bool:
        return any(s.kind in STAR for s in (*self.sections, *self.loose))


@dataclass(slots=True, eq=False)
class StoryDraft:
    """A story found in the blocks, before its fields are assembled."""

    scope: Scope
    title_scope: Scope
    sections: list[SectionDraft]
    intro: list[Block]
    line: int


@dataclass(slots=True)
class Findings:
    stories: list[StoryDraft] = field(default_factory=list)
    unplaced: list[list[Block]] = field(default_factory=list)
    orphans: list[SectionDraft] = field(default_factory=list)
    preamble: list[Block] = field(default_factory=list)


class StoryFinder:
    """Finds the stories in one document's blocks."""

    def __init__(self, vocab: Vocabulary, md: MarkdownIt) -> None:
        self.vocab = vocab
        self.md = md
        self.found = Findings()
        self.stack: list[Scope] = []
        self.section: SectionDraft | None = None
        self.letters = False
        self.plain = False
        self.ended = False
        self.rest_of_file: list[Block] = []

    # --- entry point --------------------------------------------------------------------

    def run(self, blocks: list[Block], *, title: str = "") -> Findings:
        self.letters = self._uses_letters(blocks)
        self.plain = not any(
            b.kind == HEADING and self._heading_kind(b) == "heading" for b in blocks
        )
        root = Scope(ROOT, 0, title, 1, None)
        self.stack = [root]
        self._feed_all(blocks, base=0)
        while len(self.stack) > 1:
            self._pop()
        self._close_section()
        self._finish_root(root)
        if self.rest_of_file:
            self.found.unplaced.append(self.rest_of_file)
        self.found.stories.sort(key=lambda s: s.line)
        return self.found

    def _feed_all(self, blocks: list[Block], base: int) -> None:
        star_below = self._star_lookahead(blocks)
        first_paragraph = next((b for b in blocks if b.kind == PARAGRAPH), None)
        for index, block in enumerate(blocks):
            if self.ended:
                self.rest_of_file.append(block)
                continue
            self._feed(block, base, star_below[index], first=block is first_paragraph)

    # --- one block ----------------------------------------------------------------------

    def _feed(self, block: Block, base: int, star_below: bool, *, first: bool) -> None:
        section = self.section
        if block.kind == RULE:
            if section is not None:
                section.after_break = True
            return
        if section is not None and section.after_break:
            continues = section.kind is Section.ACTION and (
                block.kind == LIST
                or (
                    block.kind == HEADING
                    and block.level > section.level
                    and self._heading_kind(block) == "heading"
                )
            )
            if continues:
                section.after_break = False
            else:
                self._close_section()
        top = self.stack[-1]
        if top.ended:
            if (
                block.kind == HEADING
                and self._heading_kind(block) == "heading"
                and block.level <= top.level
            ):
                top.ended = False
            if top.ended:
                top.unplaced.append(block)
                return

        if block.kind == HEADING:
            self._heading(block, base, star_below)
        elif block.kind == PARAGRAPH:
            self._paragraph(block, base, star_below, first=first)
        elif block.kind == LIST:
            self._list(block)
        elif block.kind == FENCE and self._fence_has_story(block):
            self._fence(block)
        else:
            self._content(block)

    def _heading_kind(self, block: Block) -> str:
        text = block.text
        if _END_MARKER.match(strip_markup(text)):
            return "end"
        if self.vocab.question_line(text) is not None:
            return "questions"
        if self.vocab.label(text) is not None:
            return "label"
        return "heading"

    def _heading(self, block: Block, base: int, star_below: bool) -> None:
        kind = self._heading_kind(block)
        text = block.text
        if kind == "end":
            self._end_of_file(block)
            return
        if kind == "questions":
            self._questions(self.vocab.question_line(text) or [], block)
            return
        if kind == "label":
            label = self.vocab.label(text)
            assert label is not None
            self._close_section()
            self._pop_deeper_than(block.level, base)
            self._open_section(label.section, block.level, block, label.rest)
            return
        self._plain_heading(block, block.level, base, star_below)

    def _plain_heading(self, block: Block, level: float, base: int, star_below: bool) -> None:
        section = self.section
        question = _is_question(block.text)
        if section is not None and level > section.level:
            implicit_sibling = section.implicit and level <= section.level + 0.5
            if not implicit_sibling or question:
                section.pieces.append(block)
                return
        if question and not star_below and self.stack[-1].has_star():
            self._open_section(Section.FOLLOWUPS, level - 0.5, block, "", implicit=True)
            return
        self._close_section()
        self._pop_while(lambda s: s.level >= level, base)
        parent = self.stack[-1]
        title = clean_title(block.text)
        hints = self.vocab.levels_in(title)
        self.stack.append(
            Scope(
                SCOPE_HEADING,
                level,
                title,
                block.line,
                parent,
                level_hint=hints[0] if hints else None,
            )
        )

    def _paragraph(self, block: Block, base: int, star_below: bool, *, first: bool) -> None:
        text = block.text
        words = strip_markup(text)
        if _NO_WORDS.match(words) or _HTML_ONLY.match(text):
            return
        if _END_MARKER.match(words):
            self._end_of_file(block)
            return
        if self.vocab.is_trailer(text):
            self._close_section()
            self.stack[-1].ended = True
            self.stack[-1].unplaced.append(block)
            return
        questions = self.vocab.question_line(text)
        if questions is not None and (
            self.section is None or self.section.kind is not Section.FOLLOWUPS
        ):
            self._questions(questions, block)
            return
        label = self.vocab.label(text, letters=self.letters)
        if label is not None:
            level = self._pseudo_level(text, first=first) if self.plain and base == 0 else None
            self._close_section()
            if level is not None:
                self._pop_deeper_than(level, base)
            top = self.stack[-1]
            self._open_section(
                label.section, level if level is not None else top.level, block, label.rest
            )
            return
        level_label = self._level_label(text)
        if level_label is not None:
            self._close_section()
            self._pop_while(lambda s: s.kind == SCOPE_LEVEL, base)
            parent = self.stack[-1]
            parent_title = next((s.title for s in parent.ancestors() if s.title), "")
            subtitle = level_label.subtitle or level_label.level
            title = f"{parent_title} — {subtitle}" if parent_title else subtitle
            self.stack.append(
                Scope(SCOPE_LEVEL, parent.level + 0.5, title, block.line, parent, level_label.level)
            )
            return
        if self.plain and base == 0:
            level = self._pseudo_level(text, first=first)
            if level is not None:
                self._plain_heading(block, level, base, star_below)
                return
        self._content(block)

    def _level_label(self, text: str) -> LevelLabel | None:
        first_line = text.partition("\n")[0].strip()
        if not (first_line.startswith(("**", "__")) or first_line.startswith("#")):
            return None
        stripped = first_line.rstrip(" :")
        if not stripped.endswith(("**", "__")):
            return None
        return self.vocab.level_label(first_line)

    def _pseudo_level(self, text: str, *, first: bool) -> float | None:
        """In a note without markdown headings, the heading level a short line stands for."""
        if "\n" in text.strip():
            return None
        words = strip_markup(text)
        count = len(words.split())
        if first and count <= 16 and not words.endswith((".", "!", "?")):
            return 1
        if count > 10 or (_TERMINAL.search(words) and not words.endswith(")")):
            return None
        if strip_numbering(words) != words and re.match(r"^\d", words):
            return 2
        if _KEY_VALUE.match(words) and self.vocab.label(text) is None:
            return None
        return 3

    def _list(self, block: Block) -> None:
        for item in block.children:
            head = item.children[0] if item.children else None
            text = head.text if head is not None and head.kind == PARAGRAPH else ""
            if text:
                questions = self.vocab.question_line(text)
                if questions is not None and (
                    self.section is None or self.section.kind is not Section.FOLLOWUPS
                ):
                    self._questions(questions, item)
                    continue
                label = self.vocab.label(text, letters=self.letters)
                if label is not None and not self.stack[-1].ended:
                    self._close_section()
                    top = self.stack[-1]
                    self._open_section(label.section, top.level, item, label.rest)
                    assert self.section is not None
                    if item.children[1:]:
                        # `* Result:` with its own nested list: the item is the whole section.
                        self.section.pieces.extend(item.children[1:])
                        self._close_section()
                    continue
            if not item.children or (
                len(item.children) == 1
                and head is not None
                and head.kind == PARAGRAPH
                and _NO_WORDS.match(strip_markup(text))
            ):
                continue
            self._content(item)

    def _fence_has_story(self, block: Block) -> bool:
        kinds = set()
        for line in block.content.splitlines():
            label = self.vocab.label(line.strip()) if line.strip() else None
            if label is not None:
                kinds.add(label.section)
        return len(kinds) >= 2

    def _fence(self, block: Block) -> None:
        self._close_section()
        parent = self.stack[-1]
        scope = Scope(SCOPE_FENCE, parent.level + 0.75, "", block.line, parent)
        self.stack.append(scope)
        base = len(self.stack) - 1
        inner = to_blocks(self.md.parse(block.content), offset=block.line)
        saved_plain, self.plain = self.plain, False
        self._feed_all(inner, base=base)
        self.plain = saved_plain
        while len(self.stack) > base:
            self._pop()

    def _content(self, block: Block) -> None:
        if block.kind == PARAGRAPH and _HTML_ONLY.match(block.text):
            return
        if block.kind == HTML and _HTML_ONLY.match(block.content):
            return
        top = self.stack[-1]
        if self.section is not None:
            self.section.pieces.append(block)
        elif not top.sections and not top.loose:
            top.intro.append(block)
        else:
            top.unplaced.append(block)

    def _questions(self, questions: list[str], block: Block) -> None:
        self._close_section()
        top = self.stack[-1]
        head = block.children[0] if block.kind == ITEM and block.children else block
        target = top.alternates if self.vocab.is_alternate(head.text) else top.questions
        known = {q.casefold().rstrip("?. ") for q in (*top.questions, *top.alternates)}
        for question in questions:
            if question.casefold().rstrip("?. ") not in known:
                target.append(question)

    def _end_of_file(self, block: Block) -> None:
        self._close_section()
        self.ended = True
        self.rest_of_file.append(block)

    # --- sections and scopes ------------------------------------------------------------

    def _open_section(
        self, kind: Section, level: float, block: Block, rest: str, *, implicit: bool = False
    ) -> None:
        self._close_section()
        section = SectionDraft(kind, level, block.line, implicit=implicit)
        if implicit:
            section.pieces.append(block)
        elif rest:
            section.pieces.extend(to_blocks(self.md.parse(rest), offset=block.line - 1))
        self.stack[-1].sections.append(section)
        self.section = section

    def _close_section(self) -> None:
        self.section = None

    def _pop_deeper_than(self, level: float, base: int) -> None:
        self._pop_while(lambda s: s.level > level, base)

    def _pop_while(self, condition: object, base: int) -> None:
        assert callable(condition)
        while len(self.stack) - 1 > base and condition(self.stack[-1]):
            self._pop()

    def _pop(self) -> None:
        self._close_section()
        scope = self.stack.pop()
        parent = self.stack[-1]
        collected = sorted([*scope.sections, *scope.loose], key=lambda s: s.line)
        kinds = {s.kind for s in collected}
        if kinds & set(STAR) and len(kinds) >= 2:
            title_scope = scope
            if not scope.title and scope.kind == SCOPE_HEADING and len(scope.loose_from) == 1:
                title_scope = scope.loose_from[0]
            self._story(scope, title_scope, collected)
            return
        if collected:
            parent.loose.extend(collected)
            parent.loose_from.append(scope)
        self._leave_out(scope.intro)
        self._leave_out(scope.unplaced)

    def _story(self, scope: Scope, title_scope: Scope, sections: list[SectionDraft]) -> None:
        intro = scope.intro
        # What stands between a story's heading and its first label introduces it; above
        # the first heading of a note it is a preamble, and a note's summary only by label.
        if scope.kind == ROOT or any(s.kind is Section.SUMMARY for s in sections):
            self._leave_out(intro)
            intro = []
        self._leave_out(scope.unplaced)
        line = scope.line if scope.kind != ROOT else (sections[0].line if sections else 1)
        self.found.stories.append(StoryDraft(scope, title_scope, sections, intro, line))

    def _finish_root(self, root: Scope) -> None:
        collected = sorted([*root.sections, *root.loose], key=lambda s: s.line)
        # Sections that no heading of their own made a story join one at the top level
        # only in a note with no other story: elsewhere they are a list's stray label.
        alone = not self.found.stories or root.sections
        if alone and {s.kind for s in collected} & set(STAR):
            title_scope = (
                root.loose_from[0] if len(root.loose_from) == 1 and not root.sections else root
            )
            self._story(root, title_scope, collected)
            return
        self.found.orphans.extend(collected)
        self.found.preamble = root.intro
        self._leave_out(root.intro)
        self._leave_out(root.unplaced)

    def _leave_out(self, blocks: list[Block]) -> None:
        if blocks:
            self.found.unplaced.append(list(blocks))

    # --- look-ahead ---------------------------------------------------------------------

    def _uses_letters(self, blocks: Sequence[Block]) -> bool:
        """Single-letter labels count only in a note that uses two or more different ones."""
        seen: set[str] = set()
        for block in blocks:
            for inner in block.walk():
                if inner.kind == PARAGRAPH:
                    letter = self.vocab.letter_label(inner.text)
                    if letter:
                        seen.add(letter)
        return len(seen & {"S", "T", "A", "R"}) >= 2

    def _star_lookahead(self, blocks: Sequence[Block]) -> list[bool]:
        """For each heading: does a STAR label follow before the next heading as deep or deeper?"""
        out = [False] * len(blocks)
        open_headings: list[int] = []
        for index, block in enumerate(blocks):
            if block.kind == HEADING:
                kind = self._heading_kind(block)
                if kind == "heading":
                    while open_headings and blocks[open_headings[-1]].level >= block.level:
                        open_headings.pop()
                    open_headings.append(index)
                    continue
                if kind != "label":
                    continue
            if self._starts_star(block):
                for heading in open_headings:
                    out[heading] = True
        return out

    def _starts_star(self, block: Block) -> bool:
        if block.kind in {HEADING, PARAGRAPH}:
            label = self.vocab.label(block.text, letters=self.letters)
            return label is not None and label.section in STAR
        if block.kind == LIST:
            return any(
                self._starts_star(item.children[0]) for item in block.children if item.children
            )
        if block.kind == FENCE:
            return self._fence_has_story(block)
        return False


def _is_question(text: str) -> bool:
    words = strip_markup(text).rstrip(" *_")
    return words.endswith("?") or bool(re.match(r"^Q\s*\d*\s*[:.)]", words))


def clean_title(text: str) -> str:
    """A heading as a story title: no emoji, emphasis, numbering or `Case Study:` prefix."""
    title = strip_numbering(strip_markup(text.partition("\n")[0]))
    title = _TITLE_PREFIX.sub("", title)
    return title.strip(" :-–—")


def plain_of_items(blocks: Sequence[Block]) -> str:
    return " ".join(inline_plain(b.inline.children) for b in blocks if b.inline is not None)


__all__ = [
    "FENCE",
    "HEADING",
    "HTML",
    "ITEM",
    "LIST",
    "PARAGRAPH",
    "QUOTE",
    "TABLE",
    "Findings",
    "Scope",
    "SectionDraft",
    "StoryDraft",
    "StoryFinder",
    "clean_title",
]

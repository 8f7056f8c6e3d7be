"""Blocks -> story drafts: where stories start and end, and which block belongs to which section.

One pass over the blocks keeps a stack of *scopes* (the document, a heading, a
`**L4 Version**` level label, a fenced block holding a story) and the one open
*section* (the part a label started). Label headings never open or close a
scope; plain headings do, unless an open section claims them as its content
(they are deeper than its label). When a scope closes it becomes a story if it
holds sections of at least two kinds, one of them Situation, Task, Action or
Result; otherwise its sections move up to the enclosing scope, so that the five
`* Result:` lists under the sub-headings of one heading make one story.

Within one scope, a Situation (or Task) label that repeats after other STAR parts
starts the scope's next story. Blockquotes and fenced blocks whose lines carry labels
are scopes of their own; a table whose header cells are labels is a story bank (one
story per row), one whose first column is, the parts of the current story.
"""

from __future__ import annotations

import itertools
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
    TableRow,
    table_rows,
    to_blocks,
)
from storydeck.parse.labels import (
    LevelLabel,
    Vocabulary,
    split_questions,
    starts_with_word,
    strip_markup,
    strip_numbering,
)

ROOT = "root"
SCOPE_HEADING = "heading"
SCOPE_LEVEL = "level"
SCOPE_FENCE = "fence"
SCOPE_ROW = "row"

_END_MARKER = re.compile(r"^\s*[=\-_*~#+]{2,}\s*(?:the\s+)?end\s*[=\-_*~#+]*\s*$", re.IGNORECASE)
_HTML_ONLY = re.compile(r"^\s*(?:</?[A-Za-z][^<>]*>\s*)+$")
_NO_WORDS = re.compile(r"^[\W_]*$")
# `Case Study:`, `Story 2 (L5):`, `Example #3 -` before a title.
_TITLE_PREFIX = re.compile(
    r"^(?:case study|story|example|title)(?:\s*#?\d{1,3})?(?:\s*\([^()]{1,30}\))?\s*[:\-–—]\s*",
    re.IGNORECASE,
)
_TERMINAL = re.compile(r"[.!?,;:…\"”']\s*$")
_KEY_VALUE = re.compile(r"^[\w /&()-]{1,30}:\s+\S")
_RAW_ELEMENT = re.compile(
    r"^\s*<(script|style|iframe|object|embed)\b[^>]*>.*?(?:</\1\s*>)?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_LINE_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
#: Table columns that are not story parts but name a story's level, themes or title.
_TITLE_COLUMNS = {"story", "title", "name", "story title", "example"}
_LEVEL_COLUMNS = {"level", "levels"}
_THEME_COLUMNS = {"theme", "themes", "category"}
_IGNORED_COLUMNS = {"tags", "tag", "id", "notes", "status", "date", "company", "role"}
_TRAILING_COLON = re.compile(r"[\s:：]+$")


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
    #: Text that names the story's themes besides the titles (a story bank's Theme column).
    theme_hints: list[str] = field(default_factory=list)
    intro: list[Block] = field(default_factory=list)
    unplaced: list[Block] = field(default_factory=list)
    loose: list[SectionDraft] = field(default_factory=list)
    loose_from: list[Scope] = field(default_factory=list)
    ended: bool = False
    #: How many questions and alternates were named when the latest section opened.
    asked: tuple[int, int] = (0, 0)
    #: The scope tells several stories one after another (a repeated Situation).
    split: bool = False

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
    #: Raw `<script>`/`<style>` elements left out of every story.
    raw_html: list[Block] = field(default_factory=list)


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
        self._kinds: dict[str, str] = {}

    # --- entry point --------------------------------------------------------------------

    def run(self, blocks: list[Block], *, title: str = "") -> Findings:
        self.letters = self._uses_letters(blocks)
        blocks = self._split_label_lines(blocks)
        # A note without a single markdown heading may still have titles: short lines.
        self.plain = not any(b.kind == HEADING for b in blocks)
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
                or (  # another `**Step title**` like the ones before the break
                    block.kind == PARAGRAPH
                    and _bold_title(block.text)
                    and any(p.kind == PARAGRAPH and _bold_title(p.text) for p in section.pieces)
                    and self.vocab.label(block.text) is None
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
        elif block.kind == QUOTE and self._quote_has_story(block):
            self._nested(block.children, block.line)
        elif not self._table(block) and not self._html(block):
            self._content(block)

    def _heading_kind(self, block: Block) -> str:
        # Asked of each heading by the look-ahead, then again by the pass.
        text = block.text
        kind = self._kinds.get(text)
        if kind is None:
            kind = self._kinds[text] = self._kind_of_heading(text)
        return kind

    def _kind_of_heading(self, text: str) -> str:
        if not starts_with_word(text) and _END_MARKER.match(strip_markup(text)):
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
        asked_after = question and not star_below and self.stack[-1].has_star()
        if section is not None and level > section.level:
            implicit_sibling = section.implicit and level <= section.level + 0.5
            # A question heading under the Result or Lessons is a follow-up, not a result.
            wrap_up = section.kind in (Section.RESULT, Section.LESSONS) and asked_after
            if (not implicit_sibling or question) and not wrap_up:
                section.pieces.append(block)
                return
        if asked_after:
            self._open_section(Section.FOLLOWUPS, level - 0.5, block, "", implicit=True)
            return
        self._close_section()
        self._pop_while(lambda s: s.level >= level, base)
        parent = self.stack[-1]
        title = clean_title(block.text)
        hints = self.vocab.levels_in(strip_markup(block.text.partition("\n")[0]))
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
        if not starts_with_word(text):
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
            # A level label is a sibling of the one before it, whatever was opened since.
            inner_level = next(
                (
                    i
                    for i in range(len(self.stack) - 1, base, -1)
                    if self.stack[i].kind == SCOPE_LEVEL
                ),
                None,
            )
            if inner_level is not None:
                self._pop_while(lambda _: len(self.stack) > inner_level, base)
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
                and not starts_with_word(text)
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
        self._nested(to_blocks(self.md.parse(block.content), offset=block.line), block.line)

    def _quote_has_story(self, block: Block) -> bool:
        """A blockquote whose own blocks carry labels of two kinds, one of them STAR."""
        lines: list[str] = []
        for child in block.children:
            heads = [i.children[0] for i in child.children if i.children]
            for head in heads if child.kind == LIST else [child]:
                if head.kind in {HEADING, PARAGRAPH}:
                    lines += head.text.split("\n")
        labels = (self.vocab.label(line) for line in lines)
        return _makes_story([label.section for label in labels if label is not None])

    def _nested(self, blocks: list[Block], line: int) -> None:
        """Blocks inside a fence or quote that tell their own story (or several)."""
        self._close_section()
        parent = self.stack[-1]
        scope = Scope(SCOPE_FENCE, parent.level + 0.75, "", line, parent)
        self.stack.append(scope)
        base = len(self.stack) - 1
        inner = self._split_label_lines(blocks)
        saved_plain, self.plain = self.plain, False
        self._feed_all(inner, base=base)
        self.plain = saved_plain
        while len(self.stack) > base:
            self._pop()

    # --- paragraphs holding several parts -----------------------------------------------

    def _split_label_lines(self, blocks: list[Block]) -> list[Block]:
        """Paragraphs cut before each line that starts a part: `Situation: ...` then `Task: ...`.

        Lines written without blank lines between them are one markdown paragraph; a label
        (or question, level label, end marker, trailer) on a later line still starts anew.
        """
        out: list[Block] = []
        for block in blocks:
            text = block.text if block.kind == PARAGRAPH else ""
            if "\n" not in text:  # only a later line can start anew
                out.append(block)
                continue
            lines = text.split("\n")
            cuts = [i for i, line in enumerate(lines) if i and self._starts_part(line)]
            if not cuts:
                out.append(block)
                continue
            bounds = [0, *cuts, len(lines)]
            for start, end in itertools.pairwise(bounds):
                chunk = "\n".join(lines[start:end])
                out.extend(to_blocks(self.md.parse(chunk), offset=block.line - 1 + start))
        return out

    def _starts_part(self, line: str) -> bool:
        plain = starts_with_word(line)
        words = "" if plain else strip_markup(line)  # (a plain line has words, no marker)
        if not plain and (not words or _NO_WORDS.match(words)):
            return False
        return (
            self.vocab.label(line, letters=self.letters) is not None
            or self.vocab.question_line(line) is not None
            or self._level_label(line) is not None
            or bool(words and _END_MARKER.match(words))
            or self.vocab.is_trailer(line)
        )

    # --- tables -------------------------------------------------------------------------

    def _table_shape(self, block: Block) -> tuple[str, list[TableRow]] | None:
        """How a table tells stories, with its rows; None for a table that tells none.

        "bank": the header cells are labels, each row is a story. "parts": the first
        column holds the labels, each row is a part of the current story.
        """
        rows = table_rows(block)
        if not rows:
            return None
        header = [self.vocab.section_of(cell) for cell in rows[0].cells]
        if _makes_story(header) and len(rows) > 1:
            return "bank", rows
        first = [self.vocab.section_of(row.cells[0]) if row.cells else None for row in rows]
        if _makes_story(first):
            return "parts", rows
        return None

    def _table(self, block: Block) -> bool:
        # Inside an open section a table is that section's content (`| Problem | Approach |
        # Outcome |` rows under Action are the action's detail, not stories).
        if block.kind != TABLE or self.section is not None:
            return False
        shape = self._table_shape(block)
        if shape is None:
            return False
        kind, rows = shape
        self._close_section()
        if kind == "bank":
            self._story_bank(rows)
        else:
            self._part_rows(rows)
        return True

    def _story_bank(self, rows: list[TableRow]) -> None:
        """A table with one story per row; its header cells are the labels."""
        parent = self.stack[-1]
        header = rows[0].cells
        columns = [self.vocab.section_of(cell) for cell in header]
        roles = [
            self._column_role(cell) if kind is None else ""
            for cell, kind in zip(header, columns, strict=False)
        ]
        if "title" not in roles and "other" in roles:
            roles[roles.index("other")] = "title"  # the first column that is nothing else
        for row in rows[1:]:
            scope = Scope(SCOPE_ROW, parent.level + 0.25, "", row.line, parent)
            sections: list[SectionDraft] = []
            for cell, kind, role in zip(row.cells, columns, roles, strict=False):
                if kind is not None:
                    pieces = self._cell_blocks(cell, row.line)
                    sections.append(SectionDraft(kind, scope.level, row.line, pieces))
                elif role == "title" and not scope.title:
                    scope.title = clean_title(cell)
                elif role == "level":
                    scope.level_hint = self.vocab.config.level_id(strip_markup(cell))
                elif role == "theme" and strip_markup(cell):
                    scope.theme_hints.append(strip_markup(cell))
                elif role == "question":
                    scope.questions.extend(split_questions(cell))
            filled = [s for s in sections if s.pieces]
            if _makes_story([s.kind for s in filled]):
                self._story(scope, scope, sections)
            elif any(strip_markup(cell) for cell in row.cells):
                self._leave_out([row.block])

    def _column_role(self, header: str) -> str:
        words = _TRAILING_COLON.sub("", strip_markup(header)).casefold()
        if words in _TITLE_COLUMNS:
            return "title"
        if words in _LEVEL_COLUMNS:
            return "level"
        if words in _THEME_COLUMNS:
            return "theme"
        if self.vocab.is_question_label(header):
            return "question"
        if words in _IGNORED_COLUMNS:
            return "ignored"
        return "other"

    def _part_rows(self, rows: list[TableRow]) -> None:
        """A table whose first column labels the parts of the current story."""
        for index, row in enumerate(rows):
            kind = self.vocab.section_of(row.cells[0]) if row.cells else None
            pieces = [b for cell in row.cells[1:] for b in self._cell_blocks(cell, row.line)]
            if kind is not None:
                self._open_section(kind, self.stack[-1].level, row.block, "")
                assert self.section is not None
                self.section.pieces.extend(pieces)
            elif index and self.section is not None:
                self.section.pieces.extend(pieces)  # a row continuing the part above
            elif index:
                self._leave_out([row.block])
        self._close_section()

    def _cell_blocks(self, cell: str, line: int) -> list[Block]:
        """A table cell's markdown as blocks; `<br>` separates entries."""
        out: list[Block] = []
        for part in _LINE_BREAK.split(cell):
            if part.strip():
                out.extend(to_blocks(self.md.parse(part.strip()), offset=line - 1))
        return out

    # --- raw HTML -----------------------------------------------------------------------

    def _html(self, block: Block) -> bool:
        """An HTML block whose only words are a label (`<summary>Situation</summary>`)."""
        if block.kind != HTML:
            return False
        lines = [w for w in (strip_markup(x) for x in block.content.splitlines()) if w]
        label = self.vocab.label(lines[0]) if len(lines) == 1 else None
        if label is None:
            return False
        self._close_section()
        self._open_section(label.section, self.stack[-1].level, block, label.rest)
        return True

    def _content(self, block: Block) -> None:
        text = block.text if block.kind == PARAGRAPH else block.content
        if _holds_tag(text):
            if block.kind in (PARAGRAPH, HTML) and _HTML_ONLY.match(text):
                return
            if _RAW_ELEMENT.match(text):
                self.found.raw_html.append(block)  # a <script> or <style> is never story text
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
        top = self.stack[-1]
        if not implicit and self._repeats_opening(top, kind):
            self._split_scope(top, block.line)
        section = SectionDraft(kind, level, block.line, implicit=implicit)
        if implicit:
            section.pieces.append(block)
        elif rest:
            section.pieces.extend(to_blocks(self.md.parse(rest), offset=block.line - 1))
        top.sections.append(section)
        top.asked = (len(top.questions), len(top.alternates))
        self.section = section

    def _repeats_opening(self, scope: Scope, kind: Section) -> bool:
        """Does a label of `kind` open a second story in `scope`?

        It does when the scope's story opened with a Situation (or a Task) of this kind and
        has told an Action or Result since: `Situation, Action, Result, Situation, ...`.
        A second Situation right after a Task (more context) does not.
        """
        if kind not in (Section.SITUATION, Section.TASK):
            return False
        star = [s.kind for s in scope.sections if s.kind in STAR]
        if not star or star[0] is not kind:
            return False
        last = len(star) - 1 - star[::-1].index(kind)
        return any(k in (Section.ACTION, Section.RESULT) for k in star[last + 1 :])

    def _split_scope(self, scope: Scope, line: int) -> None:
        """End the story told so far in `scope`; what follows is the scope's next story."""
        asked, asked_alt = scope.asked
        done = Scope(
            scope.kind,
            scope.level,
            scope.title,
            scope.line,
            scope.parent,
            level_hint=scope.level_hint,
            sections=scope.sections,
            questions=scope.questions[:asked],
            alternates=scope.alternates[:asked_alt],
            intro=scope.intro,
            unplaced=scope.unplaced,
            loose=scope.loose,
            loose_from=scope.loose_from,
            split=True,
        )
        collected = sorted([*done.sections, *done.loose], key=lambda s: s.line)
        self._story(done, self._title_scope(done), collected)
        scope.sections, scope.loose, scope.loose_from = [], [], []
        scope.intro, scope.unplaced = [], []
        scope.questions = scope.questions[asked:]
        scope.alternates = scope.alternates[asked_alt:]
        scope.asked = (0, 0)
        scope.line = line
        scope.split = True

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
            self._story(scope, self._title_scope(scope), collected)
            return
        if collected:
            parent.loose.extend(collected)
            parent.loose_from.append(scope)
        self._leave_out(scope.intro)
        self._leave_out(scope.unplaced)

    @staticmethod
    def _title_scope(scope: Scope) -> Scope:
        """The scope that names a story: its own, or the one heading its only loose sections."""
        if not scope.title and scope.kind == SCOPE_HEADING and len(scope.loose_from) == 1:
            return scope.loose_from[0]
        return scope

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
        # The lines of the paragraphs' texts joined are the lines of each: one search.
        texts = (
            inner.text for block in blocks for inner in block.walk() if inner.kind == PARAGRAPH
        )
        seen = self.vocab.letters_in("\n".join(texts))
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
            # (Only asked while some heading is open: the answer would mark none.)
            if open_headings and self._starts_star(block):
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
        if block.kind == TABLE:
            return self._table_shape(block) is not None
        if block.kind == QUOTE:
            return self._quote_has_story(block)
        return False


def _holds_tag(text: str) -> bool:
    """False for a text that is not only tags (`_HTML_ONLY`) nor a raw element: one
    without a `<`, like most."""
    return "<" in text


def _makes_story(kinds: Sequence[Section | None]) -> bool:
    """Parts of two kinds or more, one of them Situation, Task, Action or Result."""
    found = {k for k in kinds if k is not None}
    return len(found) >= 2 and bool(found & set(STAR))


def _bold_title(text: str) -> bool:
    """A paragraph that is one bold phrase on one line: `**Cut the cycle**`."""
    line = text.strip().rstrip(":")
    return (
        "\n" not in line
        and line.startswith(("**", "__"))
        and line.endswith(("**", "__"))
        and line.count("**") + line.count("__") == 2
    )


def _is_question(text: str) -> bool:
    words = strip_markup(text).rstrip(" *_")
    return words.endswith("?") or bool(re.match(r"^Q\s*\d*\s*[:.)]", words))


def clean_title(text: str) -> str:
    """A heading as a story title: no emoji, emphasis, numbering or `Case Study:` prefix."""
    title = strip_numbering(strip_markup(text.partition("\n")[0]))
    title = _TITLE_PREFIX.sub("", title)
    return title.strip(" :-–—")


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

"""Story drafts -> Story records: the fields of each section, title, id, level and themes."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.token import Token

from storydeck.config import Config
from storydeck.model import Diagnostic, FollowUp, Location, Section, Severity, Step, Story, Text
from storydeck.parse.blocks import (
    HEADING,
    ITEM,
    LIST,
    PARAGRAPH,
    TABLE,
    Block,
    block_plain,
    blocks_plain,
    inline_plain,
    render_blocks,
    render_tokens,
    table_rows,
    to_blocks,
)
from storydeck.parse.frontmatter import FrontMatter
from storydeck.parse.labels import Vocabulary, strip_markup
from storydeck.parse.stories import Scope, SectionDraft, StoryDraft, clean_title

_LESSON_LEAD = re.compile(
    r"\b(learn|lesson|realiz|realis|takeaway|post[- ]?mortem|retro|reflect)", re.IGNORECASE
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“(])")
_DASH_SPLIT = re.compile(r"^(?P<head>[^.!?:—–]{3,80}?)\s+(?:—|–|--|-)\s+(?P<rest>\S.*)$", re.DOTALL)
_COLON_SPLIT = re.compile(r"^(?P<head>[^.!?:—–]{3,60}?):\s+(?P<rest>\S.*)$", re.DOTALL)
_QA_PREFIX = re.compile(r"^\s*(?:\*\*|__)?\s*(?:Q|Question)\s*\d*\s*[:.)]\s*(?:\*\*|__)?\s*", re.I)
# Where an answer starts: `A:` on a line of its own, or right after the question mark.
_A_SPLIT = re.compile(
    r"(?:\n\s*(?:\*\*|__)?\s*(?i:A|Answer)\s*[:.)]|(?<=\?)(?:\*\*|__)?\s*(?:\*\*|__)?"
    r"\s*(?:A|Answer)\s*[:)])\s*(?:\*\*|__)?\s*"
)
_SLUG = re.compile(r"[^a-z0-9]+")
_STEM_SEPARATORS = re.compile(r"[-_]+")
_CLAUSE_END = re.compile(r"[.!?,;:\"”]\s*$")
_QUESTION_NUMBER = re.compile(r"^(?:\d{1,2}|[a-z])\s*[.)]\s+")
_SPACES = re.compile(r"\s+")
# What parts a bold lead from the rest of its line: `**Lead** — rest`, `**Lead**: rest`.
_LEAD_SEPARATOR = re.compile(r"^\s*(?:[:—–]|--|-(?=\s))\s*")


@dataclass(slots=True)
class _Item:
    """One entry of a list-like section, before it becomes Text."""

    blocks: list[Block]
    lesson: bool = False


class Assembler:
    """Turns the drafts of one file into Story records."""

    def __init__(
        self,
        *,
        vocab: Vocabulary,
        md: MarkdownIt,
        path: str,
        stem: str,
        front: FrontMatter,
        diagnostics: list[Diagnostic],
    ) -> None:
        self.vocab = vocab
        self.config: Config = vocab.config
        self.md = md
        self.path = path
        self.stem = stem
        self.front = front
        self.diagnostics = diagnostics
        self._places: dict[int, Location] = {}

    def stories(self, drafts: Sequence[StoryDraft]) -> list[Story]:
        single = len(drafts) == 1
        level = self._front_level()
        themes = self._front_themes()
        used: set[str] = set()
        return [self._story(d, single, level, themes, used) for d in drafts]

    # --- one story ----------------------------------------------------------------------

    def _story(
        self,
        draft: StoryDraft,
        single: bool,
        front_level: str | None,
        front_themes: tuple[str, ...],
        used: set[str],
    ) -> Story:
        by_kind: dict[Section, list[SectionDraft]] = {}
        for section in draft.sections:
            by_kind.setdefault(section.kind, []).append(section)

        def pieces(kind: Section) -> list[Block]:
            return [b for s in by_kind.get(kind, []) for b in s.pieces]

        results, lessons_from_results = self._items(pieces(Section.RESULT), split_lessons=True)
        lessons, _ = self._items(pieces(Section.LESSONS), split_lessons=False)
        summary_blocks = pieces(Section.SUMMARY) or draft.intro
        situation = self._text(pieces(Section.SITUATION))
        task = self._text(pieces(Section.TASK))
        title = self._title(draft, single, situation or task)
        questions = self._questions(draft)
        story = Story(
            id=self._unique_id(title, single, used),
            title=title,
            source=Location(self.path, draft.line),
            level=front_level or self._level(draft, title),
            themes=front_themes or self._themes(draft, title, questions),
            questions=tuple(questions),
            tags=tuple(_tag(t) for t in self.front.tags),
            situation=situation,
            task=task,
            summary=self._summary(summary_blocks, single),
            actions=tuple(self._steps(pieces(Section.ACTION))),
            results=tuple(self._item_text(i) for i in results),
            lessons=tuple(self._item_text(i) for i in [*lessons, *lessons_from_results]),
            followups=tuple(self._followups(pieces(Section.FOLLOWUPS))),
            sections=frozenset(by_kind),
        )
        self._check_empty(story)
        return story

    def _check_empty(self, story: Story) -> None:
        """A story whose labels all head empty sections (a skeleton) makes no cards: say so."""
        told = (story.situation, story.task, story.actions, story.results, story.lessons)
        if not any(told) and not story.followups:
            self.diagnostics.append(
                Diagnostic(
                    Severity.WARNING,
                    Location(story.source.path, story.source.line, 1),
                    "empty-story",
                    f"story {story.title!r} has only empty sections, so it makes no cards",
                    "write its Situation, Action and Result, or delete the stub",
                )
            )

    def _title(self, draft: StoryDraft, single: bool, context: Text | None) -> str:
        if single and self.front.title:
            return self.front.title
        for scope in draft.title_scope.ancestors():
            if scope.title:
                if draft.scope.split and context:
                    # One heading over several stories: tell them apart by how each starts.
                    return f"{scope.title} — {_headline(context.plain)}"
                return scope.title
        questions = self._questions(draft)
        if questions:
            return questions[0]
        if not single and context:
            # Several untitled stories in one note: name each by how it starts.
            return _headline(context.plain)
        return _STEM_SEPARATORS.sub(" ", self.stem).strip().capitalize() or self.stem

    def _questions(self, draft: StoryDraft) -> list[str]:
        seen: set[str] = set()
        primary: list[str] = []
        for question in [*self.front.questions, *_scope_questions(draft.scope)]:
            key = question.casefold().rstrip("?. ")
            if key not in seen:
                seen.add(key)
                primary.append(question)
        return primary

    def _summary(self, blocks: list[Block], single: bool) -> Text | None:
        if single and self.front.summary:
            return Text(
                self.front.summary,
                html.escape(self.front.summary, quote=False),
                Location(self.path, 1),
            )
        return self._text(blocks)

    # --- level and themes ---------------------------------------------------------------

    def _front_level(self) -> str | None:
        name = self.front.level
        if not name:
            return None
        level = self.config.level_id(name)
        if level is None:
            known = ", ".join(level.id for level in self.config.levels)
            self.diagnostics.append(
                Diagnostic(
                    Severity.WARNING,
                    self.front.level_at or Location(self.path, 1),
                    "unknown-level",
                    f"unknown level {name!r}; the story goes to the Unleveled deck",
                    f"use one of {known} or add it to `levels` in storydeck.yaml",
                )
            )
        return level

    def _front_themes(self) -> tuple[str, ...]:
        out: list[str] = []
        for name in self.front.themes:
            theme = self.vocab.theme_id(name)
            if theme is None:
                theme = _SLUG.sub("-", name.casefold()).strip("-")
                self.diagnostics.append(
                    Diagnostic(
                        Severity.WARNING,
                        self.front.themes_at or Location(self.path, 1),
                        "unknown-theme",
                        f"theme {name!r} is not configured; its deck is titled "
                        f"{self.config.theme_title(theme)!r}",
                        "add it to `themes` in storydeck.yaml or use one of "
                        + ", ".join(t.id for t in self.config.themes),
                    )
                )
            if theme and theme not in out:
                out.append(theme)
        return tuple(out)

    def _level(self, draft: StoryDraft, title: str) -> str | None:
        for scope in draft.scope.ancestors():
            if scope.level_hint:
                return scope.level_hint
        mentioned = set(self.vocab.levels_in(title))
        for section in draft.sections:
            mentioned.update(self.vocab.levels_in(blocks_plain(section.pieces)))
        root = draft.scope.ancestors()[-1]
        mentioned.update(self.vocab.levels_in(blocks_plain(root.intro)))
        mentioned.update(self.vocab.levels_in(blocks_plain(draft.intro)))
        return mentioned.pop() if len(mentioned) == 1 else None

    def _themes(self, draft: StoryDraft, title: str, questions: list[str]) -> tuple[str, ...]:
        texts = [h for s in draft.scope.ancestors() for h in s.theme_hints]
        texts += [s.title for s in reversed(draft.scope.ancestors()) if s.title]
        texts += [title, *questions]
        out: list[str] = []
        for text in texts:
            for _, theme in self.vocab.themes_in(text):
                if theme not in out:
                    out.append(theme)
        return tuple(out)

    # --- ids ----------------------------------------------------------------------------

    def _unique_id(self, title: str, single: bool, used: set[str]) -> str:
        """The id of the story titled `title`, unlike the `used` ones of its note."""
        if single:
            base = self.front.id or self.stem
        else:
            base = f"{self.front.id or self.stem}/{_slug(title)}"
        story_id, n = base, 2
        while story_id in used:
            story_id, n = f"{base}-{n}", n + 1
        used.add(story_id)
        return story_id

    # --- text ---------------------------------------------------------------------------

    def _text(self, blocks: Sequence[Block]) -> Text | None:
        shown = [b for b in blocks if block_plain(b)]
        if not shown:
            return None
        return Text(blocks_plain(shown), render_blocks(shown, self.md), self._at(shown[0]))

    def _at(self, block: Block) -> Location:
        """Where a block is: one Location per line, shared by everything made there."""
        at = self._places.get(block.line)
        if at is None:
            at = self._places[block.line] = Location(self.path, block.line)
        return at

    def _plain_text(self, plain: str, at: Location) -> Text:
        if "&" in plain or "<" in plain or ">" in plain:
            return Text(plain, html.escape(plain, quote=False), at)
        return Text(plain, plain, at)  # nothing to escape: most headlines and questions

    # --- results and lessons ------------------------------------------------------------

    def _items(
        self, pieces: Sequence[Block], *, split_lessons: bool
    ) -> tuple[list[_Item], list[_Item]]:
        """Entries of a list-like section; lead-ins (`... review:`) name what follows."""
        items: list[_Item] = []
        lessons: list[_Item] = []
        entries = list(_expand(pieces))
        i = 0
        while i < len(entries):
            entry = entries[i]
            head = _head(entry)
            nested = _nested_lists(entry)
            if entry.kind == ITEM and head is None:
                inner, more = self._items(nested, split_lessons=split_lessons)
                items.extend(inner)
                lessons.extend(more)
                i += 1
                continue
            lead = head is not None and _is_lead_in(head.text)
            follows = [] if nested else _following_group(entries, i)
            if lead and (nested or follows):
                assert head is not None
                group = nested if nested else follows
                inner, more = self._items(group, split_lessons=split_lessons)
                if split_lessons and _LESSON_LEAD.search(head.text):
                    lessons.extend([*inner, *more])
                else:
                    items.extend(inner)
                    lessons.extend(more)
                i += 1 + (len(follows) if not nested else 0)
                continue
            if entry.kind == HEADING:
                i += 1
                continue
            if block_plain(entry):
                items.append(_Item([entry]))
            i += 1
        return items, lessons

    def _item_text(self, item: _Item) -> Text:
        text = self._text(item.blocks)
        assert text is not None
        return text

    # --- action steps -------------------------------------------------------------------

    def _steps(self, pieces: Sequence[Block]) -> Iterator[Step]:
        entries = list(_expand(pieces))
        titles = self._step_titles(entries)
        if titles:
            current: Block | None = None
            detail: list[Block] = []
            for entry in entries:
                if entry in titles:
                    if current is not None:
                        yield self._titled_step(current, detail)
                    current, detail = entry, []
                elif current is None:
                    if not (entry.kind == PARAGRAPH and _is_lead_in(entry.text)):
                        yield from self._entry_steps([entry])
                else:
                    detail.append(entry)
            if current is not None:
                yield self._titled_step(current, detail)
            return
        yield from self._entry_steps(entries)

    def _step_titles(self, entries: list[Block]) -> set[Block]:
        headings = [e for e in entries if e.kind == HEADING]
        if headings:
            top = min(h.level for h in headings)
            return {h for h in headings if h.level == top}
        titles = set()
        for index, entry in enumerate(entries):
            if entry.kind != PARAGRAPH or "\n" in entry.text.strip():
                continue
            following = entries[index + 1] if index + 1 < len(entries) else None
            if _bold_only(entry.text) or (
                _short_title(entry.text)
                and following is not None
                and following.kind in {ITEM, LIST}
            ):
                titles.add(entry)
        return titles

    def _titled_step(self, title: Block, detail: list[Block]) -> Step:
        headline = clean_title(title.text)
        at = self._at(title)
        text = self._text(detail) or Text("", "", at)
        return Step(self._plain_text(headline, at), text)

    def _entry_steps(self, entries: list[Block]) -> Iterator[Step]:
        for entry in entries:
            if entry.kind == ITEM:
                head = _head(entry)
                if head is None:
                    yield from self._entry_steps(list(_expand(_nested_lists(entry))))
                    continue
                yield self._split_step(head, entry.children[1:])
            elif entry.kind == PARAGRAPH:
                if not _is_lead_in(entry.text) and block_plain(entry):
                    yield self._split_step(entry, [])
            elif entry.kind == TABLE:
                yield from self._table_steps(entry)
            elif block_plain(entry):
                text = self._text([entry])
                assert text is not None
                yield Step(text, Text("", "", text.location))

    def _table_steps(self, table: Block) -> Iterator[Step]:
        """A table in the Action: a step per row, its first cell the headline and the
        other cells (`Approach: ...; Outcome: ...`) the detail."""
        rows = table_rows(table)
        header = rows[0].plain if rows else []
        for row in rows[1:]:
            if not row.plain or not row.plain[0]:
                continue
            at = Location(self.path, row.line)
            named = zip(header[1:], row.plain[1:], strict=False)
            detail = "; ".join(f"{h}: {v}" if h else v for h, v in named if v)
            yield Step(self._plain_text(row.plain[0], at), self._plain_text(detail, at))

    def _split_step(self, head: Block, more: Sequence[Block]) -> Step:
        """A list item or paragraph as headline + detail."""
        at = self._at(head)
        extra = self._text(more)
        lead = _bold_lead(head.inline)
        if lead is not None and lead[1]:
            headline, rest = lead
            rest_html = render_tokens(rest, self.md)
            rest_plain = inline_plain(rest)
            return Step(
                self._plain_text(headline, at),
                _join_text(Text(rest_plain, rest_html, at), extra, at),
            )
        plain = block_plain(head) if head.inline is not None else ""
        for pattern in (_DASH_SPLIT, _COLON_SPLIT):
            match = pattern.match(plain)
            if match and len(match.group("head").split()) <= 10:
                return Step(
                    self._plain_text(match.group("head").strip(), at),
                    _join_text(self._plain_text(match.group("rest").strip(), at), extra, at),
                )
        parts = _SENTENCE_END.split(plain, maxsplit=1)
        sentence = parts[0]
        after = parts[1] if len(parts) > 1 else ""
        if not after and lead is None:
            whole = self._text([head])
            assert whole is not None
            return Step(whole, extra or Text("", "", at))
        return Step(
            self._plain_text(sentence.strip(), at),
            _join_text(self._plain_text(after.strip(), at) if after else None, extra, at),
        )

    # --- follow-ups ---------------------------------------------------------------------

    def _followups(self, pieces: Sequence[Block]) -> Iterator[FollowUp]:
        entries = list(_expand(pieces))
        question: Text | None = None
        answer: list[Block] = []
        question_level = 99
        for entry in entries:
            asked = self._question_of(entry)
            if entry.kind == HEADING and question is not None and entry.level > question_level:
                asked = None
            if asked is not None:
                if question is not None:
                    yield self._followup(question, answer)
                question, answer = asked
                question_level = entry.level if entry.kind == HEADING else 99
            elif question is not None:
                answer.append(entry)
        if question is not None:
            yield self._followup(question, answer)

    def _question_of(self, entry: Block) -> tuple[Text, list[Block]] | None:
        """(question, the part of the same block that answers it) when `entry` asks one."""
        at = self._at(entry)
        if entry.kind == HEADING:
            return self._plain_text(_question_text(entry.text), at), []
        head = _head(entry) if entry.kind == ITEM else entry if entry.kind == PARAGRAPH else None
        if head is None or head.inline is None:
            return None
        source = head.text
        first, _, more = source.partition("\n")
        # A `Q:` prefix that the first line or the question before an `A:` starts with
        # starts the whole text too: without one there, neither is looked for.
        prefixed = _QA_PREFIX.match(source) is not None
        if prefixed:
            split = _A_SPLIT.split(source, maxsplit=1)
            if len(split) == 2 and _QA_PREFIX.match(split[0]):
                question, answer_src = split
                return self._plain_text(_question_text(question), at), self._parse(answer_src, head)
            prefixed = _QA_PREFIX.match(first) is not None
        # Reducing a line keeps each of its question marks and makes none.
        first_plain = strip_markup(first) if "?" in first else ""
        if not prefixed and not first_plain.endswith("?"):
            if "\n" in source.strip():
                return None
            lead = _bold_lead(head.inline)
            if lead is None or lead[1]:
                return None
        answer = self._parse(more, head) if more.strip() else []
        if not answer and "?" in first_plain and not first_plain.endswith("?"):
            q, _, a = first_plain.partition("?")
            return self._plain_text(_question_text(q + "?"), at), self._parse(a, head)
        if entry.kind == ITEM:
            answer += entry.children[1:]
        return self._plain_text(_question_text(first), at), answer

    def _followup(self, question: Text, answer: list[Block]) -> FollowUp:
        text = self._text(answer) or Text("", "", question.location)
        return FollowUp(question, text)

    def _parse(self, source: str, near: Block) -> list[Block]:
        return (
            to_blocks(self.md.parse(source.strip()), offset=near.line - 1) if source.strip() else []
        )


# --- helpers ----------------------------------------------------------------------------


def _scope_questions(scope: Scope) -> list[str]:
    """The questions named around a story, innermost first; alternates come last."""
    chain = scope.ancestors()
    return [q for s in chain for q in s.questions] + [q for s in chain for q in s.alternates]


def _expand(pieces: Sequence[Block]) -> Iterator[Block]:
    for piece in pieces:
        if piece.kind == LIST:
            yield from piece.children
        else:
            yield piece


def _head(entry: Block) -> Block | None:
    """A paragraph, or a list item's leading paragraph. None for an item without one
    that shows any text (`* ` then a nested list, or characters markdown keeps but
    that are space to Python, like U+001F): its nested items stand for it."""
    if entry.kind == PARAGRAPH:
        return entry
    if entry.kind == ITEM and entry.children and entry.children[0].kind == PARAGRAPH:
        first = entry.children[0]
        return first if block_plain(first) else None
    return None


def _nested_lists(entry: Block) -> list[Block]:
    if entry.kind != ITEM:
        return []
    return [c for c in entry.children if c.kind == LIST]


def _following_group(entries: list[Block], index: int) -> list[Block]:
    """The list items right after a lead-in that belong to one other list."""
    if index + 1 >= len(entries):
        return []
    first = entries[index + 1]
    if first.kind != ITEM or (entries[index].kind == ITEM and first.owner == entries[index].owner):
        return []
    group = []
    for entry in entries[index + 1 :]:
        if entry.kind != ITEM or entry.owner != first.owner:
            break
        group.append(entry)
    return group


def _is_lead_in(text: str) -> bool:
    # Reducing a line keeps each of its colons and makes none: a line without one is
    # not reduced.
    stripped = text.strip()
    return "\n" not in stripped and ":" in stripped and strip_markup(stripped).endswith(":")


def _bold_only(text: str) -> bool:
    stripped = text.strip().rstrip(":")
    return (
        stripped.startswith(("**", "__"))
        and stripped.endswith(("**", "__"))
        and "\n" not in stripped
        and stripped.count("**") + stripped.count("__") == 2
    )


def _short_title(text: str) -> bool:
    words = strip_markup(text)
    return 0 < len(words.split()) <= 12 and not _CLAUSE_END.search(words)


def _bold_lead(inline: Token | None) -> tuple[str, list[Token]] | None:
    """`**Headline** — rest` -> ("Headline", rest tokens); None without a bold lead.

    A lead followed by a plain continuation (`**Opened** a bridge`) is no headline:
    then the rest is empty and the caller keeps the sentence whole.
    """
    if inline is None or not inline.children:
        return None
    children = inline.children
    start, count = 0, len(children)
    while start < count and children[start].type == "text" and not children[start].content.strip():
        start += 1  # markdown-it may open with an empty text token
    if start == count or children[start].type not in {"strong_open", "em_open"}:
        return None
    depth = 0
    close = -1
    for index in range(start, count):
        depth += children[index].nesting
        if depth == 0:
            close = index
            break
    if close < 0:
        return None
    lead = inline_plain(children[start + 1 : close]).strip().rstrip(":").strip()
    rest = children[close + 1 :]
    if not rest:
        return lead, []
    first = rest[0]
    if first.type == "text":
        match = _LEAD_SEPARATOR.match(first.content)
        if not match and not first.content.startswith(":"):
            return lead, []  # the bold words run on into the sentence
        if match:
            rest[0] = _with_content(first, first.content[match.end() :])
    return lead, rest


def _with_content(token: Token, content: str) -> Token:
    """A copy of `token` holding `content`: what `token.copy(content=...)` makes, at a
    sixth of the cost of going through `dataclasses.replace`."""
    if not _TOKEN_IN_ORDER:
        return token.copy(content=content)
    return Token(
        token.type,
        token.tag,
        token.nesting,
        token.attrs,
        token.map,
        token.level,
        token.children,
        content,
        token.markup,
        token.info,
        token.meta,
        token.block,
        token.hidden,
    )


#: Whether a Token takes its fields in the order `_with_content` passes them.
_TOKEN_IN_ORDER = tuple(f.name for f in dataclasses.fields(Token) if f.init) == (
    "type",
    "tag",
    "nesting",
    "attrs",
    "map",
    "level",
    "children",
    "content",
    "markup",
    "info",
    "meta",
    "block",
    "hidden",
)


def _join_text(first: Text | None, extra: Text | None, at: Location) -> Text:
    parts = [t for t in (first, extra) if t]
    if not parts:
        return Text("", "", at)
    if len(parts) == 1:
        return parts[0]
    a, b = parts
    return Text(f"{a.plain}\n{b.plain}", f"{a.html}\n{b.html}", a.location)


def _question_text(text: str) -> str:
    words = strip_markup(_QA_PREFIX.sub("", text.partition("\n")[0]))
    words = _QUESTION_NUMBER.sub("", words)
    return words.strip().strip("\"'“”‘’").strip()


def _headline(text: str, limit: int = 60) -> str:
    """The first sentence of a text, cut at a word boundary to `limit` characters."""
    first = _SENTENCE_END.split(" ".join(text.split()), maxsplit=1)[0].rstrip(" .")
    if len(first) <= limit:
        return first
    return first[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def _slug(title: str, limit: int = 60) -> str:
    words = [w for w in _SLUG.split(title.casefold()) if w]
    slug = ""
    for word in words:
        if slug and len(slug) + 1 + len(word) > limit:
            break
        slug = f"{slug}-{word}" if slug else word[:limit]
    return slug or "story"


def _tag(tag: str) -> str:
    return _SPACES.sub("-", tag.strip())

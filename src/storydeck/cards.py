"""Stories -> atomic cards: one small rule per card kind.

Every card holds one fact on its back and a context cue on its front (the story
and, where known, the interview question), after Wozniak's rules for formulating
knowledge. Cards are plain data; which Anki note type carries them is decided
when packaging.

Card text is HTML. A story's `Text` values carry the HTML the parser rendered
(markdown-it, raw HTML escaped); every other string that reaches a card (titles,
questions, trimmed sentences, metric values) is escaped here.
"""

from __future__ import annotations

import hashlib
import html
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from storydeck.config import Config
from storydeck.model import CardKind, Location, Step, Story, Text

if TYPE_CHECKING:
    from storydeck.metrics import Metric

    _Cloze = Callable[[str, Sequence[Metric]], str]

# The metric detector (storydeck.metrics) is imported where it is used: compiling its
# patterns takes longer than a build that only reads cached cards needs them.

#: Fields of every storydeck note, in the order the note types declare them: a public
#: schema (see templates.py). The first one is the sort field.
FIELDS = (
    "Front",
    "Back",
    "Detail",
    "Context",
    "Story",
    "Question",
    "Level",
    "Theme",
    "Kind",
    "Source",
)

#: Front text longer than this does not fit a phone screen: the front keeps its
#: first sentence and the back's detail gets the whole text.
FRONT_LIMIT = 280
#: Prompt cards belong to no one story; they share this identity anchor.
PROMPT_ANCHOR = "::prompt"
#: "At most one line" of detail under an action step's headline.
DETAIL_LIMIT = 140
#: The cue above an action step (the task, or the previous step).
CUE_LIMIT = 160
#: The one-line situation and the headline result on a prompt card's back.
LINE_LIMIT = 200

_KIND_ORDER = {k: i for i, k in enumerate(CardKind)}


def kind_rank(kind: CardKind) -> int:
    """Where cards of `kind` come among a story's cards (prompt cards first)."""
    return _KIND_ORDER[kind]


def fingerprint(parts: Iterable[str]) -> str:
    """A short hash of some texts, in order: how storydeck tells content apart."""
    digest = hashlib.sha256("\x1e".join(parts).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:16]


#: A note's field values, in the order of FIELDS.
field_values = operator.itemgetter(*FIELDS)


def _content_fingerprint(kind: str, fields: dict[str, str], tags: str) -> str:
    """A card's `fingerprint`: of its kind, its fields in order and its tags (`tags`,
    separated by spaces)."""
    return fingerprint((kind, *field_values(fields), tags))


@dataclass(slots=True, unsafe_hash=True)
class Card:
    """One note to be: its text, where it goes and where it came from."""

    kind: CardKind
    #: What the card's identity is anchored to: the story id, or PROMPT_ANCHOR.
    anchor: str
    #: The text that identifies the card among its anchor's cards of this kind.
    key: str
    deck: str
    tags: tuple[str, ...]
    fields: dict[str, str]
    source: Location
    stories: tuple[str, ...]
    ordinal: int = 0
    #: How many Anki cards the note makes (cloze deletions).
    count: int = 1
    guid: str = field(default="", compare=False)
    #: A hash of what the note holds (kind, fields, tags): the lock compares it to tell
    #: an edited card from an unchanged one. Worked out when the card is made; copy a
    #: card with `with_guid`/`with_fields`, not `dataclasses.replace` (which keeps it).
    fingerprint: str = field(default="", compare=False)
    #: The guid the card takes when the lock knows it under no other (identity.py's
    #: `make_guid` with no salt), when already worked out where the card was made.
    proposed: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.fingerprint:
            tags = " ".join(self.tags)
            self.fingerprint = _content_fingerprint(self.kind.value, self.fields, tags)

    @property
    def story(self) -> str:
        return self.stories[0] if self.stories else ""

    @property
    def front(self) -> str:
        """The front side's text as placed in the note: context cue, then the prompt."""
        return _join_html(self.fields["Context"], self.fields["Front"])

    @property
    def back(self) -> str:
        return _join_html(self.fields["Back"], self.fields["Detail"])

    @property
    def is_cloze(self) -> bool:
        return self.kind is CardKind.METRIC

    def with_guid(self, guid: str) -> Card:
        """This card with its guid (a direct constructor call: `replace` is several times
        slower, and a bank has tens of thousands of cards)."""
        return self._copy(self.fields, guid, self.fingerprint)

    def with_fields(self, fields: dict[str, str]) -> Card:
        return self._copy(fields, self.guid, "")

    def _copy(self, fields: dict[str, str], guid: str, known: str) -> Card:
        return Card(
            self.kind,
            self.anchor,
            self.key,
            self.deck,
            self.tags,
            fields,
            self.source,
            self.stories,
            self.ordinal,
            self.count,
            guid,
            known,
            self.proposed,
        )


def build_cards(
    stories: Sequence[Story],
    config: Config,
    *,
    root: str = "",
    made: Sequence[Sequence[Card]] = (),
    answers: Sequence[str] = (),
) -> tuple[Card, ...]:
    """Every card of a bank, in the order a reader meets them.

    `root` is the notes directory as the stories' paths name it: the cards' Source
    field names files relative to it, so a card does not change with the directory
    the build is run from. `made` may hold each story's own cards, already made by
    `story_cards` with the same root (in worker processes, or cached), and `answers`
    each story's `story_answer`; prompt cards are made here.
    """
    cards: list[Card] = []
    order: dict[str, int] = {}
    for index, story in enumerate(stories):
        order[story.id] = index
        cards.extend(made[index] if made else story_cards(story, config, root))
    cards.extend(_relative(prompt_cards(stories, config, answers), root))
    cards.sort(key=lambda c: (order.get(c.story, 0), _KIND_ORDER[c.kind], c.ordinal))
    return tuple(cards)


def story_cards(story: Story, config: Config, root: str = "") -> Iterator[Card]:
    """The cards of one story that belong to it alone (every kind but prompt)."""
    frame = _Frame(story, config, root)
    yield from _metric_cards(frame)
    yield from _action_cards(frame)
    yield from _lesson_cards(frame)
    yield from _followup_cards(frame)


def _source_prefix(root: str) -> str:
    """What a Source field's file names start with when they lie under `root` (as it
    is escaped there); nothing to drop when `root` is empty."""
    return _esc(root.rstrip("/") + "/") if root else ""


def _relative(cards: Iterable[Card], root: str) -> Iterator[Card]:
    """The cards with their Source naming files relative to `root`."""
    if not root:
        yield from cards
        return
    prefix = _source_prefix(root)
    for card in cards:
        names = card.fields["Source"].split(", ")
        source = ", ".join(n.removeprefix(prefix) for n in names)
        yield card.with_fields(card.fields | {"Source": source})


# --- plain text: sentences, clipping, one-line summaries -------------------------------

# A sentence ends at ".", "!" or "?" (and any closing quotes or brackets) followed by
# a space and a capital, a digit or an opening quote. A line break always ends one.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9$€£])")
_LAST_WORD = re.compile(r"[\w.]+\Z")
_ABBREVIATIONS = frozenset({"e.g", "i.e", "vs", "approx", "cf", "mr", "mrs", "ms", "dr", "no"})
# How far back from a sentence end to look for the word before it. Case folding never
# shortens a text, so a word longer than every abbreviation is none of them, and the
# last characters of such a word are not one either: looking further back would only
# cost a scan of the whole line before each full stop.
_WORD_ROOM = max(map(len, _ABBREVIATIONS)) + 1
# Where a clause may be cut: after a comma, semicolon or colon, or around a dash.
_CLAUSE = re.compile(r"[,;:]\s+|\s+[—–-]\s+")
_CLOSERS = (".", "!", "?", ":", ";", "…")


def _ends_abbreviation(line: str, end: int) -> bool:
    """Whether the word that ends at `end` in `line` is an abbreviation ("e.g", "vs")."""
    word = _LAST_WORD.search(line, max(0, end - _WORD_ROOM), end)
    return word is not None and word.group().casefold() in _ABBREVIATIONS


def sentences(text: str) -> list[str]:
    """The sentences of a plain text, in order; every line holds at least one."""
    return list(_sentences(text))


# A story's cards split the same texts more than once (a result for its metric cards and
# again for the prompt card's headline result, a step's detail for its metric cards and
# again for the line under its headline), one story after another: a few hundred recent
# texts is all a cache needs to keep.
@lru_cache(maxsize=512)
def _sentences(text: str) -> tuple[str, ...]:
    if "\n" not in text and _SENTENCE_END.search(text) is None:
        # One sentence, as most texts are (a step, a result, a lesson).
        stripped = text.strip()
        return (stripped,) if stripped else ()
    found: list[str] = []
    for line in text.split("\n"):
        start = 0
        for match in _SENTENCE_END.finditer(line):
            if not _ends_abbreviation(line, match.start()):
                found.append(line[start : match.end()])
                start = match.end()
        found.append(line[start:])
    return tuple([stripped for piece in found if (stripped := piece.strip())])


def clip(text: str, limit: int) -> str:
    """`text` on one line, cut to at most `limit` characters with an ellipsis.

    The cut falls at the last clause break that keeps at least half the room,
    else at the last word break.
    """
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    room = text[: limit - 1]
    breaks = [m.start() for m in _CLAUSE.finditer(room) if m.start() >= limit // 2]
    if breaks:
        cut = room[: breaks[-1]]
    elif " " in room:
        cut = room.rsplit(" ", 1)[0]
    else:
        cut = room
    return cut.rstrip(" ,;:—–-") + "…"


def first_sentence(text: str, limit: int = FRONT_LIMIT) -> str:
    """The first sentence of a text, clipped when still longer than `limit`."""
    parts = _sentences(text)
    return clip(parts[0], limit) if parts else ""


def lead_line(text: str, limit: int) -> str:
    """The first sentence of `text` as one line of at most `limit` characters.

    A sentence broken across lines (the next line goes on in lower case) is joined
    first. A lead-in that ends with a colon ("I was responsible for:") takes the
    lines that follow it while they fit, so the line never ends on a bare colon.
    """
    if "\n" not in text:  # most texts: the first sentence, clipped
        head = text.strip()
        return clip(_sentences(head)[0], limit) if head else ""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not lines:
        return ""
    head = lines.pop(0)
    while lines and lines[0][:1].islower() and not head.endswith(_CLOSERS):
        head = f"{head} {lines.pop(0)}"
    first = _sentences(head)[0]
    if first != head or not head.endswith(":") or not lines or len(head) > limit - 2:
        return clip(first, limit)
    line, joiner = head, " "
    for item in lines:
        if item.endswith(":"):
            break
        joined = f"{line}{joiner}{' '.join(item.split())}"
        if len(joined) > limit - 1:
            return f"{line} …" if line == head else f"{line}…"
        line, joiner = joined, "; "
    return line if line != head else f"{head} …"


# --- shared pieces ----------------------------------------------------------------------


def deck_name(config: Config, level: str | None, theme: str | None) -> str:
    return f"{config.deck_root}::{level or 'Unleveled'}::{config.theme_title(theme)}"


def story_deck(story: Story, config: Config) -> str:
    return deck_name(config, story.level, story.themes[0] if story.themes else None)


def tag(text: str) -> str:
    """An Anki tag: whitespace (which would split it into several tags) becomes `_`."""
    return "_".join(text.split())


def _tags(kind: CardKind, stories: Sequence[Story]) -> tuple[str, ...]:
    return _with_kind(kind, _story_tags(stories))


def _story_tags(stories: Sequence[Story]) -> dict[str, str]:
    """The stories' own tags, by their case-folded names: Anki tags ignore case, and
    each keeps its first spelling."""
    wanted: list[str] = []
    for story in stories:
        wanted.append(f"level::{story.level or 'unleveled'}")
        wanted.extend(f"theme::{t}" for t in story.themes)
        wanted.append(f"story::{story.id}")
        wanted.extend(story.tags)
    tags: dict[str, str] = {}
    for name in map(tag, wanted):
        if name:
            tags.setdefault(name.casefold(), name)
    return tags


def _with_kind(kind: CardKind, story_tags: dict[str, str]) -> tuple[str, ...]:
    """A card's tags, sorted: storydeck's and its kind's, and the stories' own (one
    spelt like either of the first two in other case gives way to it)."""
    tags = dict(story_tags)
    for name in ("storydeck", f"kind::{kind.value}"):
        tags[name.casefold()] = name
    return tuple(name for _, name in sorted(tags.items()))  # by the case-folded names


def story_questions(story: Story, config: Config) -> tuple[str, ...]:
    """The story's questions, or the example question of its first theme that has one."""
    if story.questions:
        return story.questions
    for theme_id in story.themes:
        theme = config.theme(theme_id)
        if theme is not None and theme.question:
            return (theme.question,)
    return ()


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _join_html(*parts: str) -> str:
    return "\n".join(p for p in parts if p)


def _div(css: str, text: str) -> str:
    """A plain string as an HTML line of the given class; nothing when it is empty."""
    return f'<div class="{css}">{_esc(text)}</div>' if text else ""


def _context(story: Story, config: Config, *extra: str) -> str:
    """The quiet cue above a card's prompt: story title, then the question it answers."""
    questions = story_questions(story, config)
    parts = [_div("sd-story", story.title), _div("sd-question", questions[0] if questions else "")]
    return "".join([*parts, *extra])


def _fits(text: Text) -> tuple[str, str]:
    """(front HTML, detail HTML): long text shows its first sentence, the whole on the back."""
    if len(text.plain) <= FRONT_LIMIT:
        return text.html, ""
    return _esc(first_sentence(text.plain)), text.html


def _fields(
    kind: CardKind,
    stories: Sequence[Story],
    config: Config,
    *,
    front: str,
    back: str,
    detail: str = "",
    context: str = "",
    question: str = "",
) -> dict[str, str]:
    first = stories[0]
    theme = first.themes[0] if first.themes else None
    return {
        "Front": front,
        "Back": back,
        "Detail": detail,
        "Context": context,
        "Story": _esc(" / ".join(s.title for s in stories)),
        "Question": _esc(question),
        "Level": _esc(first.level or "Unleveled"),
        "Theme": _esc(config.theme_title(theme)),
        "Kind": kind.value,
        "Source": _esc(", ".join(s.source.at_line() for s in stories)),
    }


class _Frame:
    """What every card of one story shares (deck, cue, common fields, tags), worked out
    once per story rather than once per card."""

    __slots__ = (
        "_kinds",
        "_prefix",
        "_sources",
        "_story_tags",
        "_wheres",
        "base",
        "config",
        "context",
        "deck",
        "stories",
        "story",
    )

    def __init__(self, story: Story, config: Config, root: str) -> None:
        self.story = story
        self.stories = (story.id,)
        self.config = config
        self.deck = story_deck(story, config)
        self.context = _context(story, config)
        # What `_fields` gives every card of this story alone.
        question = next(iter(story_questions(story, config)), "")
        common = _fields(CardKind.ACTION, [story], config, front="", back="", question=question)
        self.base = {name: common[name] for name in ("Story", "Question", "Level", "Theme")}
        # Sources name files relative to the notes directory (see `_relative`).
        self._prefix = _source_prefix(root)
        self._sources: dict[str, str] = {}
        self._story_tags = _story_tags([story])
        self._kinds: dict[CardKind, _KindTags] = {}
        self._wheres: dict[str, str] = {}

    def kind_tags(self, kind: CardKind) -> _KindTags:
        """The tags of the story's cards of `kind`."""
        found = self._kinds.get(kind)
        if found is None:
            tags = _with_kind(kind, self._story_tags)
            found = self._kinds[kind] = _KindTags(kind.value, tags, " ".join(tags))
        return found

    def where(self, section: str) -> str:
        """The cue above a metric card from `section`: the story's, then the section."""
        found = self._wheres.get(section)
        if found is None:
            found = self._wheres[section] = self.context + _div("sd-where", section)
        return found

    def source(self, location: Location) -> str:
        """The Source field of a card from `location`. Only `:` and digits follow the
        file name, which neither escaping nor dropping the notes directory touches:
        each file name is escaped and made relative once."""
        shown = self._sources.get(location.path)
        if shown is None:
            shown = _esc(location.path)
            shown = self._sources[location.path] = (
                shown.removeprefix(self._prefix) if self._prefix else shown
            )
        return f"{shown}:{location.line}" if location.line else shown


class _KindTags(NamedTuple):
    """A card kind's name and the tags of a story's cards of that kind."""

    value: str
    tags: tuple[str, ...]
    #: The tags as a card's fingerprint takes them.
    text: str


def _card(
    kind: CardKind,
    frame: _Frame,
    *,
    key: str,
    ordinal: int,
    source: Location,
    front: str,
    back: str,
    detail: str = "",
    context: str | None = None,
    count: int = 1,
) -> Card:
    """A card of the story of `frame`; its context is the story's cue unless given."""
    base = frame.base
    tags = frame.kind_tags(kind)
    fields = {
        "Front": front,
        "Back": back,
        "Detail": detail,
        "Context": frame.context if context is None else context,
        "Story": base["Story"],
        "Question": base["Question"],
        "Level": base["Level"],
        "Theme": base["Theme"],
        "Kind": tags.value,
        "Source": frame.source(source),
    }
    # Every field by position, as `Card._copy` passes them: keywords take longer to
    # pass, and a bank makes tens of thousands of cards.
    return Card(
        kind,
        frame.story.id,
        key,
        frame.deck,
        tags.tags,
        fields,
        source,
        frame.stories,
        ordinal,
        count,
        "",
        _content_fingerprint(tags.value, fields, tags.text),
        "",
    )


# --- metric -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetricSentence:
    """A sentence of a story that holds one or more measured quantities."""

    section: str
    sentence: str
    metrics: tuple[Metric, ...]
    location: Location


def _metric_sources(story: Story) -> Iterator[tuple[str, Text]]:
    if story.summary:
        yield "Summary", story.summary
    if story.situation:
        yield "Situation", story.situation
    if story.task:
        yield "Task", story.task
    for step in story.actions:
        yield "Action", step.headline
        if step.detail:
            yield "Action", step.detail
    for result in story.results:
        yield "Result", result


def metric_sentences(story: Story) -> Iterator[MetricSentence]:
    """Each distinct sentence of the story with a metric in it, in reading order."""
    from storydeck.metrics import find_metrics

    seen: set[str] = set()
    for section, text in _metric_sources(story):
        for sentence in _sentences(text.plain):
            if sentence in seen:
                continue
            metrics = find_metrics(sentence)
            if metrics:
                seen.add(sentence)
                yield MetricSentence(section, sentence, metrics, text.location)


def _metric_front(found: MetricSentence, cloze: _Cloze) -> tuple[str, str]:
    """(cloze front, detail): a sentence too long for a phone screen shows only the
    clauses that hold its quantities; the back's detail then has the whole sentence.

    `cloze` is storydeck.metrics' (imported once per story, not once per card)."""
    text, metrics = found.sentence, found.metrics
    if len(text) <= FRONT_LIMIT:
        return cloze(text, metrics), ""
    from storydeck.metrics import Metric, Quantity

    first = metrics[0].quantities[0].start
    last = metrics[-1].quantities[-1].end
    before = [m.end() for m in _CLAUSE.finditer(text, 0, first)]
    after = [m.start() for m in _CLAUSE.finditer(text, last)]
    begin = before[-1] if before else 0
    end = after[0] if after else len(text)
    shifted = tuple(
        Metric(tuple(Quantity(q.start - begin, q.end - begin, q.text) for q in m.quantities))
        for m in metrics
    )
    front = cloze(text[begin:end], shifted)
    return f"{'…' if begin else ''}{front}{'…' if end < len(text) else ''}", _esc(text)


def _metric_cards(frame: _Frame) -> Iterator[Card]:
    from storydeck.metrics import cloze

    for ordinal, found in enumerate(metric_sentences(frame.story), start=1):
        front, detail = _metric_front(found, cloze)
        yield _card(
            CardKind.METRIC,
            frame,
            key=found.sentence,
            ordinal=ordinal,
            source=found.location,
            front=front,
            back=_esc("; ".join(m.value for m in found.metrics)),
            detail=detail,
            context=frame.where(found.section),
            count=len(found.metrics),
        )


# --- action -----------------------------------------------------------------------------


def _step_cue(story: Story, steps: Sequence[Step], index: int) -> tuple[str, str]:
    """(label, text) of the cue for step `index`: the previous step, or for the first
    step the task (the situation when the story states no task)."""
    if index:
        previous = steps[index - 1]
        return "After", lead_line((previous.headline or previous.detail).plain, CUE_LIMIT)
    for label, text in (("Task", story.task), ("Situation", story.situation)):
        if text:
            return label, lead_line(text.plain, CUE_LIMIT)
    return "", ""


def _step_back(step: Step) -> tuple[str, str, str]:
    """(headline HTML, detail line, key) of a step: its headline and one line of detail.

    A headline too long for a phone screen keeps its first sentence; the next
    sentence, or else the step's detail, gives the line below it.
    """
    if step.headline and len(step.headline.plain) <= FRONT_LIMIT:
        line = lead_line(step.detail.plain, DETAIL_LIMIT)
        return step.headline.html, line, f"{step.headline.plain} {line}".strip()
    whole = "\n".join(t.plain for t in (step.headline, step.detail) if t)
    head = _sentences(whole)[0]
    rest = whole[whole.index(head) + len(head) :]
    line = lead_line(rest, DETAIL_LIMIT)
    return _esc(clip(head, FRONT_LIMIT)), line, f"{head} {line}".strip()


def _action_cards(frame: _Frame) -> Iterator[Card]:
    story = frame.story
    steps = [step for step in story.actions if step.headline or step.detail]
    for index, step in enumerate(steps):
        label, cue = _step_cue(story, steps, index)
        cue_html = (
            f'<div class="sd-cue"><span class="sd-cue-label">{label}:</span> {_esc(cue)}</div>'
            if cue
            else ""
        )
        back, line, key = _step_back(step)
        yield _card(
            CardKind.ACTION,
            frame,
            key=key,
            ordinal=index + 1,
            source=step.headline.location,
            front=f'<div class="sd-ask">Step {index + 1} of {len(steps)}</div>{cue_html}',
            back=back,
            detail=_div("sd-line", line),
        )


# --- lesson -----------------------------------------------------------------------------


def _lesson_cards(frame: _Frame) -> Iterator[Card]:
    lessons = [lesson for lesson in frame.story.lessons if lesson]
    for index, lesson in enumerate(lessons):
        yield _card(
            CardKind.LESSON,
            frame,
            key=lesson.plain,
            ordinal=index + 1,
            source=lesson.location,
            front=f'<div class="sd-ask">Lesson {index + 1} of {len(lessons)}</div>',
            back=lesson.html,
        )


# --- follow-up --------------------------------------------------------------------------


def _followup_cards(frame: _Frame) -> Iterator[Card]:
    answered = [f for f in frame.story.followups if f.question and f.answer]
    for ordinal, followup in enumerate(answered, start=1):
        front, detail = _fits(followup.question)
        yield _card(
            CardKind.FOLLOWUP,
            frame,
            key=followup.question.plain,
            ordinal=ordinal,
            source=followup.question.location,
            front=f'<div class="sd-ask">{front}</div>',
            back=followup.answer.html,
            detail=detail,
        )


# --- prompt -----------------------------------------------------------------------------


def _question_key(question: str) -> str:
    return re.sub(r"[^\w]+", " ", question.casefold()).strip()


def prompt_cards(
    stories: Sequence[Story], config: Config, answers: Sequence[str] = ()
) -> Iterator[Card]:
    """One card per interview question and level, naming every story that answers it.

    `answers` may hold each story's `story_answer`, already made (cached)."""
    answer_of = dict(zip((s.id for s in stories), answers, strict=True)) if answers else {}

    def answer(story: Story) -> str:
        known = answer_of.get(story.id)
        return known if known is not None else story_answer(story)

    groups: dict[tuple[str, str], tuple[str, list[Story]]] = {}
    for story in stories:
        for question in story_questions(story, config):
            group = (story.level or "", _question_key(question))
            _, members = groups.setdefault(group, (question, []))
            if story not in members:
                members.append(story)
    for ordinal, ((level, key), (question, members)) in enumerate(groups.items(), start=1):
        first = members[0]
        theme = first.themes[0] if first.themes else None
        level_name = level or "Unleveled"
        context = _div("sd-level", f"{level_name} · {config.theme_title(theme)}")
        if len(members) > 1:
            items = "".join(f'<li class="sd-answer">{answer(s)}</li>' for s in members)
            back = f'<ul class="sd-stories">{items}</ul>'
        else:
            back = f'<div class="sd-answer">{answer(first)}</div>'
        front, detail = _fits(Text(question, _esc(question), first.source))
        yield Card(
            kind=CardKind.PROMPT,
            # One identity group for all prompts, the level in the key: a re-levelled
            # story's prompt card is matched to its old one instead of replaced.
            anchor=PROMPT_ANCHOR,
            key=f"{level_name} {key}",
            deck=deck_name(config, first.level, theme),
            tags=_tags(CardKind.PROMPT, members),
            fields=_fields(
                CardKind.PROMPT,
                members,
                config,
                front=f'<div class="sd-ask">{front}</div>',
                back=back,
                detail=detail,
                context=context,
                question=question,
            ),
            source=first.source,
            stories=tuple(s.id for s in members),
            ordinal=ordinal,
        )


def story_answer(story: Story) -> str:
    """Which story, in one line of situation and its headline result."""
    opening = story.situation or story.summary or story.task
    return "".join(
        [
            _div("sd-answer-title", story.title),
            _div("sd-line", lead_line(opening.plain, LINE_LIMIT) if opening else ""),
            _div("sd-result", headline_result(story)),
        ]
    )


def headline_result(story: Story) -> str:
    """The result to say first: a sentence with a from→to change, else one with a
    measured quantity, else the first result; the earliest wins a tie."""
    from storydeck.metrics import find_metrics

    best, best_rank = "", -1
    for result in story.results:
        for sentence in _sentences(result.plain):
            metrics = find_metrics(sentence)
            rank = 2 if any(len(m.quantities) == 2 for m in metrics) else int(bool(metrics))
            if rank > best_rank:
                best, best_rank = sentence, rank
    return clip(best, LINE_LIMIT)

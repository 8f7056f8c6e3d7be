"""Stories -> atomic cards: one small rule per card kind.

Every card holds one fact on its back and a context cue on its front (the story
and, where known, the interview question), after Wozniak's rules for formulating
knowledge. Cards are plain data; which Anki note type carries them is decided
when packaging.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from storydeck.config import Config
from storydeck.metrics import Metric, cloze, find_metrics
from storydeck.model import CardKind, Location, Story, Text

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
#: "At most one line" of detail under an action step's headline.
DETAIL_LIMIT = 140

_SENTENCE = re.compile(r"(?<=[.!?])[\"”')\]]*\s+(?=[\"“(\[]?[A-Z0-9$€£])|\n+")
_KIND_ORDER = {k: i for i, k in enumerate(CardKind)}


@dataclass(frozen=True, slots=True)
class Card:
    """One note to be: its text, where it goes and where it came from."""

    kind: CardKind
    #: What the card's identity is anchored to: the story id, or `prompt:<level>`.
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


def build_cards(stories: Sequence[Story], config: Config) -> tuple[Card, ...]:
    """Every card of a bank, in the order a reader meets them."""
    cards: list[Card] = []
    order: dict[str, int] = {}
    for index, story in enumerate(stories):
        order[story.id] = index
        cards.extend(story_cards(story, config))
    cards.extend(prompt_cards(stories, config))
    cards.sort(key=lambda c: (order.get(c.story, 0), _KIND_ORDER[c.kind], c.ordinal))
    return tuple(cards)


def story_cards(story: Story, config: Config) -> Iterator[Card]:
    """The cards of one story that belong to it alone (every kind but prompt)."""
    yield from _metric_cards(story, config)
    yield from _action_cards(story, config)
    yield from _lesson_cards(story, config)
    yield from _followup_cards(story, config)


# --- shared pieces ----------------------------------------------------------------------


def deck_name(config: Config, level: str | None, theme: str | None) -> str:
    return f"{config.deck_root}::{level or 'Unleveled'}::{config.theme_title(theme)}"


def story_deck(story: Story, config: Config) -> str:
    return deck_name(config, story.level, story.themes[0] if story.themes else None)


def _tags(kind: CardKind, stories: Sequence[Story]) -> tuple[str, ...]:
    tags = {"storydeck", f"kind::{kind.value}"}
    for story in stories:
        tags.add(f"level::{story.level or 'unleveled'}")
        tags.update(f"theme::{t}" for t in story.themes)
        tags.add(f"story::{story.id}")
        tags.update(story.tags)
    return tuple(sorted(tags, key=str.casefold))


def story_questions(story: Story, config: Config) -> tuple[str, ...]:
    """The story's questions, or its first theme's example question."""
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


def _context(story: Story, config: Config, *extra: str) -> str:
    """The quiet cue above a card's prompt: story title, then the question it answers."""
    parts = [f'<div class="sd-story">{_esc(story.title)}</div>']
    questions = story_questions(story, config)
    if questions:
        parts.append(f'<div class="sd-question">{_esc(questions[0])}</div>')
    parts.extend(extra)
    return "".join(parts)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


def first_sentence(text: str, limit: int = FRONT_LIMIT) -> str:
    """The first sentence of a text, cut at a word boundary when still too long."""
    parts = sentences(text)
    first = parts[0] if parts else text.strip()
    if len(first) <= limit:
        return first
    cut = first[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def _fits(text: Text) -> tuple[str, str]:
    """(front HTML, detail HTML): long text shows its first sentence, the rest on the back."""
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
        "Source": _esc(", ".join(s.source.at_line() for s in stories))
        if kind is CardKind.PROMPT
        else "",
    }


def _card(
    kind: CardKind,
    story: Story,
    config: Config,
    *,
    key: str,
    ordinal: int,
    source: Location,
    front: str,
    back: str,
    detail: str = "",
    context: str = "",
    count: int = 1,
) -> Card:
    return Card(
        kind=kind,
        anchor=story.id,
        key=key,
        deck=story_deck(story, config),
        tags=_tags(kind, [story]),
        fields=_fields(
            kind,
            [story],
            config,
            front=front,
            back=back,
            detail=detail,
            context=context,
            question=next(iter(story_questions(story, config)), ""),
        )
        | {"Source": _esc(source.at_line())},
        source=source,
        stories=(story.id,),
        ordinal=ordinal,
        count=count,
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
    seen: set[str] = set()
    for section, text in _metric_sources(story):
        for sentence in sentences(text.plain):
            if sentence in seen:
                continue
            metrics = find_metrics(sentence)
            if metrics:
                seen.add(sentence)
                yield MetricSentence(section, sentence, metrics, text.location)


def _metric_cards(story: Story, config: Config) -> Iterator[Card]:
    for ordinal, found in enumerate(metric_sentences(story), start=1):
        values = "; ".join(m.value for m in found.metrics)
        yield _card(
            CardKind.METRIC,
            story,
            config,
            key=found.sentence,
            ordinal=ordinal,
            source=found.location,
            front=cloze(found.sentence, found.metrics),
            back=_esc(values),
            context=_context(story, config, f'<div class="sd-where">{found.section}</div>'),
            count=len(found.metrics),
        )


# --- action -----------------------------------------------------------------------------


def _action_cards(story: Story, config: Config) -> Iterator[Card]:
    steps = story.actions
    total = len(steps)
    for index, step in enumerate(steps):
        position = f"Step {index + 1} of {total}"
        if index == 0:
            cue_label, cue = "Task", story.task.plain if story.task else ""
        else:
            cue_label, cue = "After", steps[index - 1].headline.plain
        cue_html = (
            f'<div class="sd-cue"><span class="sd-cue-label">{cue_label}:</span> '
            f"{_esc(first_sentence(cue, 160))}</div>"
            if cue
            else ""
        )
        headline, long_detail = _fits(step.headline)
        one_line = first_sentence(step.detail.plain, DETAIL_LIMIT) if step.detail else ""
        detail = long_detail or (f'<div class="sd-line">{_esc(one_line)}</div>' if one_line else "")
        yield _card(
            CardKind.ACTION,
            story,
            config,
            key=f"{step.headline.plain} {one_line}".strip(),
            ordinal=index + 1,
            source=step.headline.location,
            front=f'<div class="sd-ask">{position}</div>{cue_html}',
            back=headline,
            detail=detail,
            context=_context(story, config),
        )


# --- lesson -----------------------------------------------------------------------------


def _lesson_cards(story: Story, config: Config) -> Iterator[Card]:
    total = len(story.lessons)
    for index, lesson in enumerate(story.lessons):
        yield _card(
            CardKind.LESSON,
            story,
            config,
            key=lesson.plain,
            ordinal=index + 1,
            source=lesson.location,
            front=f'<div class="sd-ask">Lesson {index + 1} of {total}</div>',
            back=lesson.html,
            context=_context(story, config),
        )


# --- follow-up --------------------------------------------------------------------------


def _followup_cards(story: Story, config: Config) -> Iterator[Card]:
    ordinal = 0
    for followup in story.followups:
        if not followup.answer:
            continue
        ordinal += 1
        front, detail = _fits(followup.question)
        yield _card(
            CardKind.FOLLOWUP,
            story,
            config,
            key=followup.question.plain,
            ordinal=ordinal,
            source=followup.question.location,
            front=f'<div class="sd-ask">{front}</div>',
            back=followup.answer.html,
            detail=detail,
            context=_context(story, config),
        )


# --- prompt -----------------------------------------------------------------------------


def _question_key(question: str) -> str:
    return re.sub(r"[^\w]+", " ", question.casefold()).strip()


def prompt_cards(stories: Sequence[Story], config: Config) -> Iterator[Card]:
    """One card per interview question and level, naming every story that answers it."""
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
        context = (
            f'<div class="sd-level">{_esc(level_name)} · {_esc(config.theme_title(theme))}</div>'
        )
        if len(members) > 1:
            items = "".join(f'<li class="sd-answer">{_story_answer(s)}</li>' for s in members)
            back = f'<ul class="sd-stories">{items}</ul>'
        else:
            back = f'<div class="sd-answer">{_story_answer(first)}</div>'
        yield Card(
            kind=CardKind.PROMPT,
            anchor=f"prompt:{level_name}",
            key=key,
            deck=deck_name(config, first.level, theme),
            tags=_tags(CardKind.PROMPT, members),
            fields=_fields(
                CardKind.PROMPT,
                members,
                config,
                front=f'<div class="sd-ask">{_esc(question)}</div>',
                back=back,
                context=context,
                question=question,
            ),
            source=first.source,
            stories=tuple(s.id for s in members),
            ordinal=ordinal,
        )


def _story_answer(story: Story) -> str:
    situation = story.situation or story.summary or story.task
    line = first_sentence(situation.plain, 200) if situation else ""
    result = _headline_result(story)
    parts = [f'<div class="sd-answer-title">{_esc(story.title)}</div>']
    if line:
        parts.append(f'<div class="sd-line">{_esc(line)}</div>')
    if result:
        parts.append(f'<div class="sd-result">{_esc(result)}</div>')
    return "".join(parts)


def _headline_result(story: Story) -> str:
    """The result worth saying first: the first one with a number in it, else the first."""
    for result in story.results:
        if find_metrics(result.plain):
            return first_sentence(result.plain, 200)
    return first_sentence(story.results[0].plain, 200) if story.results else ""

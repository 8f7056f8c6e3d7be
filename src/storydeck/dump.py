"""What `storydeck dump --json` prints: the contract tests and tools rely on.

Keys may be added; the ones listed in DESIGN.md section 9 are never renamed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from storydeck.cards import Card, metric_sentences
from storydeck.model import Diagnostic, Story


def story_json(story: Story) -> dict[str, Any]:
    return {
        "id": story.id,
        "title": story.title,
        "source": story.source.at_line(),
        "level": story.level,
        "themes": list(story.themes),
        "questions": list(story.questions),
        "tags": list(story.tags),
        "summary": story.summary.plain if story.summary else "",
        "situation": story.situation.plain if story.situation else "",
        "task": story.task.plain if story.task else "",
        "actions": [step.headline.plain for step in story.actions],
        "steps": [
            {"headline": step.headline.plain, "detail": step.detail.plain} for step in story.actions
        ],
        "results": [r.plain for r in story.results],
        "metrics": [
            {"text": found.sentence, "value": metric.value, "section": found.section.lower()}
            for found in metric_sentences(story)
            for metric in found.metrics
        ],
        "lessons": [lesson.plain for lesson in story.lessons],
        "followups": [
            {"question": f.question.plain, "answer": f.answer.plain} for f in story.followups
        ],
        "sections": sorted(s.value for s in story.sections),
    }


def card_json(card: Card) -> dict[str, Any]:
    return {
        "guid": card.guid,
        "kind": card.kind.value,
        "story": card.story,
        "stories": list(card.stories),
        "deck": card.deck,
        "tags": list(card.tags),
        "front": card.front,
        "back": card.back,
        "fields": dict(card.fields),
        "source": card.source.at_line(),
        "anki_cards": card.count,
    }


def diagnostic_json(diagnostic: Diagnostic) -> dict[str, Any]:
    return {
        "severity": diagnostic.severity.value,
        "source": str(diagnostic.location),
        "code": diagnostic.code,
        "message": diagnostic.message,
        "hint": diagnostic.hint,
    }


def dump(
    stories: Sequence[Story], cards: Sequence[Card], diagnostics: Sequence[Diagnostic]
) -> dict[str, Any]:
    return {
        "stories": [story_json(s) for s in stories],
        "cards": [card_json(c) for c in cards],
        "diagnostics": [diagnostic_json(d) for d in diagnostics],
    }

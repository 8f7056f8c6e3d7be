"""The coverage matrix: stories and cards per theme and level, empty cells included."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from storydeck.cards import Card
from storydeck.config import Config
from storydeck.model import Story

UNLEVELED = "Unleveled"
GENERAL = "general"


@dataclass(frozen=True)
class Coverage:
    levels: tuple[str, ...]
    themes: tuple[str, ...]
    stories: dict[tuple[str, str], int]
    cards: dict[tuple[str, str], int]

    @property
    def empty(self) -> tuple[tuple[str, str], ...]:
        """(level, theme) cells with no story, themes first, then levels."""
        return tuple(
            (level, theme)
            for theme in self.themes
            for level in self.levels
            if not self.stories.get((level, theme))
        )


def coverage(stories: Sequence[Story], cards: Sequence[Card], config: Config) -> Coverage:
    """Count each story under its level and every one of its themes."""
    per_story = Counter(story_id for card in cards for story_id in card.stories)
    story_count: Counter[tuple[str, str]] = Counter()
    card_count: Counter[tuple[str, str]] = Counter()
    for story in stories:
        level = story.level or UNLEVELED
        for theme in story.themes or (GENERAL,):
            story_count[(level, theme)] += 1
            card_count[(level, theme)] += per_story[story.id]
    levels = [level.id for level in config.levels]
    if any(level == UNLEVELED for level, _ in story_count):
        levels.append(UNLEVELED)
    themes = [theme.id for theme in config.themes]
    themes += sorted({theme for _, theme in story_count} - set(themes))
    return Coverage(tuple(levels), tuple(themes), dict(story_count), dict(card_count))

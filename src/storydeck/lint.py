"""Interview-specific checks of a story bank: each finding has a code, a place and a fix.

Every rule is a small pure function of a story (or of the bank) and the config;
`lint.disable` in storydeck.yaml turns rules off, `lint.error` makes them errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from difflib import SequenceMatcher, get_close_matches
from itertools import combinations

from storydeck.cards import metric_sentences, story_questions
from storydeck.config import Config
from storydeck.errors import ConfigError
from storydeck.model import Diagnostic, Location, Section, Severity, Story

_WE = re.compile(r"\b(?:we|we're|we've|we'd|we'll|us|our|ours)\b", re.IGNORECASE)
_I = re.compile(r"\b(?:i|i'm|i've|i'd|i'll|me|my|mine)\b", re.IGNORECASE)
_WORD = re.compile(r"\b[\w'’-]+\b")

#: code -> one line saying what the rule checks (shown by `storydeck lint --rules`).
RULES = {
    "missing-section": "the story has no Situation, Task, Action or Result text",
    "no-metric": "the Result has no number that measures the outcome",
    "we-not-i": "the Action says 'we' more often than 'I'",
    "no-question": "the story names no interview question it answers",
    "too-long": "the story takes more than the configured minutes to tell",
    "unanswered-followups": "too few of the standard follow-up questions have an answer",
    "empty-followup": "a follow-up question has no prepared answer",
    "similar-themes": "two theme names differ only slightly",
}


def _finding(
    code: str, where: Location, message: str, hint: str, config: Config
) -> Diagnostic | None:
    if code in config.lint.disable:
        return None
    severity = Severity.ERROR if code in config.lint.error else Severity.WARNING
    return Diagnostic(
        severity, Location(where.path, where.line, where.col or 1), code, message, hint
    )


def _at(story: Story) -> Location:
    return Location(story.source.path, story.source.line, 1)


def _missing(story: Story, config: Config) -> Iterator[Diagnostic | None]:
    parts = {
        Section.SITUATION: story.situation,
        Section.TASK: story.task,
        Section.ACTION: story.actions,
        Section.RESULT: story.results,
    }
    missing = [s.value.capitalize() for s, value in parts.items() if not value]
    if missing:
        names = ", ".join(missing)
        yield _finding(
            "missing-section",
            _at(story),
            f"{story.id}: no {names}",
            f"add a `## {missing[0]}` section; interviewers listen for all four parts of STAR",
            config,
        )


def _no_metric(story: Story, config: Config) -> Iterator[Diagnostic | None]:
    if story.results and not any(m.section == "Result" for m in metric_sentences(story)):
        yield _finding(
            "no-metric",
            story.results[0].location,
            f"{story.id}: no result is quantified",
            "add the number that shows the impact: a percentage, time saved, money, users...",
            config,
        )


def _we_not_i(story: Story, config: Config) -> Iterator[Diagnostic | None]:
    text = " ".join(f"{s.headline.plain} {s.detail.plain}" for s in story.actions)
    we, i = len(_WE.findall(text)), len(_I.findall(text))
    if we > i:
        yield _finding(
            "we-not-i",
            story.actions[0].headline.location,
            f"{story.id}: the Action says 'we' {_times(we)} and 'I' {_times(i)}",
            "say what you did yourself: interviewers score your actions, not the team's",
            config,
        )


def _times(count: int) -> str:
    return {0: "never", 1: "once", 2: "twice"}.get(count, f"{count} times")


def _no_question(story: Story, config: Config) -> Iterator[Diagnostic | None]:
    if not story.questions:
        fallback = story_questions(story, config)
        hint = (
            f"its prompt card uses the theme's question {fallback[0]!r}; add `questions:`"
            if fallback
            else "add `questions:` to the front matter, or a `Prompt: ...` line"
        )
        yield _finding(
            "no-question", _at(story), f"{story.id}: no interview question", hint, config
        )


def story_words(story: Story) -> int:
    parts = [story.situation, story.task, *story.results]
    text = " ".join(p.plain for p in parts if p)
    text += " " + " ".join(f"{s.headline.plain} {s.detail.plain}" for s in story.actions)
    return len(_WORD.findall(text))


def _too_long(story: Story, config: Config) -> Iterator[Diagnostic | None]:
    words = story_words(story)
    seconds = round(words / config.lint.words_per_minute * 60)
    if seconds > config.lint.max_minutes * 60:
        limit = int(config.lint.max_minutes * config.lint.words_per_minute)
        yield _finding(
            "too-long",
            _at(story),
            f"{story.id}: {words} words take about {_clock(seconds)} to tell "
            f"(limit {_clock(round(config.lint.max_minutes * 60))})",
            f"cut Situation and Action to the essentials, under {limit} words",
            config,
        )


def _clock(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


def _followups(story: Story, config: Config) -> Iterator[Diagnostic | None]:
    for followup in story.followups:
        if not followup.answer:
            yield _finding(
                "empty-followup",
                followup.question.location,
                f"{story.id}: no answer to {followup.question.plain!r}",
                "write two or three sentences under the question",
                config,
            )
    if not config.followups:
        return
    answered = {_fold(f.question.plain) for f in story.followups if f.answer}
    open_ = [q for q in config.followups if _fold(q) not in answered]
    have = len(config.followups) - len(open_)
    wanted = min(config.lint.min_followups, len(config.followups))
    if have < wanted:
        yield _finding(
            "unanswered-followups",
            _at(story),
            f"{story.id}: {have} of the standard follow-up questions answered (want {wanted})",
            f"prepare an answer under `## Follow-ups`, e.g. `### {open_[0]}`",
            config,
        )


def _fold(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", text.casefold()).split())


StoryRule = Callable[[Story, Config], Iterator[Diagnostic | None]]
STORY_RULES: tuple[StoryRule, ...] = (
    _missing,
    _no_metric,
    _we_not_i,
    _no_question,
    _too_long,
    _followups,
)


def _similar_themes(stories: Sequence[Story], config: Config) -> Iterator[Diagnostic | None]:
    """Two theme ids a few letters apart: the rarer one is probably a typo of the other."""
    users: dict[str, list[Story]] = {}
    for story in stories:
        for theme in story.themes:
            users.setdefault(theme, []).append(story)
    for a, b in combinations(sorted(users), 2):
        if SequenceMatcher(None, _theme_key(a), _theme_key(b)).ratio() < 0.85:
            continue
        rare, common = sorted((a, b), key=lambda t: (len(users[t]), t in _configured(config)))
        yield _finding(
            "similar-themes",
            _at(users[rare][0]),
            f"themes {rare!r} and {common!r} look like the same theme",
            f"use {common!r} ({_plural_stories(len(users[common]))}) instead of {rare!r}",
            config,
        )


def _configured(config: Config) -> set[str]:
    return {theme.id for theme in config.themes}


def _plural_stories(count: int) -> str:
    return "1 story" if count == 1 else f"{count} stories"


def _theme_key(theme: str) -> str:
    return re.sub(r"s\b", "", re.sub(r"[^a-z0-9]+", " ", theme.casefold())).strip()


def check_rule_names(config: Config) -> None:
    """Rule codes named in the config's lint section must exist."""
    for name in sorted(config.lint.disable | config.lint.error):
        if name not in RULES:
            close = get_close_matches(name, list(RULES), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(RULES)
            raise ConfigError(f"unknown lint rule {name!r}", Location(config.source), hint)


def lint(stories: Sequence[Story], config: Config) -> tuple[Diagnostic, ...]:
    """Every finding for a bank, in source order."""
    check_rule_names(config)
    found = [d for story in stories for rule in STORY_RULES for d in rule(story, config)]
    found.extend(_similar_themes(stories, config))
    out = [d for d in found if d is not None]
    out.sort(key=lambda d: (d.location.path, d.location.line, d.code))
    return tuple(out)

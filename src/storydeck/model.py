"""The records every stage passes along: locations, diagnostics, stories and cards.

A stage returns new values; it never edits what it was given. The records are not
declared `frozen`, only hashable: a frozen dataclass sets each field through
`object.__setattr__`, which makes one five times slower to construct, and a large
bank's build (or its cache) constructs hundreds of thousands of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(slots=True, unsafe_hash=True, order=True)
class Location:
    """A place in a note: 1-based line and column; 0 means "not known"."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.path
        if not self.col:
            return f"{self.path}:{self.line}"
        return f"{self.path}:{self.line}:{self.col}"

    def at_line(self) -> str:
        """`path:line`, the form stories and cards use as their source."""
        return f"{self.path}:{self.line}" if self.line else self.path


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(slots=True, unsafe_hash=True)
class Diagnostic:
    """One problem found in the input, with where it is and how to fix it."""

    severity: Severity
    location: Location
    code: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class Section(StrEnum):
    """The parts of a story a label can introduce."""

    SITUATION = "situation"
    TASK = "task"
    ACTION = "action"
    RESULT = "result"
    LESSONS = "lessons"
    FOLLOWUPS = "followups"
    SUMMARY = "summary"


#: The sections that make a story a story; the rest only add to one.
STAR = (Section.SITUATION, Section.TASK, Section.ACTION, Section.RESULT)


@dataclass(slots=True, unsafe_hash=True)
class Text:
    """A fragment of a note, kept as plain text and as the HTML placed on cards."""

    plain: str
    html: str
    location: Location

    def __bool__(self) -> bool:
        return bool(self.plain)


@dataclass(slots=True, unsafe_hash=True)
class Step:
    """One action step: a headline and its detail (possibly empty)."""

    headline: Text
    detail: Text


@dataclass(slots=True, unsafe_hash=True)
class FollowUp:
    question: Text
    answer: Text


@dataclass(slots=True, unsafe_hash=True)
class Story:
    """One interview story as the parser recognised it."""

    id: str
    title: str
    source: Location
    level: str | None = None
    themes: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    situation: Text | None = None
    task: Text | None = None
    summary: Text | None = None
    actions: tuple[Step, ...] = ()
    results: tuple[Text, ...] = ()
    lessons: tuple[Text, ...] = ()
    followups: tuple[FollowUp, ...] = ()
    #: Which sections the note had a label for, even an empty one.
    sections: frozenset[Section] = field(default_factory=frozenset)


class CardKind(StrEnum):
    PROMPT = "prompt"
    METRIC = "metric"
    ACTION = "action"
    LESSON = "lesson"
    FOLLOWUP = "followup"

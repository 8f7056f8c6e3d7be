"""Carrying unchanged notes over from the last build.

After a build, each note file's outcome is kept in the cache directory (never in
the notes or the decks): its stories as prompt cards and the build's checks read
them, its diagnostics, and the package notes its stories' own cards became (guid,
deck, mod time, content hash), under the hash of the lockfile that build wrote.
The next build, when it finds the lockfile's bytes hashing the same and a note's
text unchanged,
takes that note's outcome from here: its cards are not unpacked, made or matched to
the lock again. Prompt cards, which depend on every story, and the cards of every
other note are made and matched as usual.

That is the outcome the full match would give. A carried story's cards are its
cards of the last build, unchanged, and the lock is what that build wrote: each card
has exactly one live entry with its text in its story and kind (the match's first,
exact step), with the same content and mod time, and no other card can take it.
The build still checks each carried note against its lock entry, and a story whose
cards share a text within a kind (where the match would pair them by guid order)
is never carried.

A carried note's text (fields and tags) is not at hand: its package row comes from
the row store (see rowstore.py). When the store has no row for it (emptied,
replaced), the note's text is asked for, `StaleCarry` is raised and the build
starts again without carrying anything.

Like the other caches, this is only a shortcut: a file of other code, another
configuration or another lockfile, or one that does not read back, is ignored.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

from storydeck.cards import PROMPT_ANCHOR, kind_rank
from storydeck.model import Diagnostic, Story

if TYPE_CHECKING:
    from storydeck.cards import Card

_FORMAT = b"storydeck-carry 3\n"


class StaleCarry(Exception):
    """What was carried over does not hold: the build is made again without it."""


class CarriedNote(NamedTuple):
    """One package note of a carried story, as the last build made it."""

    #: The card's place among its story's cards: its kind's rank, then its ordinal.
    rank: int
    ordinal: int
    kind: str
    guid: str
    cloze: bool
    deck: str
    #: The card's content hash (its lock fingerprint).
    content: str
    mod: int


class CarriedStory(NamedTuple):
    #: The story with what prompt cards and the build's checks read of it (id, title,
    #: source, level, themes, questions, tags); its sections are not carried.
    story: Story
    #: Its answer on a prompt card (cards.story_answer).
    answer: str
    notes: tuple[CarriedNote, ...]


class CarriedFile(NamedTuple):
    digest: str
    diagnostics: tuple[Diagnostic, ...]
    stories: tuple[CarriedStory, ...]


@dataclass(frozen=True)
class NoteSource:
    """One note file of a build, as carrying it over needs it: its text's digest, how
    many stories it holds (in the build's order), its own diagnostics, and its
    packed outcome when it was carried over itself."""

    shown: str
    digest: str
    stories: int
    diagnostics: tuple[Diagnostic, ...]
    packed: bytes | None = None


@dataclass(frozen=True)
class Carried:
    """The carried stories of a build, for matching and planning: each one's index
    among the build's stories, its id and its notes; and every story's index."""

    stories: tuple[tuple[int, str, tuple[CarriedNote, ...]], ...] = ()
    order: Mapping[str, int] | None = None

    def __bool__(self) -> bool:
        return bool(self.stories)


def hollow(story: Story) -> Story:
    """A story as it is carried over: only what prompt cards and checks read of it."""
    return Story(
        story.id,
        story.title,
        story.source,
        story.level,
        story.themes,
        story.questions,
        story.tags,
    )


def pack_file(outcome: CarriedFile) -> bytes:
    from storydeck.cache import record_pickler

    # Plain tuples for the carried records: the stories and diagnostics go as the
    # records they are (see cache.record_pickler).
    stories = tuple((s.story, s.answer, tuple(map(tuple, s.notes))) for s in outcome.stories)
    buffer = io.BytesIO()
    record_pickler(buffer).dump((outcome.digest, outcome.diagnostics, stories))
    return buffer.getvalue()


def unpack_file(blob: bytes) -> CarriedFile | None:
    """A carried file back from bytes; None when they do not hold one."""
    try:
        digest, diagnostics, stories = pickle.loads(blob)  # our own bytes, in the user's cache
        carried = []
        for story, answer, notes in stories:
            if not (
                isinstance(story, Story)
                and isinstance(answer, str)
                and isinstance(notes, tuple)
                and all(isinstance(n, tuple) and len(n) == len(CarriedNote._fields) for n in notes)
            ):
                return None
            carried.append(CarriedStory(story, answer, tuple(map(CarriedNote._make, notes))))
        if not (
            isinstance(digest, str)
            and isinstance(diagnostics, tuple)
            and all(isinstance(d, Diagnostic) for d in diagnostics)
        ):
            return None
    except Exception:  # a damaged entry is not carried
        return None
    return CarriedFile(digest, diagnostics, tuple(carried))


class CarryFile:
    """The outcomes a notes directory's last build left, by note (shown path)."""

    def __init__(self, path: Path | None, key: str) -> None:
        self.path = path
        self.key = key
        #: The hash of the lockfile the kept outcomes go with (None: nothing kept).
        self.lock: bytes | None = None
        self.files: dict[str, tuple[str, bytes]] = {}
        if path is not None:
            self._load(path)

    @classmethod
    def for_notes(cls, root: Path, parse_key: str) -> CarryFile:
        """The carry file of the notes directory `root`, for notes parsed under
        `parse_key` (see cache.ParseCache): outcomes name files relative to `root`
        as the build shows it, so that is part of the key too."""
        from storydeck.cache import cache_file
        from storydeck.notes import display_path

        return cls(cache_file(root, "carry", ".pickle"), f"{parse_key}:{display_path(root)}")

    def _load(self, path: Path) -> None:
        """The file: its format line, (key, lock hash), then one (shown path, digest,
        packed outcome) after another."""
        files: dict[str, tuple[str, bytes]] = {}
        try:
            with path.open("rb") as handle:
                if handle.read(len(_FORMAT)) != _FORMAT:
                    return
                key, lock = pickle.load(handle)  # our own file, in the user's cache
                if key != self.key or not isinstance(lock, bytes):
                    return
                while handle.peek(1):
                    shown, digest, packed = pickle.load(handle)
                    files[shown] = (digest, packed)
        except Exception:  # a damaged file keeps nothing
            return
        self.lock, self.files = lock, files

    def drop(self) -> None:
        """Carry nothing over (what is kept is written again after the build)."""
        self.lock, self.files = None, {}

    def usable(self, lock: bytes | None) -> dict[str, tuple[str, bytes]]:
        """The kept outcomes, when they go with the lockfile whose bytes hash to
        `lock` (None: there is none, or it cannot be read)."""
        if self.lock is None or lock is None:
            return {}
        return self.files if lock == self.lock else {}

    def holds(self, lock: bytes, sources: Sequence[NoteSource]) -> bool:
        """Whether this file already keeps what a build of `sources` that left the
        lockfile hashing to `lock` would keep (every note of it was carried over)."""
        return (
            lock == self.lock
            and len(sources) == len(self.files)
            and all(
                s.packed is not None and self.files.get(s.shown, ("",))[0] == s.digest
                for s in sources
            )
        )

    def save(self, lock: bytes, files: Iterable[tuple[str, str, bytes]]) -> bool:
        """Keep `files` (shown path, digest, packed outcome) as going with the lockfile
        whose bytes hash to `lock`, each written as it comes. Best effort, silent."""
        from storydeck.cache import write_quietly

        if self.path is None:
            return False

        def write(handle: BinaryIO) -> None:
            handle.write(_FORMAT)
            pickle.dump((self.key, lock), handle, protocol=pickle.HIGHEST_PROTOCOL)
            for record in files:
                pickle.dump(record, handle, protocol=pickle.HIGHEST_PROTOCOL)

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
        return write_quietly(self.path, write)


def outcomes(
    sources: Sequence[NoteSource],
    stories: Sequence[Story],
    answers: Sequence[str],
    cards: Sequence[Card],
    mods: Mapping[str, int],
) -> Iterator[tuple[str, str, bytes]]:
    """Every note file's outcome to keep after a build, as (shown path, digest, packed
    outcome): carried ones as they were, the others from the build's stories (as
    `hollow` makes them) and its identified cards (with guids). One file at a time: a
    large bank's outcomes are never all unpacked at once."""
    from storydeck.identity import lock_key

    of_story: dict[str, list[int]] = {}
    for index, card in enumerate(cards):
        if card.anchor != PROMPT_ANCHOR:
            of_story.setdefault(card.anchor, []).append(index)
    start = 0
    for source in sources:
        mine = range(start, start + source.stories)
        start += source.stories
        if source.packed is not None:
            yield source.shown, source.digest, source.packed
            continue
        carried = []
        for i in mine:
            notes = _notes(cards, of_story.get(stories[i].id, ()), mods, lock_key)
            if notes is None:
                break
            carried.append(CarriedStory(stories[i], answers[i], notes))
        else:
            outcome = CarriedFile(source.digest, source.diagnostics, tuple(carried))
            yield source.shown, source.digest, pack_file(outcome)


def _notes(
    cards: Sequence[Card],
    indexes: Sequence[int],
    mods: Mapping[str, int],
    lock_key: Callable[[str], str],
) -> tuple[CarriedNote, ...] | None:
    """A story's package notes, from its cards; None when two of its cards share a
    kind and a text (as `lock_key` keeps it): such a story is never carried."""
    seen: set[tuple[str, str]] = set()
    notes = []
    for index in indexes:
        card = cards[index]
        key = (card.kind.value, lock_key(card.key))
        if key in seen:
            return None
        seen.add(key)
        notes.append(
            CarriedNote(
                kind_rank(card.kind),
                card.ordinal,
                card.kind.value,
                card.guid,
                card.is_cloze,
                card.deck,
                card.fingerprint,
                mods[card.guid],
            )
        )
    return tuple(notes)

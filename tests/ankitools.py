"""Act as a user of Anki desktop against a real collection, for storydeck round-trip tests.

Everything here goes through the ``anki`` Python package (the same Rust backend Anki
desktop, AnkiDroid and AnkiMobile use): a new collection in a test's ``tmp_path``, an
``.apkg`` import with the options Anki desktop's import screen starts with, reviews
through the v3 scheduler, and a frozen :class:`CollectionSnapshot` of what the user sees.

Typical round trip::

    from ankitools import anki_col_fixture  # noqa: F401  registers ``anki_col``

    def test_edit_keeps_history(anki_col: Collection, tmp_path: Path) -> None:
        assert import_apkg(anki_col, build_v1(tmp_path)).new == 3
        review_all(anki_col, EASY)
        before = snapshot(anki_col)
        summary = import_apkg(anki_col, build_v2(tmp_path))
        after = snapshot(anki_col)
        assert summary.updated == 1
        assert diff(before, after).changed_notes.keys() == {"the-edited-guid"}

Default import options (anki 26.9.3)
------------------------------------
Anki desktop's import page (``ts/routes/import-anki-package/[...path]/+page.ts``) loads
its initial options from the backend's ``GetImportAnkiPackagePresets``
(``rslib/src/import_export/service.rs``), which reads collection config: the bools
``MergeNotetypes``, ``WithScheduling``, ``WithDeckConfigs`` default to false and
``get_update_notes()`` / ``get_update_notetypes()`` (``rslib/src/config/mod.rs``) fall
back to ``UpdateCondition::default()``, i.e. ``IF_NEWER`` (enum value 0 in
``proto/anki/import_export.proto``).  A fresh collection therefore presents exactly the
proto defaults, which :func:`default_import_options` spells out;
``test_ankitools.py::test_default_options_match_anki_presets`` checks them against the
backend on every run.

Measured behaviour of ``import_apkg`` with those defaults (anki 26.9.3, genanki 0.13.1;
each item is asserted in ``tests/test_ankitools.py``)
-----------------------------------------------------------------------------------------
Notes and cards

* Notes are matched by **guid only**.  An unknown guid is always added as a new note;
  an import never deletes a note or card, whatever the package omits.
* A matched note is updated only if the package note's ``mod`` is strictly greater
  than the collection note's ``mod`` (equal or older: logged ``duplicate``, untouched).
  An update replaces all fields **and the tag list** (tags the user added in Anki are
  lost) and sets the note's ``mod`` to the package's value; note id, card ids, deck,
  scheduling (reps, lapses, ivl, due, queue, type) and revlog rows are kept.
* A newly imported note keeps the package's ``mod``, so re-importing the same package
  logs every note as ``duplicate`` and changes nothing.
* Editing a note in Anki sets its ``mod`` to "now"; from then on only a package ``mod``
  later than that edit updates it.
* genanki stamps every note (and card, and note type) with ``int(timestamp)``; a note
  subclass that passes its own time to ``genanki.Note.write_to_db`` gives each note its
  own ``mod`` and Anki honours it note by note (the note type keeps the package time).
* An existing card is never moved: if the package puts a known guid in another deck,
  the note is updated but its cards stay where they are.  The package's decks are still
  created, even when that leaves one empty.
* Decks are matched by **name**, not id: the same deck id under a new name creates a
  new deck; another id with an existing name reuses that deck.
* A cloze note updated with a new ``{{cN::}}`` gains that card: the package's card is
  added, in the package's deck (so a note's cards can end up in two decks); a removed
  cloze number leaves its old card and its history in place (an "empty card" until the
  user runs Tools > Empty Cards).

Ids

* The package's note id and card id only matter when they are free.  A package note
  whose id is taken by a *different* note (e.g. two genanki builds with the same
  ``timestamp``) is still imported as a new note, with id ``package_id + 999 * k`` for
  the smallest ``k >= 1`` that is free; card ids are renumbered the same way against
  existing card ids.  Nothing is skipped or overwritten, and the ``new`` log entries
  carry the final ids.  A package note whose guid exists but whose id differs is
  matched by guid and updated under the collection's id.

Note types

* Same note type id and same field names and template names (in order): updated in
  place (CSS, template text) when the package note type's ``mod`` is newer; an older
  one is ignored.  No copy is made.  This is independent of the notes' ``mod``.
* Adding, removing or renaming a field or template with merging off creates a copy
  note type (name suffixed with ``+``, ``originalId`` = the package id).  Every
  existing note of the old type is then logged ``conflicting`` and left untouched;
  new guids are added with the copy.  A later import with the same changed schema
  reuses that copy (no second copy) and the old notes stay ``conflicting``; an import
  with the original schema updates them again.
* A different note type id with an existing name is added with the name suffixed
  ``+``.

Import log (``ImportResponse.Log``)

* ``new``, ``updated``, ``duplicate``, ``conflicting``: one entry per package note
  with its fields; the id is the collection's note id, except for ``conflicting``
  where it is the *package's* note id.  ``found_notes`` is the number of notes in
  the package.  ``first_field_match``, ``missing_notetype``, ``missing_deck``,
  ``empty_first_field`` (and the scalar ``dupe_resolution``) serve the CSV importer;
  they stayed empty in every ``.apkg`` import measured.

Python-side note type cache

* ``Collection.import_anki_package`` does not clear ``col.models``' cache, so a note
  type updated by an import still reads stale through ``col.models.get`` (and card
  rendering).  Anki desktop clears it after every operation that changed note types
  (``qt/aqt/main.py``, ``on_operation_did_execute``); :func:`import_apkg` does the same.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final, TypeAlias, TypeVar

import pytest
from anki.cards import Card, CardId
from anki.collection import (
    Collection,
    ImportAnkiPackageOptions,
    ImportAnkiPackageRequest,
    ImportLogWithChanges,
)
from anki.consts import MODEL_CLOZE, QUEUE_TYPE_DAY_LEARN_RELEARN, QUEUE_TYPE_REV
from anki.decks import DeckId
from anki.import_export_pb2 import ImportAnkiPackageUpdateCondition, ImportResponse
from anki.notes import Note, NoteId
from anki.scheduler.v3 import CardAnswer
from anki.scheduler.v3 import Scheduler as V3Scheduler

__all__ = [
    "AGAIN",
    "ANSWER_MILLISECONDS",
    "EASY",
    "GOOD",
    "HARD",
    "LOG_CATEGORIES",
    "CardHtml",
    "CardSnapshot",
    "CollectionSnapshot",
    "ImportSummary",
    "LoggedNote",
    "NoteSnapshot",
    "NotetypeSnapshot",
    "RevlogRow",
    "SnapshotDiff",
    "TemplateSnapshot",
    "anki_col_fixture",
    "card_html",
    "collection",
    "default_import_options",
    "diff",
    "edit_note",
    "import_apkg",
    "make_due",
    "note_id_for_guid",
    "open_collection",
    "review_all",
    "snapshot",
]

Rating: TypeAlias = CardAnswer.Rating.ValueType

AGAIN: Final[Rating] = CardAnswer.AGAIN
HARD: Final[Rating] = CardAnswer.HARD
GOOD: Final[Rating] = CardAnswer.GOOD
EASY: Final[Rating] = CardAnswer.EASY

#: Time recorded for every answer, so revlog rows do not depend on how fast the test ran.
ANSWER_MILLISECONDS: Final = 4_000

#: Daily limits set on every deck preset of a collection made by :func:`open_collection`,
#: so :func:`review_all` reaches every card of a large deck in one "day".
STUDY_LIMIT_PER_DAY: Final = 9_999

#: The repeated fields of ``ImportResponse.Log``, in proto order.
LOG_CATEGORIES: Final = (
    "new",
    "updated",
    "duplicate",
    "conflicting",
    "first_field_match",
    "missing_notetype",
    "missing_deck",
    "empty_first_field",
)

COLLECTION_FILE: Final = "collection.anki2"


# ---------------------------------------------------------------------------------------
# Collections
# ---------------------------------------------------------------------------------------


def open_collection(path: str | os.PathLike[str]) -> Collection:
    """Open the collection at ``path``, creating a new empty one if it does not exist.

    ``path`` is the ``.anki2`` file, or a directory to hold ``collection.anki2``.  A newly
    created collection gets daily new/review limits of :data:`STUDY_LIMIT_PER_DAY` so
    :func:`review_all` is not cut off at Anki's default 20 new cards a day, and no load
    balancing (it spreads intervals by how many cards are already due each day, so a
    schedule would depend on the order cards were answered in, which Anki shuffles);
    an existing collection is opened unchanged.  The caller closes it (or use
    :func:`collection`).
    """
    target = Path(path)
    if target.is_dir():
        target = target / COLLECTION_FILE
    created = not target.exists()
    col = Collection(str(target))
    if created:
        _lift_daily_limits(col)
        col.load_balancer_enabled = False
    return col


@contextlib.contextmanager
def collection(path: str | os.PathLike[str]) -> Iterator[Collection]:
    """:func:`open_collection` as a context manager that always closes the collection."""
    col = open_collection(path)
    try:
        yield col
    finally:
        col.close()


def _anki_col(tmp_path: Path) -> Iterator[Collection]:
    with collection(tmp_path / COLLECTION_FILE) as col:
        yield col


#: ``anki_col``: a new empty collection in the test's ``tmp_path``, closed afterwards.
#: Register it by importing ``anki_col_fixture`` into a test module or conftest (F401 noqa).
anki_col_fixture = pytest.fixture(name="anki_col")(_anki_col)


def _lift_daily_limits(col: Collection) -> None:
    for conf in col.decks.all_config():
        conf["new"]["perDay"] = STUDY_LIMIT_PER_DAY
        conf["rev"]["perDay"] = STUDY_LIMIT_PER_DAY
        col.decks.update_config(conf)


# ---------------------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------------------


def default_import_options() -> ImportAnkiPackageOptions:
    """The options Anki desktop's import screen starts with in a fresh profile.

    See the module docstring for where they come from in anki 26.9.3.
    """
    return ImportAnkiPackageOptions(
        merge_notetypes=False,
        update_notes=ImportAnkiPackageUpdateCondition.IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_IF_NEWER,
        update_notetypes=ImportAnkiPackageUpdateCondition.IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_IF_NEWER,
        with_scheduling=False,
        with_deck_configs=False,
    )


@dataclass(frozen=True)
class LoggedNote:
    """One note of the import log: its category, note id and fields as logged."""

    category: str
    note_id: int
    fields: tuple[str, ...]


@dataclass(frozen=True)
class ImportSummary:
    """The import log of one ``.apkg`` import, as counts plus the logged notes.

    Counts are per category of ``ImportResponse.Log`` (see :data:`LOG_CATEGORIES`);
    ``found_notes`` is the number of notes in the package.  Ids in ``notes`` are the
    collection's note ids, except for ``conflicting`` entries (the package's ids).
    """

    new: int
    updated: int
    duplicate: int
    conflicting: int
    first_field_match: int
    missing_notetype: int
    missing_deck: int
    empty_first_field: int
    found_notes: int
    notetypes_changed: bool
    notes: tuple[LoggedNote, ...] = field(repr=False)

    @classmethod
    def from_response(cls, response: ImportLogWithChanges) -> ImportSummary:
        """Summarise a response of ``Collection.import_anki_package``."""
        log = response.log
        logged = tuple(
            LoggedNote(category, int(entry.id.nid), tuple(entry.fields))
            for category in LOG_CATEGORIES
            for entry in _log_entries(log, category)
        )
        counts = {category: len(_log_entries(log, category)) for category in LOG_CATEGORIES}
        return cls(
            **counts,
            found_notes=int(log.found_notes),
            notetypes_changed=bool(response.changes.notetype),
            notes=logged,
        )

    def counts(self) -> dict[str, int]:
        """Non-zero category counts, e.g. ``{"new": 2, "duplicate": 1}``."""
        return {c: n for c in LOG_CATEGORIES if (n := int(getattr(self, c)))}

    def ids(self, category: str) -> frozenset[int]:
        """Note ids logged under ``category`` (one of :data:`LOG_CATEGORIES`)."""
        if category not in LOG_CATEGORIES:
            raise ValueError(f"unknown import log category {category!r}")
        return frozenset(n.note_id for n in self.notes if n.category == category)

    def fields_of(self, category: str) -> tuple[tuple[str, ...], ...]:
        """Fields of the notes logged under ``category``, in log order."""
        return tuple(n.fields for n in self.notes if n.category == category)


def _log_entries(log: ImportResponse.Log, category: str) -> Sequence[ImportResponse.Note]:
    entries: Sequence[ImportResponse.Note] = getattr(log, category)
    return entries


def import_apkg(
    col: Collection,
    path: str | os.PathLike[str],
    options: ImportAnkiPackageOptions | None = None,
) -> ImportSummary:
    """Import the ``.apkg`` at ``path`` as Anki desktop does, by default with its defaults.

    Afterwards the Python note type cache is cleared when the import changed note types,
    as Anki desktop does after each operation (``Collection.import_anki_package`` alone
    leaves ``col.models`` returning the pre-import note type).
    """
    request = ImportAnkiPackageRequest(
        package_path=os.fspath(path),
        options=default_import_options() if options is None else options,
    )
    response = col.import_anki_package(request)
    if response.changes.notetype:
        col.models._clear_cache()  # what aqt's main window does after such an operation
    return ImportSummary.from_response(response)


# ---------------------------------------------------------------------------------------
# Studying
# ---------------------------------------------------------------------------------------


def review_all(
    col: Collection,
    rating: Rating = GOOD,
    limit: int | None = None,
    *,
    deck: str | None = None,
) -> tuple[CardId, ...]:
    """Study like a user: answer every card the v3 scheduler offers, once, with ``rating``.

    Goes deck by deck (every top-level deck, or just ``deck`` and its subdecks), asking
    ``col.sched.get_queued_cards()`` for the next card not yet answered in this call and
    answering it through ``build_answer``/``answer_card``, so cards get reps, intervals,
    due dates and revlog rows exactly as in the reviewer.  Each card is answered at most
    once per call: with GOOD a new card goes to its second learning step (ivl 0) and a
    second call graduates it (ivl 1); with EASY a new card graduates at once (ivl about
    4 days).  Stops after ``limit`` answers.  Results are deterministic for given card
    ids (Anki seeds interval fuzz from the card); every answer records
    :data:`ANSWER_MILLISECONDS`.  The selected deck is restored afterwards.

    Returns the answered card ids in answer order.
    """
    sched = _v3(col)
    answered: list[CardId] = []
    seen: set[int] = set()
    previous = col.decks.get_current_id()
    try:
        for did in _study_decks(col, deck):
            col.decks.select(did)
            while limit is None or len(answered) < limit:
                queued = sched.get_queued_cards(fetch_limit=len(seen) + 1)
                entry = next((q for q in queued.cards if q.card.id not in seen), None)
                if entry is None:
                    break
                card = Card(col, backend_card=entry.card)
                card.start_timer()
                answer = sched.build_answer(card=card, states=entry.states, rating=rating)
                answer.milliseconds_taken = ANSWER_MILLISECONDS
                sched.answer_card(answer)
                seen.add(card.id)
                answered.append(card.id)
    finally:
        col.decks.select(previous)
    return tuple(answered)


def _v3(col: Collection) -> V3Scheduler:
    sched = col.sched
    if not isinstance(sched, V3Scheduler):
        raise TypeError(f"expected the v3 scheduler, got {type(sched).__name__}")
    return sched


def _study_decks(col: Collection, deck: str | None) -> list[DeckId]:
    if deck is not None:
        did = col.decks.id_for_name(deck)
        if did is None:
            raise KeyError(f"no deck named {deck!r}")
        return [did]
    # A top-level deck's queue includes its subdecks.
    return [DeckId(d.id) for d in col.decks.all_names_and_ids() if "::" not in d.name]


def make_due(col: Collection, card_ids: Iterable[int] | None = None) -> tuple[CardId, ...]:
    """Let time pass: make cards due today with ``col.sched.set_due_date(ids, "0")``.

    By default every card in the review or interday-learning queue.  Review cards keep
    their interval (the next GOOD answer grows it); Anki logs a "manual" revlog row
    (type 4, ease 0) for each card, as Browse > Set Due Date does.  New cards passed
    explicitly become review cards due today.  Returns the ids rescheduled.
    """
    if card_ids is None:
        assert col.db is not None
        ids = tuple(
            CardId(int(cid))
            for cid in col.db.list(
                "SELECT id FROM cards WHERE queue IN (?, ?) ORDER BY id",
                int(QUEUE_TYPE_REV),
                int(QUEUE_TYPE_DAY_LEARN_RELEARN),
            )
        )
    else:
        ids = tuple(CardId(int(cid)) for cid in card_ids)
    if ids:
        col.sched.set_due_date(ids, "0")
    return ids


def note_id_for_guid(col: Collection, guid: str) -> NoteId | None:
    """The id of the note with ``guid``, or None."""
    assert col.db is not None
    nid = col.db.scalar("SELECT id FROM notes WHERE guid = ?", guid)
    return None if nid is None else NoteId(int(nid))


def edit_note(
    col: Collection,
    guid: str,
    fields: Mapping[str, str] | None = None,
    *,
    add_tags: Sequence[str] = (),
) -> Note:
    """Edit a note as a user does in Anki's editor (sets its ``mod`` to now)."""
    nid = note_id_for_guid(col, guid)
    if nid is None:
        raise KeyError(f"no note with guid {guid!r}")
    note = col.get_note(nid)
    for name, value in (fields or {}).items():
        note[name] = value
    for tag in add_tags:
        note.add_tag(tag)
    col.update_note(note)
    return col.get_note(nid)


# ---------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardHtml:
    """A card as Anki renders it for the reviewer.

    ``question`` and ``answer`` are the rendered templates without CSS; ``css`` is the note
    type's CSS.  ``ord`` is Anki's 0-based template/cloze ordinal: the reviewer's body has
    classes ``card card{ord + 1}`` (``browser.build_card_page(html, css, card_ord=ord + 1)``).
    """

    question: str
    answer: str
    css: str
    ord: int


def card_html(col: Collection, card_id: int) -> CardHtml:
    """Render card ``card_id``; ``card.question()`` is ``<style>{css}</style>{question}``."""
    card = col.get_card(CardId(card_id))
    output = card.render_output(reload=True)
    return CardHtml(
        question=output.question_text,
        answer=output.answer_text,
        css=output.css,
        ord=int(card.ord),
    )


# ---------------------------------------------------------------------------------------
# Snapshots
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteSnapshot:
    """A note as the user sees it in the browser."""

    id: int
    guid: str
    notetype_id: int
    notetype_name: str
    fields: Mapping[str, str]
    tags: tuple[str, ...]
    mod: int


@dataclass(frozen=True)
class CardSnapshot:
    """A card's placement and scheduling (``due``, ``queue``, ``type`` as stored)."""

    id: int
    note_id: int
    note_guid: str
    ord: int
    deck: str
    reps: int
    lapses: int
    ivl: int
    due: int
    queue: int
    type: int


@dataclass(frozen=True)
class RevlogRow:
    """One review-log row.  ``kind``: 0 learn, 1 review, 2 relearn, 3 filtered, 4 manual."""

    id: int
    card_id: int
    ease: int
    ivl: int
    last_ivl: int
    factor: int
    time_ms: int
    kind: int


@dataclass(frozen=True)
class TemplateSnapshot:
    """One card template of a note type."""

    name: str
    qfmt: str
    afmt: str


@dataclass(frozen=True)
class NotetypeSnapshot:
    """A note type: schema (field and template names), templates, CSS and ``mod``.

    ``original_id`` is the id of the package note type it came from (Anki's
    ``originalId``); a copy made on a schema conflict keeps the original's id there.
    """

    id: int
    name: str
    is_cloze: bool
    field_names: tuple[str, ...]
    template_names: tuple[str, ...]
    templates: tuple[TemplateSnapshot, ...]
    css: str
    mod: int
    original_id: int | None


@dataclass(frozen=True)
class CollectionSnapshot:
    """What a user sees in a collection, frozen for comparison (mappings are read-only).

    ``notes`` is keyed by guid, ``cards`` and ``revlog`` by card id; ``notetypes`` is
    sorted by id, ``decks`` and ``tags`` by name (``Default`` is always a deck).
    """

    notes: Mapping[str, NoteSnapshot]
    cards: Mapping[int, CardSnapshot]
    revlog: Mapping[int, tuple[RevlogRow, ...]]
    notetypes: tuple[NotetypeSnapshot, ...]
    decks: tuple[str, ...]
    tags: tuple[str, ...]

    def note(self, guid: str) -> NoteSnapshot:
        """The note with ``guid`` (KeyError if absent)."""
        return self.notes[guid]

    def cards_of(self, guid: str) -> tuple[CardSnapshot, ...]:
        """The cards of the note with ``guid``, by ord."""
        return tuple(
            sorted((c for c in self.cards.values() if c.note_guid == guid), key=lambda c: c.ord)
        )

    def card_of(self, guid: str, ord: int = 0) -> CardSnapshot:
        """The card of note ``guid`` with template/cloze ordinal ``ord``."""
        for card in self.cards_of(guid):
            if card.ord == ord:
                return card
        raise KeyError(f"no card {ord} for note {guid!r}")

    def history(self, card_id: int) -> tuple[RevlogRow, ...]:
        """Revlog rows of ``card_id``, oldest first (empty if never reviewed)."""
        return self.revlog.get(card_id, ())

    def notes_by_tag(self, tag: str) -> tuple[NoteSnapshot, ...]:
        """Notes carrying ``tag`` or a child of it (``level`` matches ``level::L5``).

        Case-insensitive, like Anki's ``tag:`` search; sorted by guid.
        """
        wanted = tag.casefold()

        def matches(candidate: str) -> bool:
            folded = candidate.casefold()
            return folded == wanted or folded.startswith(wanted + "::")

        return tuple(n for _, n in sorted(self.notes.items()) if any(matches(t) for t in n.tags))

    def notes_by_notetype(self, name: str) -> tuple[NoteSnapshot, ...]:
        """Notes of the note type called ``name``, sorted by guid."""
        return tuple(n for _, n in sorted(self.notes.items()) if n.notetype_name == name)

    def cards_in_deck(self, deck: str, *, subdecks: bool = True) -> tuple[CardSnapshot, ...]:
        """Cards in ``deck`` (and its subdecks unless ``subdecks=False``), by id."""

        def inside(name: str) -> bool:
            return name == deck or (subdecks and name.startswith(deck + "::"))

        return tuple(c for _, c in sorted(self.cards.items()) if inside(c.deck))

    def notetype(self, name: str) -> NotetypeSnapshot:
        """The note type called ``name`` (KeyError if absent)."""
        for notetype in self.notetypes:
            if notetype.name == name:
                return notetype
        raise KeyError(f"no note type named {name!r}")

    def notetype_by_id(self, notetype_id: int) -> NotetypeSnapshot:
        """The note type with ``notetype_id`` (KeyError if absent)."""
        for notetype in self.notetypes:
            if notetype.id == notetype_id:
                return notetype
        raise KeyError(f"no note type with id {notetype_id}")

    def copies_of(self, notetype_id: int) -> tuple[NotetypeSnapshot, ...]:
        """Note types Anki made from package note type ``notetype_id`` under another id."""
        return tuple(
            nt for nt in self.notetypes if nt.original_id == notetype_id and nt.id != notetype_id
        )


def snapshot(col: Collection) -> CollectionSnapshot:
    """Capture notes, cards, review history, note types, decks and tags of ``col``."""
    assert col.db is not None
    notes: dict[str, NoteSnapshot] = {}
    guid_by_nid: dict[int, str] = {}
    for nid in sorted(col.find_notes("")):
        note = col.get_note(nid)
        notetype = note.note_type()
        assert notetype is not None
        notes[note.guid] = NoteSnapshot(
            id=int(note.id),
            guid=note.guid,
            notetype_id=int(note.mid),
            notetype_name=str(notetype["name"]),
            fields=dict(note.items()),
            tags=tuple(sorted(note.tags, key=str.casefold)),
            mod=int(note.mod),
        )
        guid_by_nid[int(note.id)] = note.guid
    cards: dict[int, CardSnapshot] = {}
    for cid in sorted(col.find_cards("")):
        card = col.get_card(cid)
        cards[int(card.id)] = CardSnapshot(
            id=int(card.id),
            note_id=int(card.nid),
            note_guid=guid_by_nid[int(card.nid)],
            ord=int(card.ord),
            deck=col.decks.name(card.did),
            reps=int(card.reps),
            lapses=int(card.lapses),
            ivl=int(card.ivl),
            due=int(card.due),
            queue=int(card.queue),
            type=int(card.type),
        )
    revlog: dict[int, list[RevlogRow]] = {}
    rows = col.db.all(
        "SELECT id, cid, ease, ivl, lastIvl, factor, time, type FROM revlog ORDER BY cid, id"
    )
    for row in rows:
        entry = RevlogRow(*(int(value) for value in row))
        revlog.setdefault(entry.card_id, []).append(entry)
    return CollectionSnapshot(
        notes=notes,
        cards=cards,
        revlog={cid: tuple(entries) for cid, entries in revlog.items()},
        notetypes=tuple(
            sorted((_notetype_snapshot(nt) for nt in col.models.all()), key=lambda nt: nt.id)
        ),
        decks=tuple(sorted(d.name for d in col.decks.all_names_and_ids())),
        tags=tuple(sorted(col.tags.all(), key=str.casefold)),
    )


def _notetype_snapshot(notetype: Mapping[str, Any]) -> NotetypeSnapshot:
    original = notetype.get("originalId")
    return NotetypeSnapshot(
        id=int(notetype["id"]),
        name=str(notetype["name"]),
        is_cloze=notetype["type"] == MODEL_CLOZE,
        field_names=tuple(str(f["name"]) for f in notetype["flds"]),
        template_names=tuple(str(t["name"]) for t in notetype["tmpls"]),
        templates=tuple(
            TemplateSnapshot(str(t["name"]), str(t["qfmt"]), str(t["afmt"]))
            for t in notetype["tmpls"]
        ),
        css=str(notetype["css"]),
        mod=int(notetype["mod"]),
        original_id=None if original is None else int(original),
    )


# ---------------------------------------------------------------------------------------
# Differences
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SnapshotDiff:
    """What changed between two snapshots; ``changed_*`` map a key to the attributes that
    differ (e.g. ``{"g1": ("fields", "mod", "tags")}``)."""

    added_notes: frozenset[str]
    removed_notes: frozenset[str]
    changed_notes: Mapping[str, tuple[str, ...]]
    added_cards: frozenset[int]
    removed_cards: frozenset[int]
    changed_cards: Mapping[int, tuple[str, ...]]
    revlog_changed: frozenset[int]
    added_notetypes: frozenset[int]
    removed_notetypes: frozenset[int]
    changed_notetypes: Mapping[int, tuple[str, ...]]
    added_decks: frozenset[str]
    removed_decks: frozenset[str]
    added_tags: frozenset[str]
    removed_tags: frozenset[str]

    @property
    def is_empty(self) -> bool:
        """True when nothing the user can see changed."""
        return not any(getattr(self, f.name) for f in fields(self))

    def nonempty(self) -> dict[str, object]:
        """The non-empty parts, for assertion messages."""
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name))}


_K = TypeVar("_K")
_V = TypeVar("_V")


def _changed_attrs(before: Any, after: Any) -> tuple[str, ...]:
    return tuple(
        f.name for f in fields(before) if getattr(before, f.name) != getattr(after, f.name)
    )


def _compare(
    before: Mapping[_K, _V], after: Mapping[_K, _V]
) -> tuple[frozenset[_K], frozenset[_K], dict[_K, tuple[str, ...]]]:
    added = frozenset(after.keys() - before.keys())
    removed = frozenset(before.keys() - after.keys())
    changed = {
        key: attrs
        for key in before.keys() & after.keys()
        if (attrs := _changed_attrs(before[key], after[key]))
    }
    return added, removed, changed


def diff(before: CollectionSnapshot, after: CollectionSnapshot) -> SnapshotDiff:
    """Compare two snapshots of the same collection."""
    added_notes, removed_notes, changed_notes = _compare(before.notes, after.notes)
    added_cards, removed_cards, changed_cards = _compare(before.cards, after.cards)
    added_nts, removed_nts, changed_nts = _compare(
        {nt.id: nt for nt in before.notetypes}, {nt.id: nt for nt in after.notetypes}
    )
    revlog_changed = frozenset(
        cid
        for cid in before.revlog.keys() | after.revlog.keys()
        if before.history(cid) != after.history(cid)
    )
    return SnapshotDiff(
        added_notes=added_notes,
        removed_notes=removed_notes,
        changed_notes=changed_notes,
        added_cards=added_cards,
        removed_cards=removed_cards,
        changed_cards=changed_cards,
        revlog_changed=revlog_changed,
        added_notetypes=added_nts,
        removed_notetypes=removed_nts,
        changed_notetypes=changed_nts,
        added_decks=frozenset(after.decks) - frozenset(before.decks),
        removed_decks=frozenset(before.decks) - frozenset(after.decks),
        added_tags=frozenset(after.tags) - frozenset(before.tags),
        removed_tags=frozenset(before.tags) - frozenset(after.tags),
    )

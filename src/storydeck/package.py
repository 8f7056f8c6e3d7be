"""Cards -> `.apkg` files. The only part of storydeck that touches genanki.

Packages are byte-identical for the same cards and lock: each note carries the
time its content last changed as `mod` (not the build time), note and card ids
come from those times in a fixed order, the SQLite database is built in memory
(no temporary file anywhere) and the zip entries carry a fixed date. Every file
is written beside its target and renamed into place, so a reader never sees a
half-written package.
"""

from __future__ import annotations

import hashlib
import html
import os
import sqlite3
import tempfile
import zipfile
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import genanki
from genanki.apkg_col import APKG_COL
from genanki.apkg_schema import APKG_SCHEMA

from storydeck.cards import FIELDS
from storydeck.config import Config
from storydeck.identity import Identified, LockEntry
from storydeck.model import CardKind
from storydeck.templates import NoteType, note_types

#: Every zip entry is dated this way so identical input gives identical bytes.
_ZIP_DATE = (2020, 1, 1, 0, 0, 0)
REMOVED_TAG = "storydeck::removed"


@dataclass(frozen=True, slots=True)
class Written:
    path: Path
    notes: int
    changed: bool


@dataclass(frozen=True, slots=True)
class PlannedNote:
    """One note as it goes into a package."""

    guid: str
    cloze: bool
    deck: str
    fields: tuple[str, ...]
    tags: tuple[str, ...]
    mod: int
    level: str


class _Ids:
    """Note and card ids: increasing, and never earlier than the note's own time."""

    def __init__(self) -> None:
        self.last = 0

    def at_least(self, value: int) -> None:
        self.last = max(self.last, value - 1)

    def __iter__(self) -> _Ids:
        return self

    def __next__(self) -> int:
        self.last += 1
        return self.last


class _Note(genanki.Note):  # type: ignore[misc]
    """A genanki note stamped with its own modification time instead of the build time."""

    def __init__(self, *, mod: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mod = mod

    def write_to_db(self, cursor: Any, timestamp: float, deck_id: int, id_gen: Any) -> None:
        del timestamp
        id_gen.at_least(self.mod * 1000)
        super().write_to_db(cursor, self.mod, deck_id, id_gen)


def _model(note_type: NoteType) -> genanki.Model:
    return genanki.Model(
        note_type.id,
        note_type.name,
        fields=[{"name": f} for f in note_type.fields],
        templates=[{"name": n, "qfmt": q, "afmt": a} for n, q, a in note_type.templates],
        css=note_type.css,
        model_type=genanki.Model.CLOZE if note_type.cloze else genanki.Model.FRONT_BACK,
    )


def deck_id(name: str) -> int:
    """A stable deck id from the deck's name (Anki matches decks by name anyway)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:6], "big") | 1 << 50


def _level_of_deck(deck: str) -> str:
    parts = deck.split("::")
    return parts[1] if len(parts) > 2 else "Unleveled"


def plan_notes(identified: Identified, config: Config) -> list[PlannedNote]:
    """The notes of a build: its cards, then the removed cards still carried along."""
    notes = [
        PlannedNote(
            guid=card.guid,
            cloze=card.is_cloze,
            deck=card.deck,
            fields=tuple(card.fields[f] for f in FIELDS),
            tags=card.tags,
            mod=identified.mods[card.guid],
            level=_level_of_deck(card.deck),
        )
        for card in identified.cards
    ]
    notes.extend(_removed_note(guid, entry) for guid, entry in identified.removed)
    del config
    return notes


def _removed_note(guid: str, entry: LockEntry) -> PlannedNote:
    """A card that left the notes: kept, tagged for deletion, its text as last seen."""
    cloze = entry.kind == CardKind.METRIC.value
    text = html.escape(entry.key, quote=False)
    front = f"{{{{c1::{text}}}}}" if cloze else text
    fields = {
        "Front": front,
        "Back": "This card was removed from your notes. Delete it in Anki or restore it.",
        "Detail": "",
        "Context": f'<div class="sd-story">{html.escape(entry.anchor, quote=False)}</div>',
        "Story": html.escape(entry.anchor, quote=False),
        "Question": "",
        "Level": _level_of_deck(entry.deck),
        "Theme": "",
        "Kind": entry.kind,
        "Source": "",
    }
    tags = ["storydeck", REMOVED_TAG, f"kind::{entry.kind}"]
    if not entry.anchor.startswith("prompt:"):
        tags.append(f"story::{entry.anchor}")
    return PlannedNote(
        guid=guid,
        cloze=cloze,
        deck=entry.deck,
        fields=tuple(fields[f] for f in FIELDS),
        tags=tuple(sorted(tags)),
        mod=entry.changed,
        level=_level_of_deck(entry.deck),
    )


def package_bytes(notes: Sequence[PlannedNote], notetype_mod: int) -> bytes:
    """One `.apkg` holding `notes`, as bytes."""
    qa_type, cloze_type = note_types()
    models = {False: _model(qa_type), True: _model(cloze_type)}
    decks: dict[str, genanki.Deck] = {}
    for position, note in enumerate(notes):
        deck = decks.get(note.deck)
        if deck is None:
            deck = decks[note.deck] = genanki.Deck(deck_id(note.deck), note.deck)
            deck.add_model(models[False])
            deck.add_model(models[True])
        deck.add_note(
            _Note(
                mod=note.mod,
                model=models[note.cloze],
                fields=list(note.fields),
                tags=list(note.tags),
                guid=note.guid,
                due=position,
            )
        )
    if not decks:  # an empty package still carries the note types
        name = "Default"
        decks[name] = genanki.Deck(1, name)
        decks[name].add_model(models[False])
        decks[name].add_model(models[True])
    connection = sqlite3.connect(":memory:")
    try:
        cursor = connection.cursor()
        cursor.executescript(APKG_SCHEMA)
        cursor.executescript(APKG_COL)
        ids = _Ids()
        for name in sorted(decks):
            decks[name].write_to_db(cursor, notetype_mod, ids)
        connection.commit()
        database = connection.serialize()
    finally:
        connection.close()
    return _zip({"collection.anki2": database, "media": b"{}"})


def _zip(entries: Mapping[str, bytes]) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def package_files(
    config: Config, notes: Sequence[PlannedNote]
) -> Iterator[tuple[str, list[PlannedNote]]]:
    """(file name, notes) of every package: one per level, and one with everything."""
    prefix = config.output.prefix
    if config.output.per_level:
        by_level: dict[str, list[PlannedNote]] = defaultdict(list)
        for note in notes:
            by_level[note.level].append(note)
        for level in sorted(by_level):
            yield f"{prefix}-{_file_part(level)}.apkg", by_level[level]
    if config.output.combined or not config.output.per_level:
        yield f"{prefix}-all.apkg", list(notes)


def _file_part(level: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in level) or "level"


def write_atomic(path: Path, data: bytes) -> bool:
    """Write `data` to `path` through a temporary file in the same directory.

    Returns False (and writes nothing) when the file already holds exactly `data`.
    """
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return True


def render_packages(
    identified: Identified, config: Config, notetype_mod: int
) -> list[tuple[str, bytes, int]]:
    """(file name, bytes, note count) of every package of a build, nothing written yet."""
    notes = plan_notes(identified, config)
    return [
        (name, package_bytes(group, notetype_mod), len(group))
        for name, group in package_files(config, notes)
    ]

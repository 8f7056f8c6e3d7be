"""The row store: a build's notes as the rows a package holds, kept between builds.

A package's collection is filled from the store, not from the cards: every note of
the build is a row here (its guid, the values of its note row, its deck, level and
card ords) with a stamp of what it was made from. A build makes rows only for the
notes whose stamp changed; each package then takes its notes' rows with one SQL
statement, under note and card ids worked out from a few small values per note.
So editing one story of a large bank turns a few cards into rows, not every card
of every package.

The store of a notes directory lives in the cache directory (see cache.py), never
in the notes or the decks. It is only a shortcut: a row is used only while its
stamp matches the note the build wants, the store is emptied when the code that
fills it changes, and a store that cannot be opened is replaced by an empty one.
A package holds the same bytes whatever the store held before: its collection is
written fresh, rows in id order.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from array import array
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any, Protocol, TypeVar

#: Bump when the store's tables change.
_FORMAT = "storydeck-rows 5"

_META = "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
#: Each note's small values, then its text (tags, sort field, joined fields) in a table
#: of its own: working out ids reads only the first.
_TABLES = (
    """CREATE TABLE notes (
        id INTEGER PRIMARY KEY,
        guid TEXT NOT NULL,
        stamp TEXT NOT NULL,
        mid INTEGER NOT NULL,
        mod INTEGER NOT NULL,
        deck TEXT NOT NULL,
        did INTEGER NOT NULL,
        level TEXT NOT NULL,
        ords TEXT NOT NULL,
        ncards INTEGER NOT NULL
    )""",
    """CREATE TABLE texts (
        id INTEGER PRIMARY KEY,
        tags TEXT NOT NULL,
        sfld NOT NULL,
        flds TEXT NOT NULL
    )""",
)

#: A note's row, as `sync` is given it: guid, stamp, mid, mod, deck, did, level, ords
#: (a JSON array), ncards, then tags, sfld, flds.
Row = tuple[Any, ...]
_SMALL = 9
#: Rows made and written at a time.
_BATCH = 2048


class Planned(Protocol):
    """What the store needs to know of a note without making its row."""

    @property
    def guid(self) -> str: ...

    @property
    def row_stamp(self) -> str: ...


P = TypeVar("P", bound=Planned)

#: What `sync` reads of each row: its place (id, mod, deck, level, ncards; see _Places)
#: first, then its guid and stamp.
_HAVE = "SELECT id, mod, deck, level, ncards, guid, stamp FROM notes"

_IDS = "CREATE TEMP TABLE ids (nid INTEGER PRIMARY KEY, id INTEGER NOT NULL, due INTEGER NOT NULL)"
#: The (note id, row id, due) triples of a package, from one JSON array.
_FILL_IDS = """
INSERT INTO temp.ids
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]')
FROM json_each(?)
"""
_NOTES = """
INSERT INTO pkg.notes
SELECT i.nid, n.guid, n.mid, n.mod, -1, t.tags, t.flds, t.sfld, 0, 0, ''
FROM temp.ids AS i JOIN main.notes AS n ON n.id = i.id JOIN main.texts AS t ON t.id = i.id
ORDER BY i.nid
"""
#: A new card: ivl, factor, reps, lapses, left, odue, odid and flags 0, no data.
_CARDS = """
INSERT INTO pkg.cards
SELECT i.nid + 1 + o.key, i.nid, n.did, o.value, n.mod, -1, 0, 0, i.due,
    0, 0, 0, 0, 0, 0, 0, 0, ''
FROM temp.ids AS i JOIN main.notes AS n ON n.id = i.id, json_each(n.ords) AS o
ORDER BY i.nid, o.key
"""


class _Places:
    """Where the notes of the last `sync` are, in their order: each one's row id, mod
    time, deck, level and number of cards, as columns (a large bank has hundreds of
    thousands of notes; the strings are shared)."""

    def __init__(self, size: int) -> None:
        self.ids = array("q", bytes(8 * size))
        self.mods = array("q", bytes(8 * size))
        self.cards = array("q", bytes(8 * size))
        self.decks = [""] * size
        self.levels = [""] * size

    def __len__(self) -> int:
        return len(self.ids)

    def put(self, index: int, place: tuple[int, int, str, str, int]) -> None:
        """Set note `index`'s (row id, mod, deck, level, cards)."""
        id_, mod, deck, level, cards = place
        self.ids[index], self.mods[index], self.cards[index] = id_, mod, cards
        self.decks[index], self.levels[index] = deck, level


class RowStore:
    """The rows of one notes directory's notes (`path`), or of one build (`path` None:
    a scratch store in the temporary directory, removed on `close`).

    `key` names the code that makes rows: a store filled by other code is emptied.
    """

    def __init__(self, path: Path | None, key: str) -> None:
        self._scratch: Path | None = None
        self.key = key
        self.path = Path()
        self._places = _Places(0)
        self.connection = self._open(path)

    def _open(self, path: Path | None) -> sqlite3.Connection:
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                return self._connect(path)
            except (OSError, sqlite3.Error):
                # A damaged or unusable store: start again, or work without one.
                try:
                    path.unlink(missing_ok=True)
                    Path(f"{path}-journal").unlink(missing_ok=True)
                    return self._connect(path)
                except (OSError, sqlite3.Error):
                    pass
        self._scratch = Path(tempfile.mkdtemp(prefix="storydeck-rows-"))
        return self._connect(self._scratch / "rows.sqlite")

    def _connect(self, path: Path) -> sqlite3.Connection:
        self.path = path
        connection = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            # A build killed half-way leaves the rollback journal: the next one rolls
            # the store back. No sync to disk: the store is a cache.
            connection.execute("PRAGMA page_size = 16384")  # for a new store: see package.py
            connection.execute("PRAGMA synchronous = OFF")
            connection.execute("PRAGMA cache_size = -16384")
            connection.execute("PRAGMA temp_store = MEMORY")
            connection.execute(_META)
            found = connection.execute("SELECT value FROM meta WHERE name = 'key'").fetchone()
            key = f"{_FORMAT}:{self.key}"
            if found is None or found[0] != key:
                # Made by other code (or new): its tables are made again, empty.
                connection.execute("BEGIN")
                connection.execute("DELETE FROM meta")
                connection.execute("DROP TABLE IF EXISTS notes")
                connection.execute("DROP TABLE IF EXISTS texts")
                for table in _TABLES:
                    connection.execute(table)
                connection.execute("INSERT OR REPLACE INTO meta VALUES ('key', ?)", (key,))
                connection.execute("COMMIT")
        except BaseException:
            connection.close()
            raise
        return connection

    def get_meta(self, name: str) -> str | None:
        """A value kept with the rows (under a name other than "key")."""
        found = self.connection.execute("SELECT value FROM meta WHERE name = ?", (name,))
        row = found.fetchone()
        return None if row is None else str(row[0])

    def put_meta(self, name: str, value: str) -> None:
        self.connection.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))

    def __enter__(self) -> RowStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.connection.close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def sync(self, notes: Sequence[P], row: Callable[[P], Row]) -> int:
        """Make the store hold exactly `notes`, in this order; `row(note)` is asked only
        for the notes whose row is missing or stale. Returns how many rows were made."""
        connection = self.connection
        names: dict[str, str] = {}  # one string per deck and level name
        have: dict[str, tuple[int, int, str, str, int, str]] = {}
        for found in connection.execute(_HAVE):
            deck, level = found[2], found[3]
            deck, level = names.setdefault(deck, deck), names.setdefault(level, level)
            have[found[5]] = (found[0], found[1], deck, level, found[4], found[6])
        places = _Places(len(notes))
        stale: list[tuple[int, int, P]] = []  # (position, id, note)
        last = first = max((found[0] for found in have.values()), default=0)
        for position, note in enumerate(notes):
            known = have.get(note.guid)
            if known is not None and known[5] == note.row_stamp:
                places.put(position, known[:5])
            elif known is None:
                last += 1
                stale.append((position, last, note))
            else:
                stale.append((position, known[0], note))
        connection.execute("BEGIN")
        try:
            if len(have) > len(notes) - (last - first):  # some notes left
                gone = have.keys() - {note.guid for note in notes}
                dead = [(have[guid][0],) for guid in gone]
                connection.executemany("DELETE FROM notes WHERE id = ?", dead)
                connection.executemany("DELETE FROM texts WHERE id = ?", dead)
            for start in range(0, len(stale), _BATCH):  # a large bank's rows are never all held
                rows = [(id_, *row(note)) for _, id_, note in stale[start : start + _BATCH]]
                connection.executemany(
                    "INSERT OR REPLACE INTO notes VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (r[: _SMALL + 1] for r in rows),
                )
                connection.executemany(
                    "INSERT OR REPLACE INTO texts VALUES (?,?,?,?)",
                    ((r[0], *r[_SMALL + 1 :]) for r in rows),
                )
                for (position, *_), r in zip(stale[start : start + _BATCH], rows, strict=True):
                    deck, level = names.setdefault(r[5], r[5]), names.setdefault(r[7], r[7])
                    places.put(position, (r[0], r[4], deck, level, r[9]))
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        self._places = places
        return len(stale)

    def package_ids(self, level: str | None) -> list[str]:
        """The ids of the package of `level`'s notes (all notes when None), as placed
        by the last `sync`: JSON arrays of [note id, row id, due], a few thousand notes
        each (see `fill`)."""
        found = _ids(self._places, level)
        chunks = []
        while chunk := list(islice(found, _BATCH)):
            chunks.append(json.dumps(chunk, separators=(",", ":")))
        return chunks

    def fill(self, database: Path, ids: Sequence[str]) -> None:
        """Copy the rows of a package's notes, by their `package_ids`, into the notes
        and cards of the collection at `database`.

        Safe to call from several threads at once: each call reads the store through
        a connection of its own, and all of it is SQLite work, which lets other
        threads run meanwhile.
        """
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            connection.execute("PRAGMA cache_size = -16384")
            connection.execute("PRAGMA temp_store = MEMORY")
            connection.execute("ATTACH DATABASE ? AS pkg", (str(database),))
            connection.execute("PRAGMA pkg.journal_mode = OFF")
            connection.execute("PRAGMA pkg.synchronous = OFF")
            connection.execute("BEGIN")
            connection.execute(_IDS)
            # A statement per few thousand notes, not one per note: a thread that gave
            # up the GIL for each row would wait for it again behind any busy thread.
            for chunk in ids:
                connection.execute(_FILL_IDS, (chunk,))
            connection.execute(_NOTES)
            connection.execute(_CARDS)
            connection.execute("COMMIT")
        finally:
            connection.close()


def _ids(places: _Places, level: str | None) -> Iterator[tuple[int, int, int]]:
    """(note id, row id, due) of the notes of a package, as genanki's writer hands ids out.

    Decks go in name order, and each deck's notes in the package's order. A note's id
    is at least its mod time in milliseconds and above the id before it; its cards take
    the ids right after it. A card is due in its note's place in the package.
    """
    levels, decks = places.levels, places.decks
    chosen: Sequence[int] = (
        range(len(places)) if level is None else [i for i, x in enumerate(levels) if x == level]
    )
    order = sorted(range(len(chosen)), key=lambda k: decks[chosen[k]])  # stable: in order
    ids, mods, cards = places.ids, places.mods, places.cards
    last = 0
    for due in order:
        index = chosen[due]
        last = max(last + 1, mods[index] * 1000)
        yield last, ids[index], due
        last += cards[index]

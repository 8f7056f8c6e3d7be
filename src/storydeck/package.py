"""Cards -> `.apkg` files. The only part of storydeck that touches genanki.

Packages are byte-identical for the same cards and lock: each note carries the
time its content last changed as `mod` (not the build time), note and card ids
come from those times in a fixed order, the SQLite header carries no write count
or library version, and the zip entries carry a fixed date. The rows are genanki's;
they are made once per note and kept in the row store (rowstore.py), from which
each package's collection is filled in a scratch file, removed as soon as it is
compressed. Every file is written beside its target and renamed into place, so a
reader never sees a half-written package; a package's zip comment stamps what it
was made from, so an unchanged package is neither rendered nor written again.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import sqlite3
import tempfile
import threading
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

from storydeck.cards import FIELDS, PROMPT_ANCHOR, Card, field_values, fingerprint
from storydeck.carry import Carried, StaleCarry
from storydeck.config import Config
from storydeck.identity import Identified, LockEntry
from storydeck.model import CardKind
from storydeck.rowstore import Row, RowStore
from storydeck.templates import NoteType, note_types

if TYPE_CHECKING:
    from concurrent.futures import Future

    import genanki

#: Every zip entry is dated this way so identical input gives identical bytes.
_ZIP_DATE = (2020, 1, 1, 0, 0, 0)
REMOVED_TAG = "storydeck::removed"


class PlannedNote(NamedTuple):
    """One note as it goes into a package (a tuple: a large bank makes hundreds of
    thousands of them, and a tuple is the cheapest immutable record to make).

    Its fields and tags are worked out from its card (or, for a removed card, its
    lock entry) only when its row is made: a build whose notes are mostly
    unchanged makes few rows (see rowstore.py).
    """

    guid: str
    cloze: bool
    deck: str
    mod: int
    level: str
    #: A hash of what the note holds (its lock fingerprint).
    content: str
    #: Where its text comes from: its card, or the lock entry of a removed card; None
    #: for a note carried over from the last build (see carry.py), whose row the row
    #: store holds.
    source: Card | LockEntry | None
    #: What its row is made from: guid, content, mod and deck (see `_line`).
    line: str

    @property
    def fields(self) -> tuple[str, ...]:
        if isinstance(self.source, Card):
            values: tuple[str, ...] = field_values(self.source.fields)
            return values
        return _removed_fields(self._entry())

    @property
    def tags(self) -> tuple[str, ...]:
        if isinstance(self.source, Card):
            return self.source.tags
        return _removed_tags(self._entry())

    def _entry(self) -> LockEntry:
        if not isinstance(self.source, LockEntry):
            raise StaleCarry(f"no row kept for the carried note {self.guid}")
        return self.source

    @property
    def row_stamp(self) -> str:
        """What the note's row is made from (see rowstore.py)."""
        return self.line


def _line(guid: str, content: str, mod: int, deck: str) -> str:
    return f"{guid}\x1f{content}\x1f{mod}\x1f{deck}"


def genanki_model(note_type: NoteType) -> genanki.Model:
    """A storydeck note type as a genanki model (the benchmark's floor uses it too)."""
    import genanki

    return genanki.Model(
        note_type.id,
        note_type.name,
        fields=[{"name": f} for f in note_type.fields],
        templates=[{"name": n, "qfmt": q, "afmt": a} for n, q, a in note_type.templates],
        css=note_type.css,
        model_type=genanki.Model.CLOZE if note_type.cloze else genanki.Model.FRONT_BACK,
    )


@cache
def deck_id(name: str) -> int:
    """A stable deck id from the deck's name (Anki matches decks by name anyway)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:6], "big") | 1 << 50


def level_of_deck(deck: str) -> str:
    parts = deck.split("::")
    return parts[1] if len(parts) > 2 else "Unleveled"


def plan_notes(identified: Identified, config: Config) -> list[PlannedNote]:
    """The notes of a build: its cards (with the notes of the stories carried over, in
    their places), then the removed cards still carried along."""
    mods = identified.mods
    levels: dict[str, str] = {}
    notes = []
    for card in identified.cards:
        deck = card.deck
        level = levels.get(deck) or levels.setdefault(deck, level_of_deck(deck))
        guid, mod, content = card.guid, mods[card.guid], card.fingerprint
        # The fingerprint covers the note's kind, fields and tags.
        line = _line(guid, content, mod, deck)
        notes.append(PlannedNote(guid, card.is_cloze, deck, mod, level, content, card, line))
    if identified.carried:
        notes = _with_carried(notes, identified.cards, identified.carried)
    notes.extend(_removed_note(guid, entry) for guid, entry in identified.removed)
    del config
    return notes


def _with_carried(
    made: list[PlannedNote], cards: Sequence[Card], carried: Carried
) -> list[PlannedNote]:
    """The notes of the cards made, with the carried stories' notes where their cards
    would be (cards go by story, then kind, then ordinal: see cards.build_cards).

    A carried story's cards were not made, so the made cards of its place are prompt
    cards, which come before a story's own cards.
    """
    order = carried.order or {}
    places = [order.get(card.story, 0) for card in cards]  # the place of each made note
    levels: dict[str, str] = {}
    out: list[PlannedNote] = []
    at = 0
    for index, _, notes in carried.stories:
        while at < len(made) and places[at] <= index:
            out.append(made[at])
            at += 1
        out.extend(
            PlannedNote(
                n.guid,
                n.cloze,
                n.deck,
                n.mod,
                levels.get(n.deck) or levels.setdefault(n.deck, level_of_deck(n.deck)),
                n.content,
                None,
                _line(n.guid, n.content, n.mod, n.deck),
            )
            for n in notes
        )
    out.extend(made[at:])
    return out


def _removed_note(guid: str, entry: LockEntry) -> PlannedNote:
    """A card that left the notes: kept, tagged for deletion, its text as last seen."""
    content = fingerprint(["removed", *_removed_fields(entry), *_removed_tags(entry)])
    return PlannedNote(
        guid,
        entry.kind == CardKind.METRIC.value,
        entry.deck,
        entry.changed,
        level_of_deck(entry.deck),
        content,
        entry,
        _line(guid, content, entry.changed, entry.deck),
    )


def _removed_fields(entry: LockEntry) -> tuple[str, ...]:
    text = html.escape(entry.key, quote=False)
    cloze = entry.kind == CardKind.METRIC.value
    fields = {
        "Front": f"{{{{c1::{text}}}}}" if cloze else text,
        "Back": "This card was removed from your notes. Delete it in Anki or restore it.",
        "Detail": "",
        "Context": f'<div class="sd-story">{html.escape(entry.anchor, quote=False)}</div>',
        "Story": html.escape(entry.anchor, quote=False),
        "Question": "",
        "Level": level_of_deck(entry.deck),
        "Theme": "",
        "Kind": entry.kind,
        "Source": "",
    }
    return tuple(fields[f] for f in FIELDS)


def _removed_tags(entry: LockEntry) -> tuple[str, ...]:
    tags = ["storydeck", REMOVED_TAG, f"kind::{entry.kind}"]
    if entry.anchor != PROMPT_ANCHOR:
        tags.append(f"story::{entry.anchor}")
    return tuple(sorted(tags))


_CLOZE_FIELD = re.compile(r"{{[^}]*?cloze:(?:[^}]?:)*(.+?)}}")
_CLOZE_NUMBER = re.compile(r"{{c(\d+)::.+?}}", re.DOTALL)


class _CardRule:
    """Which cards (template ords) a note of one model makes: genanki's own rules.

    A cloze note makes one card per cloze number in its cloze field(s); a Q&A note
    one per template whose required fields (genanki's `_req`) are filled.
    """

    def __init__(self, cloze: bool, cloze_fields: Sequence[int], req: Sequence[Any]) -> None:
        self.cloze = cloze
        self.cloze_fields = list(cloze_fields)
        self.req_data = [list(r) for r in req]
        self.req = [(ord_, all if how == "all" else any, fields) for ord_, how, fields in req]

    @classmethod
    def of(cls, model: genanki.Model) -> _CardRule:
        names = [f["name"] for f in model.fields]
        qfmt = model.templates[0]["qfmt"]
        cloze_fields = sorted({names.index(n) for n in _CLOZE_FIELD.findall(qfmt) if n in names})
        return cls(model.model_type == model.CLOZE, cloze_fields, model._req)

    def ords(self, fields: Sequence[str]) -> list[int]:
        if self.cloze:
            found = {
                int(m) - 1
                for i in self.cloze_fields
                for m in _CLOZE_NUMBER.findall(fields[i])
                if int(m) > 0
            }
            return sorted(found)
        return [ord_ for ord_, op, req in self.req if op(fields[i] for i in req)]


class _Kind(NamedTuple):
    """One note type as the writer uses it."""

    model_id: int
    sort_index: int
    rule: _CardRule
    #: genanki's JSON of the note type; its `mod` and `did` are filled in per package.
    model_json: dict[str, Any]


class _Constants(NamedTuple):
    """What the writer takes from genanki: the collection's schema and `col` row, a
    deck's JSON, and the note types (models) with their card rules.

    Worked out with genanki once and kept in the row store, so that a build whose
    store has them does not load genanki at all (about 60 ms).
    """

    schema: str
    col: str
    #: genanki's JSON of a deck; its `id` and `name` are filled in per deck.
    deck_json: dict[str, Any]
    kinds: dict[bool, _Kind]

    @classmethod
    def of_genanki(cls) -> _Constants:
        import genanki
        from genanki.apkg_col import APKG_COL
        from genanki.apkg_schema import APKG_SCHEMA

        kinds = {
            cloze: _Kind(model.model_id, model.sort_field_index, rule, model.to_json(0, 0))
            for cloze, (model, rule) in _models().items()
        }
        return cls(APKG_SCHEMA, APKG_COL, genanki.Deck(1, "").to_json(), kinds)

    def to_text(self) -> str:
        kinds = {
            str(int(cloze)): [
                k.model_id,
                k.sort_index,
                k.model_json,
                k.rule.cloze_fields,
                k.rule.req_data,
            ]
            for cloze, k in self.kinds.items()
        }
        return json.dumps([self.schema, self.col, self.deck_json, kinds])

    @classmethod
    def of_text(cls, text: str) -> _Constants:
        schema, col, deck_json, raw = json.loads(text)
        kinds = {
            cloze == "1": _Kind(
                model_id, sort_index, _CardRule(cloze == "1", fields, req), model_json
            )
            for cloze, (model_id, sort_index, model_json, fields, req) in raw.items()
        }
        return cls(schema, col, deck_json, kinds)


def _note_types_key() -> str:
    """The note types as the writer depends on them: their ids and fingerprints."""
    return repr(sorted((t.key, t.id, t.fingerprint) for t in note_types()))


def _constants_name() -> str:
    """What the writer's constants are kept under in the row store: the note types' ids
    and fingerprints (a changed note type, its CSS say, is taken from genanki again)."""
    return "writer " + _note_types_key()


def _constants(store: RowStore | None) -> _Constants:
    """The writer's constants: from the row store when it has them, else from genanki
    (and then kept in the store)."""
    name = _constants_name()
    if store is not None:
        kept = store.get_meta(name)
        if kept is not None:
            try:
                return _Constants.of_text(kept)
            except (ValueError, TypeError, KeyError):  # not ours after all: made again
                pass
    early = _EARLY_CONSTANTS.pop() if _EARLY_CONSTANTS else None
    if early is not None and early[0] == name:
        constants = early[1].result()
    else:
        constants = _Constants.of_genanki()
    if store is not None:
        store.put_meta(name, constants.to_text())
    return constants


#: The constants being worked out from genanki ahead of need (see `prepare_constants`),
#: under the name the row store keeps them by.
_EARLY_CONSTANTS: list[tuple[str, Future[_Constants]]] = []


def prepare_constants() -> None:
    """Start working out the writer's constants from genanki in a thread of their own,
    for a build whose row store is new (so does not have them): loading genanki then
    happens while the notes are parsed, not after. The next package plan takes them."""
    if not _EARLY_CONSTANTS:
        from concurrent.futures import Future

        future: Future[_Constants] = Future()

        def work() -> None:
            try:
                future.set_result(_Constants.of_genanki())
            except BaseException as exc:  # told to whoever takes them
                future.set_exception(exc)

        _EARLY_CONSTANTS.append((_constants_name(), future))
        threading.Thread(target=work, name="storydeck-constants", daemon=True).start()


def _models() -> dict[bool, tuple[genanki.Model, _CardRule]]:
    return _models_of(note_types())


@cache
def _models_of(types: tuple[NoteType, ...]) -> dict[bool, tuple[genanki.Model, _CardRule]]:
    out = {}
    for note_type in types:
        model = genanki_model(note_type)
        out[note_type.cloze] = (model, _CardRule.of(model))
    return out


def package_bytes(
    notes: Sequence[PlannedNote], notetype_mod: int, stamp: bytes | None = None
) -> bytes:
    """One `.apkg` holding `notes`, as bytes (see `write_package`)."""
    import io

    buffer = io.BytesIO()
    write_package(buffer, notes, notetype_mod, stamp)
    return buffer.getvalue()


def write_package(
    target: BinaryIO, notes: Sequence[PlannedNote], notetype_mod: int, stamp: bytes | None = None
) -> None:
    """One `.apkg` holding `notes`, written to `target`, through a scratch row store.
    `stamp` is `_stamp(notes, notetype_mod)` when the caller has it already."""
    with RowStore(None, _store_key()) as store:
        constants = _constants(None)
        store.sync(notes, _row_maker(constants))
        _write_from_store(
            store,
            partial(store.package_ids, None),
            target,
            deck_names=sorted({note.deck for note in notes}),
            notetype_mod=notetype_mod,
            stamp=stamp if stamp is not None else _stamp(notes, notetype_mod),
            constants=constants,
        )


def _row_maker(constants: _Constants) -> Callable[[PlannedNote], Row]:
    """How a note becomes its row in the row store: the package's note row, with its
    deck, level and card ords (see rowstore.py)."""
    kinds = {cloze: (k.model_id, k.sort_index, k.rule) for cloze, k in constants.kinds.items()}
    ords_json: dict[tuple[int, ...], str] = {}

    def row(note: PlannedNote) -> Row:
        model_id, sort_index, rule = kinds[note.cloze]
        fields = note.fields
        ords = tuple(rule.ords(fields))
        listed = ords_json.get(ords)
        if listed is None:
            listed = ords_json[ords] = json.dumps(list(ords))
        return (
            note.guid,
            note.line,
            model_id,
            note.mod,
            note.deck,
            deck_id(note.deck),
            note.level,
            listed,
            len(ords),
            " " + " ".join(note.tags) + " ",
            fields[sort_index],
            "\x1f".join(fields),
        )

    return row


def _write_from_store(
    store: RowStore,
    ids: Callable[[], Sequence[str]],
    target: BinaryIO,
    *,
    deck_names: Sequence[str],
    notetype_mod: int,
    stamp: bytes,
    constants: _Constants,
) -> None:
    """The package of the notes with the `ids` (see RowStore.package_ids) as the
    store holds them.

    The collection is genanki's (its schema, its `col` row, its model and deck JSON)
    with the rows genanki's `Deck.write_to_db` would write: decks in name order, each
    deck's notes in package order; a card's `due` is its note's position. It is built
    in a scratch file (not in memory, where a large bank's collection would be held
    twice: by SQLite and as bytes), compressed into the package and removed.
    """
    decks = [(deck_id(name), name) for name in deck_names] or [(1, "Default")]
    with tempfile.TemporaryDirectory(prefix="storydeck-") as scratch:
        path = Path(scratch) / "collection.anki2"
        connection = sqlite3.connect(path)
        try:
            for pragma in _SCRATCH_PRAGMAS:
                connection.execute(pragma)
            cursor = connection.cursor()
            cursor.executescript(constants.schema)
            cursor.executescript(constants.col)
            (decks_json,) = cursor.execute("SELECT decks FROM col").fetchone()
            deck_data = json.loads(decks_json)
            deck_data.update(
                {str(id_): constants.deck_json | {"id": id_, "name": name} for id_, name in decks}
            )
            # genanki rewrites the note types once per deck; the last deck's id is what stays.
            model_data = {
                str(kind.model_id): kind.model_json | {"mod": notetype_mod, "did": decks[-1][0]}
                for kind in constants.kinds.values()
            }
            cursor.execute(
                "UPDATE col SET decks = ?, models = ?",
                (json.dumps(deck_data), json.dumps(model_data)),
            )
            connection.commit()
        finally:
            connection.close()
        store.fill(path, ids())
        _normalise_header(path)
        _zip(target, {"collection.anki2": path, "media": b"{}"}, stamp)


def _normalise_header(path: Path) -> None:
    """Zero the header fields a file database gets and a serialised in-memory one does not.

    SQLite records in a file's header how many times it was written (offsets 24 and
    92) and its own version number (offset 96). Zeroed, as in an in-memory database,
    the package's bytes do not depend on which SQLite built it.
    """
    with path.open("r+b") as handle:
        handle.seek(24)
        handle.write(bytes(4))
        handle.seek(92)
        handle.write(bytes(8))


#: The scratch database needs no durability: it is read back once and removed. A
#: bounded page cache keeps a large bank's collection out of memory.
_SCRATCH_PRAGMAS = (
    # 16 KiB pages: a third less time to fill a large collection than SQLite's 4 KiB.
    "PRAGMA page_size = 16384",
    "PRAGMA journal_mode = OFF",
    "PRAGMA synchronous = OFF",
    "PRAGMA cache_size = -16384",
)
#: Fast deflate: a quarter of the default level's time for about a fifth more bytes.
_ZIP_LEVEL = 1


@cache
def _writer_key() -> bytes:
    """What else decides a package's bytes: this writer's code, genanki's schema, note types."""
    from storydeck.cache import installed

    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(Path(__file__).with_name("rowstore.py").read_bytes())
    digest.update(installed(("genanki",)).encode())
    digest.update(_note_types_key().encode())
    return digest.digest()


def _store_key() -> str:
    return _writer_key().hex()


def _stamp(notes: Sequence[PlannedNote], notetype_mod: int) -> bytes:
    """The zip comment of a package: a hash of everything its bytes are made from.

    Same stamp, same bytes: a build finding its package already stamped so skips
    rendering it again.
    """
    digest = hashlib.sha256(_writer_key())
    digest.update(f"{notetype_mod}\x1e".encode())
    for start in range(0, len(notes), 4096):  # in pieces: never one string for a whole bank
        part = "\x1e".join([n.line for n in notes[start : start + 4096]])
        digest.update(part.encode("utf-8", "surrogatepass"))
    return b"storydeck " + digest.hexdigest().encode("ascii")


def _stamped(path: Path, stamp: bytes) -> bool:
    """Whether `path` is a package this writer made from the same input."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.comment == stamp and archive.namelist() == _ENTRIES
    except (OSError, zipfile.BadZipFile):
        return False


_ENTRIES = ["collection.anki2", "media"]


def _zip(target: BinaryIO, entries: Mapping[str, bytes | Path], comment: bytes = b"") -> None:
    """Write a zip archive of `entries` (bytes, or a file copied in chunks), dated
    _ZIP_DATE, to `target` (a large bank's package is never held whole in memory)."""
    import shutil

    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.comment = comment
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            _set_level(info, _ZIP_LEVEL)
            if isinstance(data, Path):
                info.file_size = data.stat().st_size
                with data.open("rb") as source, archive.open(info, "w") as entry:
                    shutil.copyfileobj(source, entry, 1 << 20)
            else:
                archive.writestr(info, data)


def _set_level(info: zipfile.ZipInfo, level: int) -> None:
    try:
        info.compress_level = level  # type: ignore[attr-defined]  # Python 3.13+
    except AttributeError:
        info._compresslevel = level  # type: ignore[attr-defined]  # Python 3.11, 3.12


def package_files(
    config: Config, notes: Sequence[PlannedNote]
) -> Iterator[tuple[str, list[PlannedNote], str | None]]:
    """(file name, notes, level) of every package: one per level, and one with
    everything (level None)."""
    prefix = config.output.prefix
    if config.output.per_level:
        by_level: dict[str, list[PlannedNote]] = defaultdict(list)
        for note in notes:
            by_level[note.level].append(note)
        for level in sorted(by_level):
            yield f"{prefix}-{_file_part(level)}.apkg", by_level[level], level
    if config.output.combined or not config.output.per_level:
        yield f"{prefix}-all.apkg", list(notes), None


def _file_part(level: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in level) or "level"


def write_atomic(path: Path, data: bytes) -> bool:
    """Write `data` to `path` through a temporary file in the same directory.

    Returns False (and writes nothing) when the file already holds exactly `data`.
    """
    return write_atomic_chunks(path, lambda: (data,))


def write_atomic_chunks(path: Path, chunks: Callable[[], Iterable[bytes]]) -> bool:
    """`write_atomic` for content made in pieces (`chunks()` gives them), so that
    neither the new content nor the old file is ever held whole in memory.
    """
    with Staged() as staged:
        changed = staged.add(path, chunks)
        staged.commit()
    return changed


class Staged:
    """Files written beside their targets first, then renamed into place together.

    `add` writes a temporary file next to its target (nothing is visible yet);
    `commit` renames them all; leaving the `with` block without committing (an
    error) removes them. So a build can let go of each package once it is staged,
    and still changes nothing unless everything was made.
    """

    def __init__(self) -> None:
        self._temps: list[tuple[Path, Path]] = []
        self._lock = threading.Lock()

    def __enter__(self) -> Staged:
        return self

    def __exit__(self, *exc: object) -> None:
        for temp, _ in self._temps:
            temp.unlink(missing_ok=True)
        self._temps.clear()

    def add(self, path: Path, chunks: Callable[[], Iterable[bytes]]) -> bool:
        """Stage `path` to hold the concatenation of `chunks()`; False (and nothing
        staged, not even a temporary file) when it already does.

        The content is made once: compared with the file in place as it comes, and
        written only from the first difference on (with the equal part before it
        copied from the file).
        """
        pieces = iter(chunks())
        same = 0  # bytes equal to the file's so far
        first: bytes | None = None  # the first piece that differs
        try:
            with path.open("rb") as old:
                for piece in pieces:
                    if old.read(len(piece)) != piece:
                        first = piece
                        break
                    same += len(piece)
                else:
                    if not old.read(1):
                        return False
        except OSError:
            pass

        def write(handle: BinaryIO) -> None:
            if same:
                with path.open("rb") as old:
                    left = same
                    while left:
                        block = old.read(min(left, 1 << 20))
                        if not block:
                            raise OSError(f"{path} changed while it was read")
                        handle.write(block)
                        left -= len(block)
            if first is not None:
                handle.write(first)
            for piece in pieces:
                handle.write(piece)

        self.add_written(path, write)
        return True

    def add_written(self, path: Path, write: Callable[[BinaryIO], None]) -> None:
        """Stage `path` to hold what `write` writes to the file handle it is given."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with self._lock:
            self._temps.append((Path(temp), path))
        os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())

    def commit(self) -> None:
        """Rename every staged file into place, in the order they were staged (call it
        once every `add` has returned)."""
        while self._temps:
            temp, path = self._temps.pop(0)
            temp.replace(path)


def _mode_for(path: Path) -> int:
    """The permissions a rewritten file keeps: its own, or the umask's for a new one."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def remove_stale_temps(directory: Path, pattern: str) -> None:
    """Delete the temporary files `Staged` makes for targets matching `pattern`."""
    if directory.is_dir():
        for temp in directory.glob(f".{pattern}.*.tmp"):
            temp.unlink(missing_ok=True)


class Package(NamedTuple):
    """One package of a build: its file name, its writer and how many notes it holds.

    The writer writes the package to the file handle it is given; it is None when the
    package is already in place as it would be written now (same stamp).
    """

    name: str
    write: Callable[[BinaryIO], None] | None
    notes: int


@contextmanager
def planned_packages(
    identified: Identified,
    config: Config,
    notetype_mod: int,
    out_dir: Path | None = None,
    store: Path | None = None,
) -> Iterator[list[Package]]:
    """Every package of a build, to be written while the `with` block lasts.

    A package that `out_dir` already holds as it would be rendered now (same stamp)
    gets no writer. `store` is where the notes directory's row store is kept (a
    scratch one when None); it is filled before the first writer is handed out.
    """
    held: list[RowStore] = []
    try:
        # Planned in a function of its own: once their rows are in the store, the
        # planned notes go (a large bank's are tens of megabytes while its packages
        # are written).
        notes = plan_notes(identified, config)
        del identified  # the caller may let go of its cards while the packages are written
        packages = _planned(
            notes, config, notetype_mod=notetype_mod, out_dir=out_dir, store=store, held=held
        )
        del notes
        yield packages
    finally:
        for rows in held:
            rows.close()


def _planned(
    notes: list[PlannedNote],
    config: Config,
    *,
    notetype_mod: int,
    out_dir: Path | None,
    store: Path | None,
    held: list[RowStore],
) -> list[Package]:
    """The packages of `notes` (see `planned_packages`); the row store, once filled,
    goes in `held`."""
    packages = []
    files = list(package_files(config, notes))
    largest = max((len(group) for _, group, _ in files), default=0)
    rows: RowStore | None = None
    for name, group, level in files:
        stamp = _stamp(group, notetype_mod)
        if out_dir is not None and _stamped(out_dir / name, stamp):
            packages.append(Package(name, None, len(group)))
            continue
        if rows is None:
            rows, constants = _filled_store(store, notes)
            held.append(rows)
        # The largest package's ids are worked out here, the others' by their
        # writers: in its writer, that Python work would wait for the GIL behind
        # the lockfile's, which is made meanwhile.
        ids = partial(rows.package_ids, level)
        if len(group) == largest:
            ids = partial(list, ids())
        write = partial(
            _write_from_store,
            rows,
            ids,
            deck_names=sorted({note.deck for note in group}),
            notetype_mod=notetype_mod,
            stamp=stamp,
            constants=constants,
        )
        packages.append(Package(name, write, len(group)))
    return packages


def _filled_store(store: Path | None, notes: Sequence[PlannedNote]) -> tuple[RowStore, _Constants]:
    """The row store at `store`, holding `notes`; a scratch one when that store cannot
    be written (a full or read-only cache directory costs time, never the build)."""
    if store is not None:
        try:
            return _fill(RowStore(store, _store_key()), notes)
        except sqlite3.Error:
            pass
    return _fill(RowStore(None, _store_key()), notes)


def _fill(rows: RowStore, notes: Sequence[PlannedNote]) -> tuple[RowStore, _Constants]:
    """`rows` made to hold `notes`, with the writer's constants; closed on failure."""
    try:
        constants = _constants(rows)
        rows.sync(notes, _row_maker(constants))
    except BaseException:
        rows.close()
        raise
    return rows, constants


def stage_packages(
    staged: Staged,
    out_dir: Path,
    packages: Sequence[Package],
    meanwhile: Callable[[], None] | None = None,
) -> None:
    """Write the packages that have a writer into `staged`, two at a time (a package
    spends most of its time in SQLite and zlib, which let another thread run), the
    largest first; `meanwhile` runs in this thread while they are written."""
    from concurrent.futures import ThreadPoolExecutor

    todo = []
    for package in sorted(packages, key=lambda p: -p.notes):
        if package.write is not None:
            todo.append((out_dir / package.name, package.write))
    with ThreadPoolExecutor(max_workers=_WRITERS) as pool:
        futures = [pool.submit(staged.add_written, path, write) for path, write in todo]
        try:
            if meanwhile is not None:
                meanwhile()
        finally:
            for future in futures:
                future.result()


#: Packages written at once.
_WRITERS = 2

"""What the speed work must not change: parallel parsing gives what serial parsing
gives, the writer (through the row store) writes the rows genanki writes, a package is skipped
only when it is already what the build would write, and `--help` stays light."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import genanki
import pytest
from click.testing import Result

import storydeck.notes
from conftest import EPOCH, REPO, SEEDS
from storydeck.build import analyse, open_project
from storydeck.cache import ParseCache
from storydeck.carry import hollow
from storydeck.config import default_config
from storydeck.notes import EarlyParser, display_path, read_notes
from storydeck.package import (
    PlannedNote,
    deck_id,
    genanki_model,
    package_bytes,
    package_files,
    plan_notes,
    planned_packages,
)
from storydeck.parse.blocks import markdown
from storydeck.templates import note_types
from test_roundtrip import outage, refactor

#: Every test here keeps its cache in a directory of its own.
pytestmark = pytest.mark.usefixtures("cache_home")


def _bank(root: Path) -> Path:
    """The shipped notes and, when present, the seed notes (messy, several stories
    per file, warnings and errors), copied twice over into `root`."""
    notes = root / "bank"
    for copy in ("a", "b"):
        shutil.copytree(REPO / "source_notes", notes / copy)
        (notes / copy / "storydeck.lock").unlink(missing_ok=True)
        if SEEDS.is_dir():
            shutil.copytree(SEEDS, notes / copy / "seeds")
    return notes


def test_parallel_parsing_gives_what_serial_parsing_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = _bank(tmp_path)
    config = default_config()
    serial = read_notes([notes], config, jobs=1)
    monkeypatch.setattr(storydeck.notes, "PARALLEL_MIN", 1)
    monkeypatch.setattr(storydeck.notes, "_CHUNK", 3)
    spread = read_notes([notes], config, jobs=2)
    assert len(serial.files) > 6  # more than one chunk per worker
    assert spread == serial
    # and through the cache: what workers sent back is what a later build reads
    cache = ParseCache.for_notes(notes, config)
    assert read_notes([notes], config, cache=cache, jobs=2) == serial
    cache.save()
    cache = ParseCache.for_notes(notes, config)
    assert read_notes([notes], config, cache=cache, jobs=2) == serial
    assert cache.misses == 0


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_build_reads_stories_hollow_and_all_else_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    """What a build reads (`hollow`): each story as carried ones are, the same cards,
    answers and diagnostics; and the cache of such reads holds no more."""
    notes = _bank(tmp_path)
    config = default_config()
    monkeypatch.setattr(storydeck.notes, "PARALLEL_MIN", 1)
    full = read_notes([notes], config, jobs=jobs)
    cache = ParseCache.for_notes(notes, config, hollow=True)
    hollowed = read_notes([notes], config, cache=cache, jobs=jobs, hollow=True)
    assert hollowed.stories == tuple(map(hollow, full.stories))
    assert any(story.situation for story in full.stories)
    assert dataclasses.replace(hollowed, stories=full.stories) == full
    cache.save()
    again = ParseCache.for_notes(notes, config, hollow=True)
    assert read_notes([notes], config, cache=again, hollow=True) == hollowed
    assert again.misses == 0
    # a cache of full reads is another cache
    assert ParseCache.for_notes(notes, config).entries == 0


@pytest.mark.parametrize("count", [0, 1, 5, 63, 64, 100, 1000, 10_000])
def test_notes_are_handed_out_in_order_in_chunks_that_shrink(count: int) -> None:
    from storydeck.notes import _CHUNK, _chunks

    chunks = _chunks(list(range(count)), 2)
    assert [note for chunk in chunks for note in chunk] == list(range(count))
    sizes = [len(chunk) for chunk in chunks]
    assert all(0 < size <= _CHUNK for size in sizes)
    assert sizes == sorted(sizes, reverse=True)
    if count >= 8 * _CHUNK:  # a large bank ends with small chunks: no worker waits long
        assert sizes[0] == _CHUNK
        assert max(sizes[-4:]) <= _CHUNK // 8
    if count <= 8:  # a few notes are spread one by one
        assert sizes == [1] * count


def _spy_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[str]]:
    """The pids of the processes that parse each note from now on (workers forked
    later parse through the same spy), as a function that reads them back."""
    pids = tmp_path / "pids"
    real = storydeck.notes._parse

    def spy(text: str, shown: str, setting: Any) -> Any:
        with pids.open("a", encoding="ascii") as out:
            out.write(f"{os.getpid()}\n")
        return real(text, shown, setting)

    monkeypatch.setattr(storydeck.notes, "_parse", spy)

    def read() -> list[str]:
        found = pids.read_text(encoding="ascii").split()
        pids.unlink()
        return found

    return read


def _cached_bank(tmp_path: Path) -> Path:
    """The bank of `_bank`, parsed once into its parse cache."""
    notes = _bank(tmp_path)
    cache = ParseCache.for_notes(notes, default_config())
    read_notes([notes], default_config(), cache=cache, jobs=2)
    cache.save()
    return notes


def _append(paths: list[Path], line: str) -> None:
    for path in paths:
        path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", "utf-8")


def test_a_changed_note_is_parsed_by_a_worker_while_the_cache_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes, config = _cached_bank(tmp_path), default_config()
    _append([next(notes.rglob("*.md"))], "One more line.")
    parsed_in = _spy_parsing(tmp_path, monkeypatch)
    monkeypatch.setattr(storydeck.notes, "OVERLAP_MIN", 2)
    cache = ParseCache.for_notes(notes, config)
    overlapped = read_notes([notes], config, cache=cache, jobs=2)
    assert (cache.hits, cache.misses) == (len(overlapped.files) - 1, 1)
    workers = parsed_in()
    assert workers != [str(os.getpid())]  # in a worker
    assert len(workers) == 1
    assert overlapped == read_notes([notes], config, jobs=1)


def test_an_early_parser_parses_the_changed_notes_in_its_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes, config = _cached_bank(tmp_path), default_config()
    changed = sorted(notes.rglob("*.md"))[:2]
    _append(changed, "One more line.")
    parsed_in = _spy_parsing(tmp_path, monkeypatch)
    early = EarlyParser.start(config, display_path(notes))  # forked after the spy is in
    assert early is not None  # Linux
    cache = ParseCache.for_notes(notes, config)
    found = read_notes([notes], config, cache=cache, early=early)
    early.close()
    assert (cache.hits, cache.misses) == (len(found.files) - 2, 2)
    workers = parsed_in()
    assert len(workers) == 2
    assert str(os.getpid()) not in workers
    assert found == read_notes([notes], config, jobs=1)
    parsed_in()  # (the serial read's)
    # An early parser started for another notes directory is not used.
    _append(changed, "And another.")
    other = EarlyParser.start(config, "elsewhere")
    assert other is not None
    cache = ParseCache.for_notes(notes, config)
    found = read_notes([notes], config, cache=cache, early=other)
    other.close()
    assert parsed_in() == [str(os.getpid())] * 2
    assert found == read_notes([notes], config, jobs=1)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.mark.usefixtures("fixed_time")
def test_parallel_and_serial_builds_are_byte_identical(
    tmp_path: Path,
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    cache_home: Path,
) -> None:
    notes, decks = tmp_path / "notes", tmp_path / "decks"
    notes.mkdir()
    outage().write(notes)
    refactor().write(notes)
    shutil.copytree(REPO / "source_notes", notes / "shipped")
    (notes / "shipped" / "storydeck.lock").unlink()
    assert cli("build", notes, "-o", decks).exit_code == 0
    serial = _tree(notes), _tree(decks)
    for path in (decks, cache_home):
        shutil.rmtree(path)
    (notes / "storydeck.lock").unlink()
    monkeypatch.setattr(storydeck.notes, "PARALLEL_MIN", 1)
    monkeypatch.setattr(storydeck.notes, "_CHUNK", 2)
    assert cli("build", notes, "-o", decks).exit_code == 0
    assert (_tree(notes), _tree(decks)) == serial


# --- the package writer -------------------------------------------------------------------


class _StampedNote(genanki.Note):  # type: ignore[misc]
    """genanki's own note, stamped with its mod time (what storydeck packages carry)."""

    def __init__(self, *, mod: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mod = mod

    def write_to_db(self, cursor: Any, timestamp: float, deck_id: int, id_gen: Any) -> None:
        del timestamp
        id_gen.at_least(self.mod * 1000)
        super().write_to_db(cursor, self.mod, deck_id, id_gen)


class _Ids:
    def __init__(self) -> None:
        self.last = 0

    def at_least(self, value: int) -> None:
        self.last = max(self.last, value - 1)

    def __next__(self) -> int:
        self.last += 1
        return self.last


def _genanki_database(notes: list[PlannedNote], notetype_mod: int) -> bytes:
    """The collection genanki itself writes for `notes`, one `execute` per row."""
    from genanki.apkg_col import APKG_COL
    from genanki.apkg_schema import APKG_SCHEMA

    models = {}
    for note_type in note_types():
        models[note_type.cloze] = genanki_model(note_type)
    decks: dict[str, genanki.Deck] = {}
    for position, note in enumerate(notes):
        if note.deck not in decks:
            decks[note.deck] = genanki.Deck(deck_id(note.deck), note.deck)
            decks[note.deck].add_model(models[False])
            decks[note.deck].add_model(models[True])
        decks[note.deck].add_note(
            _StampedNote(
                mod=note.mod,
                model=models[note.cloze],
                fields=list(note.fields),
                tags=list(note.tags),
                guid=note.guid,
                due=position,
            )
        )
    connection = sqlite3.connect(":memory:")
    cursor = connection.cursor()
    cursor.executescript(APKG_SCHEMA)
    cursor.executescript(APKG_COL)
    ids = _Ids()
    for name in sorted(decks):
        decks[name].write_to_db(cursor, notetype_mod, ids)
    connection.commit()
    return connection.serialize()


def _rows(database: bytes) -> dict[str, Any]:
    db = sqlite3.connect(":memory:")
    db.deserialize(database)
    row = db.execute("SELECT models, decks, dconf, conf FROM col").fetchone()
    return {
        "notes": db.execute("SELECT * FROM notes ORDER BY id").fetchall(),
        "cards": db.execute("SELECT * FROM cards ORDER BY id").fetchall(),
        # genanki writes the note types once per deck into one JSON object: the last wins
        "col": [json.loads(value) for value in row],
    }


def test_plain_lines_are_not_handed_to_the_inline_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    md = markdown(False)
    handed: list[str] = []
    parse = md.inline.parse

    def spy(src: str, *args: Any) -> Any:
        handed.append(src)
        return parse(src, *args)

    monkeypatch.setattr(md.inline, "parse", spy)
    tokens = md.parse(
        "## Result\n\nCut p99 latency from 800 ms to 120 ms (85%), in 3 weeks.\n\n"
        "- Paged the on-call; rolled back.\n- **Wrote** the fix.\n- **Wrote** the *test*.\n"
    )
    # A plain line after a bold phrase is made without the parser, as plain lines are.
    assert handed == ["**Wrote** the *test*."]
    plain = [t.children for t in tokens if t.type == "inline"][:3]
    assert [[(c.type, c.content) for c in kids or []] for kids in plain] == [
        [("text", "Result")],
        [("text", "Cut p99 latency from 800 ms to 120 ms (85%), in 3 weeks.")],
        [("text", "Paged the on-call; rolled back.")],
    ]


@pytest.mark.parametrize("allow_html", [False, True])
def test_a_line_is_offered_only_to_the_block_rules_it_can_start(
    monkeypatch: pytest.MonkeyPatch, allow_html: bool
) -> None:
    md = markdown(allow_html)
    tried: list[tuple[str, int]] = []
    dispatch = vars(md.block)["tokenize"].__func__  # set up (its probes passed)
    for name, table in (("first", dispatch.first), ("other", dispatch.other)):
        spied = tuple(_spy(rule, tried) for rule in table)
        monkeypatch.setattr(dispatch, name, spied)
    monkeypatch.setattr(
        dispatch,
        "by_lead",
        {
            lead: tuple(_spy(rule, tried) for rule in rules)
            for lead, rules in dispatch.by_lead.items()
        },
    )
    md.parse("\nPlain words.\n\n# Heading\n")
    by_line: dict[int, list[str]] = {}
    for name, line in tried:
        by_line.setdefault(line, []).append(name)
    assert by_line == {
        1: ["table", "code", "lheading", "paragraph"],
        3: ["table", "code", "heading"],
    }


def _spy(rule: Any, tried: list[tuple[str, int]]) -> Any:
    def spy(state: Any, line: int, end: int, silent: bool) -> Any:
        tried.append((rule.__name__, line))
        return rule(state, line, end, silent)

    return spy


@pytest.mark.usefixtures("fixed_time")
def test_the_writer_writes_the_rows_genanki_writes(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    shutil.copytree(REPO / "source_notes", notes)
    analysis = analyse(open_project([notes]))
    planned = plan_notes(analysis.identified, analysis.project.config)
    assert len(planned) > 100
    for group in (planned, planned[:7], planned[-3:]):
        ours = zipfile.ZipFile(io.BytesIO(package_bytes(group, EPOCH))).read("collection.anki2")
        theirs = _genanki_database(group, EPOCH)
        assert _rows(ours) == _rows(theirs)
    # A build's packages: each level's notes, taken out of one store of all of them.
    groups = {name: group for name, group, _ in package_files(analysis.project.config, planned)}
    with planned_packages(analysis.identified, analysis.project.config, EPOCH) as packages:
        assert len(packages) == len(groups) >= 3
        for name, write, _ in packages:
            assert write is not None
            buffer = io.BytesIO()
            write(buffer)
            ours = zipfile.ZipFile(buffer).read("collection.anki2")
            assert _rows(ours) == _rows(_genanki_database(groups[name], EPOCH)), name


def test_a_first_build_loads_genanki_while_it_parses(
    tmp_path: Path, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new row store has no writer constants: they are worked out in a thread of their
    own, started before the notes are read; a store that has them is not asked again."""
    import threading

    import storydeck.package

    asked: list[str] = []
    of_genanki = storydeck.package._Constants.of_genanki

    def spy() -> Any:
        asked.append(threading.current_thread().name)
        return of_genanki()

    monkeypatch.setattr(storydeck.package._Constants, "of_genanki", spy)
    notes, decks = tmp_path / "notes", tmp_path / "decks"
    notes.mkdir()
    outage().write(notes)
    assert cli("build", notes, "-o", decks).exit_code == 0
    assert asked == ["storydeck-constants"]
    assert storydeck.package._EARLY_CONSTANTS == []  # taken by the build
    refactor().write(notes)
    assert cli("build", notes, "-o", decks).exit_code == 0
    assert asked == ["storydeck-constants"]


# --- skipping packages that are already built ---------------------------------------------


def test_an_unchanged_package_is_not_rendered_again(
    tmp_path: Path, cli: Callable[..., Result], fixed_time: Callable[[int], None]
) -> None:
    notes, decks = tmp_path / "notes", tmp_path / "decks"
    notes.mkdir()
    outage().write(notes)
    refactor().write(notes)
    assert cli("build", notes, "-o", decks).exit_code == 0
    first = _tree(decks)

    again = json.loads(cli("build", notes, "-o", decks, "--json").stdout)
    assert [f["written"] for f in again["files"]] == [False, False, False]

    # a damaged package is rebuilt, to the same bytes
    damaged = decks / "storydeck-L4.apkg"
    damaged.write_bytes(damaged.read_bytes()[:-30])
    rebuilt = json.loads(cli("build", notes, "-o", decks, "--json").stdout)
    assert [Path(f["path"]).name for f in rebuilt["files"] if f["written"]] == [damaged.name]
    assert _tree(decks) == first

    # an edit rewrites its level's package and the combined one, not the others
    story = outage()
    story.results[0] = "Order flow recovered within 25 minutes."
    story.write(notes)
    fixed_time(EPOCH + 60)
    edited = json.loads(cli("build", notes, "-o", decks, "--json").stdout)
    written = sorted(Path(f["path"]).name for f in edited["files"] if f["written"])
    assert written == ["storydeck-L5.apkg", "storydeck-all.apkg"]
    assert (decks / "storydeck-L4.apkg").read_bytes() == first["storydeck-L4.apkg"]


@pytest.mark.usefixtures("fixed_time")
def test_a_package_from_elsewhere_is_not_taken_for_ours(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    notes, decks = tmp_path / "notes", tmp_path / "decks"
    notes.mkdir()
    outage().write(notes)
    assert cli("build", notes, "-o", decks).exit_code == 0
    good = (decks / "storydeck-all.apkg").read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("collection.anki2", b"not ours")
    (decks / "storydeck-all.apkg").write_bytes(buffer.getvalue())
    assert cli("build", notes, "-o", decks).exit_code == 0
    assert (decks / "storydeck-all.apkg").read_bytes() == good


# --- start-up -----------------------------------------------------------------------------


def test_help_does_not_load_the_heavy_modules() -> None:
    probe = (
        "import sys\n"
        "from storydeck.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ['genanki', 'markdown_it', 'mdit_py_plugins', 'yaml', 'sqlite3',"
        " 'storydeck.parse', 'storydeck.package']\n"
        "sys.stderr.write(repr([m for m in heavy if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert result.stderr.strip() == "[]"

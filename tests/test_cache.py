"""The parse cache: an edit re-parses only that note; a damaged cache is ignored;
results are the same with and without it; it lives outside the notes and the decks."""

from __future__ import annotations

import dataclasses
import io
import pickle
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

import storydeck.cache
import storydeck.config
import storydeck.notes
from conftest import REPO
from storydeck.cache import (
    CACHE_ENV,
    KEEP_FILES,
    LockSnapshot,
    ParseCache,
    Parsed,
    cache_dir,
    pack,
    unpack,
)
from storydeck.cards import Card
from storydeck.config import Config, config_from_text, default_config
from storydeck.identity import Lock, parse_lock, read_lock
from storydeck.model import (
    CardKind,
    Diagnostic,
    FollowUp,
    Location,
    Section,
    Severity,
    Step,
    Story,
    Text,
)
from storydeck.notes import Notes, read_notes
from test_roundtrip import outage, refactor

#: Every test here looks into a cache directory of its own.
pytestmark = pytest.mark.usefixtures("cache_home")


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The notes actually parsed (shown paths), in order."""
    seen: list[str] = []
    real = storydeck.notes._parse

    def spy(text: str, shown: str, config: Config) -> tuple[object, object]:
        seen.append(Path(shown).name)
        return real(text, shown, config)

    monkeypatch.setattr(storydeck.notes, "_parse", spy)
    return seen


def _notes(tmp_path: Path) -> Path:
    notes = tmp_path / "notes"
    notes.mkdir()
    outage().write(notes)
    refactor().write(notes)
    (notes / "third.md").write_text(
        "---\nid: third\ntitle: Third\nlevel: L4\n---\n\n## Situation\nIt was slow.\n\n"
        "## Result\n- Latency fell from 900 ms to 120 ms.\n\n## Stray\ntext\n",
        encoding="utf-8",
    )
    return notes


def _read(notes: Path, config: Config | None = None) -> tuple[Notes, ParseCache]:
    config = config or default_config()
    cache = ParseCache.for_notes(notes, config)
    return read_notes([notes], config, cache=cache), cache


def test_cache_lives_in_the_cache_directory(cache_home: Path) -> None:
    assert cache_dir() == cache_home


def test_an_edit_reparses_only_that_note(tmp_path: Path, parsed: list[str]) -> None:
    notes = _notes(tmp_path)
    first, cache = _read(notes)
    assert sorted(parsed) == ["billing-refactor.md", "queue-outage.md", "third.md"]
    assert cache.save()
    parsed.clear()

    again, cache = _read(notes)
    assert parsed == []
    assert (cache.hits, cache.misses) == (3, 0)
    assert again == first
    assert not cache.save()  # nothing changed: nothing written

    story = outage()
    story.results[0] = "Order flow recovered within 25 minutes."
    story.write(notes)
    edited, cache = _read(notes)
    assert parsed == ["queue-outage.md"]
    assert (cache.hits, cache.misses) == (2, 1)
    assert edited == read_notes([notes], default_config())  # what a cold read gives


def test_results_are_identical_with_and_without_the_cache(tmp_path: Path) -> None:
    notes = _notes(tmp_path)
    cold = read_notes([notes], default_config())
    _, cache = _read(notes)
    cache.save()
    warm, cache = _read(notes)
    assert cache.hits == 3
    assert warm == cold
    assert warm.diagnostics == cold.diagnostics
    assert [d.code for d in warm.diagnostics] == [d.code for d in cold.diagnostics]


def test_a_config_change_invalidates_the_cache(tmp_path: Path, parsed: list[str]) -> None:
    notes = _notes(tmp_path)
    _, cache = _read(notes)
    cache.save()
    parsed.clear()
    other = config_from_text("labels:\n  situation: [situation, setting]\n")
    _, cache = _read(notes, other)
    assert len(parsed) == 3
    assert cache.hits == 0


def test_a_renamed_note_is_parsed_again(tmp_path: Path, parsed: list[str]) -> None:
    """Diagnostics and sources carry the path: the same text elsewhere is a new entry."""
    notes = _notes(tmp_path)
    _, cache = _read(notes)
    cache.save()
    parsed.clear()
    (notes / "third.md").rename(notes / "fourth.md")
    result, _ = _read(notes)
    assert parsed == ["fourth.md"]
    assert any(d.location.path.endswith("fourth.md") for d in result.diagnostics)


def _split(data: bytes) -> tuple[bytes, Any]:
    """A cache file's header line and its pickled (key, entries)."""
    end = data.index(b"\n") + 1
    return data[:end], pickle.loads(data[end:])


def _cache_file(home: Path) -> Path:
    (path,) = home.glob("parse-*.pickle")
    return path


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda _: b"", id="empty"),
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda _: b"\x80\x05garbage" * 50, id="garbage"),
        pytest.param(lambda data: _split(data)[0] + b"not a pickle", id="bad-pickle"),
        pytest.param(
            lambda data: _split(data)[0] + pickle.dumps(("key", ["not", "a", "dict"])),
            id="wrong-shape",
        ),
        pytest.param(
            lambda data: _split(data)[0] + pickle.dumps(("another key", _split(data)[1][1])),
            id="other-code-or-config",
        ),
    ],
)
def test_a_damaged_cache_is_ignored(
    tmp_path: Path, cache_home: Path, parsed: list[str], damage: Callable[[bytes], bytes]
) -> None:
    notes = _notes(tmp_path)
    cold, cache = _read(notes)
    cache.save()
    path = _cache_file(cache_home)
    path.write_bytes(damage(path.read_bytes()))
    parsed.clear()
    again, cache = _read(notes)
    assert len(parsed) == 3
    assert again == cold
    assert cache.save()  # and it is replaced by a good one
    parsed.clear()
    _read(notes)
    assert parsed == []


def test_foreign_entries_are_ignored(tmp_path: Path, cache_home: Path, parsed: list[str]) -> None:
    """An entry of the right key but the wrong content is a miss, not a crash."""
    notes = _notes(tmp_path)
    _, cache = _read(notes)
    cache.save()
    path = _cache_file(cache_home)
    header, (key, entries) = _split(path.read_bytes())
    shown = sorted(entries)
    entries[shown[0]] = ("not", "a", "pair")
    entries[shown[1]] = (entries[shown[1]][0], pickle.dumps(("not stories", ())))
    entries[shown[2]] = (entries[shown[2]][0], b"\x80\x05not a pickle")
    path.write_bytes(header + pickle.dumps((key, entries)))
    parsed.clear()
    again, cache = _read(notes)
    assert len(parsed) == 3
    assert again == read_notes([notes], default_config())


def test_an_unwritable_cache_does_not_fail_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Result]
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv(CACHE_ENV, str(blocker / "cache"))
    notes = _notes(tmp_path)
    result = cli("build", notes, "-o", tmp_path / "decks")
    assert result.exit_code == 0, result.output
    assert blocker.read_text(encoding="utf-8") == ""


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.mark.usefixtures("fixed_time")
def test_builds_with_and_without_the_cache_are_byte_identical(
    tmp_path: Path, cache_home: Path, cli: Callable[..., Result]
) -> None:
    notes = _notes(tmp_path)
    assert cli("build", notes, "-o", tmp_path / "one").exit_code == 0
    lock = (notes / "storydeck.lock").read_bytes()
    assert len(list(cache_home.glob("parse-*.pickle"))) == 1
    # The second build reads everything from the cache, into a fresh directory.
    assert cli("build", notes, "-o", tmp_path / "two").exit_code == 0
    assert _tree(tmp_path / "one") == _tree(tmp_path / "two")
    assert (notes / "storydeck.lock").read_bytes() == lock


def test_nothing_is_left_in_the_notes_or_the_decks(
    tmp_path: Path, cache_home: Path, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = _notes(tmp_path)
    before = _tree(notes)
    decks = tmp_path / "decks"
    assert cli("build", notes, "-o", decks).exit_code == 0
    assert sorted(p.name for p in decks.iterdir()) == [
        "storydeck-L4.apkg",
        "storydeck-L5.apkg",
        "storydeck-all.apkg",
    ]
    after = _tree(notes)
    del after["storydeck.lock"]
    assert after == before
    parse = _cache_file(cache_home).name
    rows = parse.replace("parse-", "rows-").replace(".pickle", ".sqlite")
    lock = parse.replace("parse-", "lock-")
    carry = parse.replace("parse-", "carry-")
    assert sorted(p.name for p in cache_home.iterdir()) == [carry, lock, parse, rows]
    # A later build (a new process: defaults not parsed yet) also keeps the parsed
    # defaults there, and no other file.
    monkeypatch.setattr(storydeck.config, "_DEFAULTS", None)
    assert cli("build", notes, "-o", decks).exit_code == 0
    names = sorted(p.name for p in cache_home.iterdir())
    assert len(names) == 5
    assert names[1].startswith("defaults-")
    assert [names[0], *names[2:]] == [carry, lock, parse, rows]


def test_a_failed_build_writes_no_cache(
    tmp_path: Path, cache_home: Path, cli: Callable[..., Result]
) -> None:
    notes = _notes(tmp_path)
    (notes / "broken.md").write_text("---\ntitle: **bold**\n---\n", encoding="utf-8")
    assert cli("build", notes, "-o", tmp_path / "decks").exit_code == 1
    assert not cache_home.exists()


def test_old_cache_files_are_pruned(tmp_path: Path, cache_home: Path) -> None:
    cache_home.mkdir()
    for n in range(KEEP_FILES + 5):
        (cache_home / f"parse-old{n:03d}.pickle").write_bytes(b"x")
    notes = _notes(tmp_path)
    _, cache = _read(notes)
    assert cache.save()
    files = list(cache_home.glob("parse-*.pickle"))
    assert len(files) == KEEP_FILES
    assert cache.path in files


def test_the_defaults_are_kept_parsed(cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storydeck.config, "_DEFAULTS", None)
    fresh = default_config()
    assert not cache_home.exists()  # nothing is kept before the cache directory exists
    cache_home.mkdir()
    monkeypatch.setattr(storydeck.config, "_DEFAULTS", None)
    assert default_config() == fresh
    (kept,) = cache_home.glob("defaults-*.pickle")
    # Read back from there (a planted value shows it is used), and parsed again when
    # the file is damaged.
    planted = dict(storydeck.config._defaults()) | {"deck_root": "Planted"}
    kept.write_bytes(pickle.dumps(planted))
    monkeypatch.setattr(storydeck.config, "_DEFAULTS", None)
    assert default_config().deck_root == "Planted"
    kept.write_bytes(b"not a pickle")
    monkeypatch.setattr(storydeck.config, "_DEFAULTS", None)
    assert default_config() == fresh


# --- packed results ---------------------------------------------------------------------


def _parse_results() -> list[Parsed]:
    """What parsing gives for the parse fixtures and the shipped notes (stories with
    every part, warnings, cards of every kind with their proposed guids)."""
    config = default_config()
    paths = sorted((REPO / "tests" / "fixtures" / "parse").glob("*.md"))
    paths += sorted((REPO / "source_notes").rglob("*.md"))
    return [
        storydeck.notes._parse(
            path.read_text(encoding="utf-8"), str(path), (config, str(REPO), False)
        )
        for path in paths
    ]


def _types_in(value: object, found: set[type]) -> None:
    """Add the type of `value` and of everything in it to `found`."""
    found.add(type(value))
    if dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            _types_in(getattr(value, f.name), found)
    elif isinstance(value, dict):
        for item in value.values():
            _types_in(item, found)
    elif isinstance(value, tuple | frozenset):
        for item in value:
            _types_in(item, found)


def _uncompared(result: Parsed) -> list[tuple[str, str, str]]:
    """What equality leaves out of each card: its guid, fingerprint and proposed guid."""
    return [(c.guid, c.fingerprint, c.proposed) for cards in result[2] for c in cards]


class _PlainPickler(pickle.Pickler):
    """Records as constructor calls with their fields in order, worked out field by
    field for every dataclass it meets."""

    def reducer_override(self, obj: Any) -> Any:
        if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
            return NotImplemented
        return type(obj), tuple(getattr(obj, f.name) for f in dataclasses.fields(obj) if f.init)


def test_packed_results_come_back_as_they_were() -> None:
    results = _parse_results()
    found: set[type] = set()
    proposed = 0
    for result in results:
        _types_in(result, found)
        proposed += sum(1 for _, _, guid in _uncompared(result) if guid)
        back = unpack(pack(result))
        assert back == result
        assert back is not None
        assert _uncompared(back) == _uncompared(result)
        # Packed as plainly picking each record's fields would pack it: the bytes of
        # cache files written before are read the same way.
        plain = io.BytesIO()
        _PlainPickler(plain, protocol=pickle.HIGHEST_PROTOCOL).dump(result)
        assert zlib.decompress(pack(result)) == plain.getvalue()
    assert proposed > 100
    records = {Story, Text, Location, Step, FollowUp, Diagnostic, Card}
    assert records | {Severity, Section, CardKind} <= found
    assert set(storydeck.cache._records()) == records


def test_a_record_of_one_field_is_packed_as_a_call_with_one_argument() -> None:
    reduce = storydeck.cache._reduction(Location, ("path",))
    assert reduce(Location("notes/a.md", 3)) == (Location, ("notes/a.md",))


def test_damaged_packed_results_are_not_unpacked() -> None:
    blob = pack(next(result for result in _parse_results() if result[0]))
    assert unpack(blob[:-1]) is None
    assert unpack(blob[: len(blob) // 2]) is None
    flipped = bytearray(blob)
    flipped[len(blob) // 2] ^= 0xFF
    assert unpack(bytes(flipped)) is None
    assert unpack(zlib.compress(pickle.dumps(("not", "a", "result")))) is None


# --- the lock snapshot ------------------------------------------------------------------


def _snapshot(cache_home: Path) -> Path:
    (path,) = cache_home.glob("lock-*.pickle")
    return path


def _same_lock(one: Lock, other: Lock) -> None:
    assert list(one.cards.items()) == list(other.cards.items())  # entry order too
    assert dict(one.notetypes) == dict(other.notetypes)


@pytest.fixture
def lock_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The lockfiles parsed from JSON (their paths), in order."""
    seen: list[str] = []
    import storydeck.identity

    real = storydeck.identity.parse_lock

    def spy(text: str, path: str) -> Lock:
        seen.append(path)
        return real(text, path)

    monkeypatch.setattr(storydeck.identity, "parse_lock", spy)
    return seen


def _built(tmp_path: Path, cli: Callable[..., Result]) -> Path:
    """The lockfile of the test notes after a first build into tmp_path/decks."""
    notes = _notes(tmp_path)
    assert cli("build", notes, "-o", tmp_path / "decks").exit_code == 0
    return notes / "storydeck.lock"


@pytest.mark.usefixtures("fixed_time")
def test_an_unchanged_lockfile_comes_from_its_snapshot(
    tmp_path: Path, cli: Callable[..., Result], lock_parses: list[str]
) -> None:
    lock_file = _built(tmp_path, cli)
    notes = lock_file.parent
    parsed = parse_lock(lock_file.read_text(encoding="utf-8"), str(lock_file))
    recalled = read_lock(lock_file, LockSnapshot.for_notes(notes))
    assert lock_parses == []  # parse_lock above is the module's own, not the spy
    _same_lock(recalled, parsed)
    assert len(recalled.cards) == lock_file.read_text(encoding="utf-8").count('"anchor": ') > 20
    # A rebuild takes the lock from the snapshot, and gives the same bytes.
    lock = lock_file.read_bytes()
    assert cli("build", notes, "-o", tmp_path / "again").exit_code == 0
    assert lock_parses == []
    assert lock_file.read_bytes() == lock
    assert _tree(tmp_path / "decks") == _tree(tmp_path / "again")


@pytest.mark.usefixtures("fixed_time")
def test_a_hand_edited_lockfile_is_parsed_not_recalled(
    tmp_path: Path, cli: Callable[..., Result], lock_parses: list[str]
) -> None:
    lock_file = _built(tmp_path, cli)
    notes = lock_file.parent
    text = lock_file.read_text(encoding="utf-8")
    head, cards = text.split('"cards"', 1)
    edited = head + '"cards"' + cards.replace('"changed": 1760000000', '"changed": 1760000005', 1)
    assert edited != text
    lock_file.write_text(edited, encoding="utf-8")
    lock = read_lock(lock_file, LockSnapshot.for_notes(notes))
    assert lock_parses == [str(lock_file)]
    assert sorted(e.changed for e in lock.cards.values())[-1] == 1760000005
    # Line endings changed by an editor or git: the same lock, read as text.
    lock_file.write_bytes(edited.replace("\n", "\r\n").encode("utf-8"))
    _same_lock(read_lock(lock_file, LockSnapshot.for_notes(notes)), lock)
    # A lockfile broken by hand is still reported, snapshot or not.
    lock_file.write_text(text[:-5], encoding="utf-8")
    assert cli("build", notes, "-o", tmp_path / "decks").exit_code == 1


@pytest.mark.parametrize(
    "damage",
    [
        lambda _blob: b"",
        lambda blob: blob[:40],
        lambda blob: blob[:-30],
        lambda blob: blob.replace(b"storydeck-lock-snapshot 1", b"storydeck-lock-snapshot 0"),
        lambda _blob: b"storydeck-lock-snapshot 1\n" + pickle.dumps(("x", [], [(1, 2)])),
    ],
    ids=["empty", "header-only", "truncated", "other-format", "foreign"],
)
@pytest.mark.usefixtures("fixed_time")
def test_a_damaged_snapshot_is_ignored(
    tmp_path: Path,
    cache_home: Path,
    cli: Callable[..., Result],
    lock_parses: list[str],
    damage: Callable[[bytes], bytes],
) -> None:
    lock_file = _built(tmp_path, cli)
    notes = lock_file.parent
    lock = lock_file.read_bytes()
    snapshot = _snapshot(cache_home)
    snapshot.write_bytes(damage(snapshot.read_bytes()))
    assert read_lock(lock_file, LockSnapshot.for_notes(notes)).cards
    assert lock_parses == [str(lock_file)]
    assert cli("build", notes, "-o", tmp_path / "again").exit_code == 0
    assert lock_file.read_bytes() == lock
    assert _tree(tmp_path / "decks") == _tree(tmp_path / "again")
    # The build kept a good snapshot again.
    del lock_parses[:]
    _same_lock(read_lock(lock_file, LockSnapshot.for_notes(notes)), parse_lock(lock.decode(), "x"))
    assert lock_parses == []

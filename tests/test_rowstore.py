"""The row store (rowstore.py): a build that reuses the rows of the last one writes
packages byte-identical to a build from nothing; a damaged store, or one filled by
other code, is never trusted."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from storydeck.cache import CACHE_ENV
from storydeck.rowstore import RowStore
from test_roundtrip import Note, outage, refactor

#: Every test here looks into a cache directory of its own.
pytestmark = pytest.mark.usefixtures("cache_home")


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    notes = tmp_path / "notes"
    notes.mkdir()
    outage().write(notes)
    refactor().write(notes)
    return notes


def _store(cache: Path) -> Path:
    (found,) = cache.glob("rows-*.sqlite")
    return found


def _packages(decks: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(decks.glob("*.apkg"))}


@pytest.fixture
def warm_and_cold(
    tmp_path: Path,
    notes: Path,
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[], tuple[dict[str, bytes], dict[str, bytes]]]:
    """Build `notes` twice from the same lockfile: with the store the earlier builds
    left (into decks/), then with an empty cache into a fresh directory. Returns both
    sets of packages; the lockfiles must agree too."""
    warm_cache = tmp_path / "cache"
    runs = [0]

    def build_both() -> tuple[dict[str, bytes], dict[str, bytes]]:
        runs[0] += 1
        lock = notes / "storydeck.lock"
        before = lock.read_bytes() if lock.exists() else None
        monkeypatch.setenv(CACHE_ENV, str(warm_cache))
        result = cli("build", notes, "-o", tmp_path / "decks")
        assert result.exit_code == 0, result.output
        after = lock.read_bytes()
        if before is None:
            lock.unlink()
        else:
            lock.write_bytes(before)
        monkeypatch.setenv(CACHE_ENV, str(tmp_path / f"cold-cache-{runs[0]}"))
        cold = tmp_path / f"cold-{runs[0]}"
        result = cli("build", notes, "-o", cold)
        assert result.exit_code == 0, result.output
        assert lock.read_bytes() == after
        monkeypatch.setenv(CACHE_ENV, str(warm_cache))
        return _packages(tmp_path / "decks"), _packages(cold)

    return build_both


def test_builds_reusing_rows_match_builds_from_nothing(
    notes: Path,
    warm_and_cold: Callable[[], tuple[dict[str, bytes], dict[str, bytes]]],
    fixed_time: Callable[[int], None],
) -> None:
    story: Note = outage()
    edits: list[Callable[[], object]] = [
        lambda: None,
        lambda: story.results.__setitem__(0, "Order flow recovered within 25 minutes."),
        lambda: story.steps.insert(1, "**Checked the database** — it could take more load."),
        story.results.pop,
        lambda: setattr(story, "level", "L6"),  # to another package
        (notes / "billing-refactor.md").unlink,  # its cards are carried as removed
        lambda: refactor().write(notes),  # and come back
    ]
    for step, edit in enumerate(edits):
        fixed_time(1_800_000_000 + step * 3600)
        edit()
        story.write(notes)
        warm, cold = warm_and_cold()
        assert len(warm) >= 2
        assert warm == cold, step


def test_the_store_is_used_and_a_stale_one_is_not(
    tmp_path: Path, notes: Path, cli: Callable[..., Result], fixed_time: Callable[[int], None]
) -> None:
    del fixed_time
    assert cli("build", notes, "-o", tmp_path / "decks").exit_code == 0
    store = _store(tmp_path / "cache")
    with sqlite3.connect(store) as db:
        db.execute("UPDATE texts SET flds = 'planted' || flds")
    db.close()

    def rebuild() -> bytes:
        shutil.rmtree(tmp_path / "decks")  # so that every package is written again
        assert cli("build", notes, "-o", tmp_path / "decks").exit_code == 0
        return (tmp_path / "decks" / "storydeck-all.apkg").read_bytes()

    # Rows whose stamp matches are taken as they are: this build did not make them again.
    # (The planted text shows in the package, compressed: look for it uncompressed.)
    import io
    import zipfile

    def collection(package: bytes) -> bytes:
        return zipfile.ZipFile(io.BytesIO(package)).read("collection.anki2")

    assert b"planted" in collection(rebuild())
    # A store made by other code (another key) is emptied and filled again.
    with sqlite3.connect(store) as db:
        db.execute("UPDATE meta SET value = 'other code' WHERE name = 'key'")
    db.close()
    assert b"planted" not in collection(rebuild())


@pytest.mark.parametrize("damage", [b"", b"not a database at all" * 100])
def test_a_damaged_store_is_replaced(
    tmp_path: Path,
    notes: Path,
    cli: Callable[..., Result],
    fixed_time: Callable[[int], None],
    damage: bytes,
) -> None:
    del fixed_time
    assert cli("build", notes, "-o", tmp_path / "one").exit_code == 0
    _store(tmp_path / "cache").write_bytes(damage)
    assert cli("build", notes, "-o", tmp_path / "two").exit_code == 0
    assert _packages(tmp_path / "one") == _packages(tmp_path / "two")
    with sqlite3.connect(_store(tmp_path / "cache")) as db:
        assert db.execute("SELECT count(*) FROM notes").fetchone()[0] > 20
    db.close()


def test_a_store_that_cannot_be_written_costs_time_not_the_build(
    tmp_path: Path,
    notes: Path,
    cli: Callable[..., Result],
    fixed_time: Callable[[int], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    del fixed_time
    assert cli("build", notes, "-o", tmp_path / "one").exit_code == 0
    real = RowStore.sync
    failed: list[Path] = []

    def sync(self: RowStore, *args: Any, **kwargs: Any) -> int:
        if self.path == _store(tmp_path / "cache"):  # the notes' own store: a full disk
            failed.append(self.path)
            raise sqlite3.OperationalError("database or disk is full")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(RowStore, "sync", sync)
    assert cli("build", notes, "-o", tmp_path / "two").exit_code == 0
    assert failed
    assert _packages(tmp_path / "one") == _packages(tmp_path / "two")

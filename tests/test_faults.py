"""Faults: a build killed at any moment, files opened read-only, notes never touched."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import Result

from test_roundtrip import outage, refactor

STORYDECK = [sys.executable, "-m", "storydeck"]


def _bank(notes: Path, count: int) -> None:
    notes.mkdir(parents=True)
    for n in range(count):
        story = outage() if n % 2 else refactor()
        replace(story, id=f"{story.id}-{n}", title=f"{story.title} #{n}").write(notes)


def _files(*roots: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root.parent)): p.read_bytes()
        for root in roots
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _run(notes: Path, decks: Path, epoch: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(epoch))
    return subprocess.Popen(
        [*STORYDECK, "build", str(notes), "-o", str(decks), "-q"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_killing_the_build_at_random_moments_never_breaks_decks_or_lock(tmp_path: Path) -> None:
    notes, decks = tmp_path / "notes", tmp_path / "decks"
    _bank(notes, 120)
    assert _run(notes, decks, 1_760_000_000).wait() == 0
    before = _files(notes, decks)
    for path in sorted(notes.glob("*.md"))[::3]:  # edit a third of the stories
        path.write_text(path.read_text(encoding="utf-8").replace("30%", "35%"), encoding="utf-8")
    edited_notes = dict(_files(notes))
    # what a build that is never interrupted produces
    side = tmp_path / "side"
    shutil.copytree(notes, side / "notes")
    started = time.perf_counter()
    assert _run(side / "notes", side / "decks", 1_760_100_000).wait() == 0
    duration = time.perf_counter() - started
    after = _files(side / "notes", side / "decks")

    rng = random.Random(7)
    kills = 0
    # Kills land at random moments of a build as long as builds take: a build that
    # finished first (once one has finished, the next have little left to do) makes
    # the next wait shorter.
    window = duration
    for _ in range(25):
        started = time.perf_counter()
        process = _run(notes, decks, 1_760_100_000)
        time.sleep(rng.uniform(0.02, window))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        else:
            window = max(0.05, min(window, time.perf_counter() - started) * 0.7)
        process.wait()
        for name, data in _files(notes, decks).items():
            if name.endswith(".tmp"):
                continue  # a temporary file of the killed build: cleaned up by the next one
            if name.startswith("notes/") and name.endswith(".md"):
                assert data == edited_notes[name], name
                continue
            assert data in (before.get(name), after.get(name)), name
    assert kills >= 10  # most runs were really cut short
    final = _run(notes, decks, 1_760_100_000)
    assert final.wait() == 0, final.stderr.read() if final.stderr else ""
    assert _files(notes, decks) == after


# --- read-only ------------------------------------------------------------------------


_OPENS: list[tuple[str, object, int]] | None = None


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _OPENS is not None and event == "open" and isinstance(args[0], str | bytes | os.PathLike):
        path, mode, flags = args[0], args[1], args[2]
        _OPENS.append((os.fsdecode(path), mode, int(flags) if isinstance(flags, int) else 0))


sys.addaudithook(_audit)


@contextmanager
def _recording() -> Iterator[list[tuple[str, object, int]]]:
    global _OPENS  # noqa: PLW0603 - the audit hook is process-wide
    _OPENS = []
    try:
        yield _OPENS
    finally:
        _OPENS = None


def _writes(mode: object, flags: int) -> bool:
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND))


@pytest.mark.usefixtures("fixed_time")
def test_every_note_is_opened_read_only(tmp_path: Path, cli: Callable[..., Result]) -> None:
    notes = tmp_path / "notes"
    _bank(notes, 4)
    (notes / "storydeck.yaml").write_text("deck_root: Prep\n", encoding="utf-8")
    with _recording() as opens:
        assert cli("build", notes, "-o", tmp_path / "decks").exit_code == 0
    inside = [(p, m, f) for p, m, f in opens if Path(p).resolve().is_relative_to(notes.resolve())]
    read = {Path(p).name for p, m, f in inside if not _writes(m, f)}
    assert {f"queue-outage-{n}.md" for n in (1, 3)} <= read
    assert "storydeck.yaml" in read
    written = {Path(p).name for p, m, f in inside if _writes(m, f)}
    # the only file the build writes beside the notes is its lockfile (through a temp file)
    assert all(name.startswith(".storydeck.lock.") for name in written), written


@pytest.mark.usefixtures("fixed_time")
def test_the_notes_directory_is_untouched_by_every_command_but_new(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    notes, decks = tmp_path / "notes", tmp_path / "decks"
    _bank(notes, 3)
    (notes / "storydeck.yaml").write_text("deck_root: Prep\n", encoding="utf-8")
    assert cli("build", notes, "-o", decks).exit_code == 0  # creates the lockfile
    before = _files(notes)
    stamps = {p: p.stat().st_mtime_ns for p in notes.rglob("*")}
    commands = [
        ("build", notes, "-o", decks),
        ("lint", notes),
        ("stats", notes),
        ("dump", notes, "--json"),
        ("preview", notes, "-o", tmp_path / "preview.html"),
        ("config", notes),
        ("forget-removed", notes),
        ("forget-moved", notes),
    ]
    for command in commands:
        result = cli(*command)
        assert result.exit_code == 0, (command, result.output)
        assert _files(notes) == before, command
        assert {p: p.stat().st_mtime_ns for p in notes.rglob("*")} == stamps, command
    assert cli("new", "Another story", "--level", "L4", "--dir", notes).exit_code == 0
    assert set(_files(notes)) - set(before) == {"notes/another-story.md"}

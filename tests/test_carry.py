"""Carrying unchanged notes over from the last build (carry.py): a build that carries
them writes exactly what a build that makes and matches every card again writes, edit
after edit; and when what it carried does not hold, it builds again without it."""

from __future__ import annotations

import json
import pickle
import random
import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from storydeck.build import BuildReport, build, open_project
from storydeck.cache import cache_file
from storydeck.carry import CarryFile
from storydeck.identity import lock_file_digest
from test_roundtrip import Note, outage, refactor

EPOCH = 1_760_000_000


def _bank() -> list[Note]:
    """Four stories; two answer the same question (one prompt card for both)."""
    shared = "Tell me about a time you handled a critical production issue."
    third = replace(
        outage(),
        id="cache-stampede",
        title="A cache stampede after a deploy",
        level="L5",
        situation="A deploy flushed the cache and the database took 40x its usual load.",
        steps=[
            "**Shed load** — turned on request coalescing for the hottest keys.",
            "**Warmed the cache** — replayed the top 10,000 keys from the access log.",
        ],
        results=["p99 latency fell from 4 s to 180 ms within 15 minutes."],
        lessons=["A cold cache is a capacity event, plan it like one."],
        followups=[("What did you change afterwards?", "Deploys now warm the cache first.")],
        questions=[shared],
    )
    fourth = replace(
        refactor(),
        id="flaky-tests",
        title="Taming a flaky test suite",
        level="L4",
        situation="One build in three failed for reasons unrelated to the change.",
        steps=["**Quarantined the worst offenders** — moved 40 tests to a nightly job."],
        results=["Red builds fell from 33% to 4%."],
        lessons=["A flaky test costs trust before it costs time."],
        followups=[],
    )
    return [outage(), refactor(), third, fourth]


def _edits() -> Iterator[tuple[str, Callable[[Path], None]]]:
    """What a user does between builds, one change at a time, in the notes directory."""

    def edit(name: str, old: str, new: str) -> Callable[[Path], None]:
        def apply(notes: Path) -> None:
            path = notes / name
            text = path.read_text(encoding="utf-8")
            assert old in text, (name, old)
            path.write_text(text.replace(old, new, 1), encoding="utf-8")

        return apply

    def nothing(notes: Path) -> None:
        del notes

    yield "nothing", nothing
    yield "reword a step", edit("queue-outage.md", "small batches", "batches of 500")
    yield "reword a result", edit("billing-refactor.md", "fell by 70%", "fell by 75%")
    late = replace(_bank()[2], id="late-page", title="Paged at 3 am", level="L6")
    yield "add a story", late.write
    yield "re-level a story", edit("flaky-tests.md", "level: L4", "level: L5")
    yield "rename a story", edit("cache-stampede.md", "id: cache-stampede", "id: cold-cache")
    yield (
        "share a question",
        edit(
            "billing-refactor.md",
            "  - Tell me about a significant refactoring you led.",
            "  - Tell me about a significant refactoring you led.\n"
            "  - Tell me about a time you handled a critical production issue.",
        ),
    )
    yield "delete a lesson", edit("queue-outage.md", "- Alert on the slope", "Alert on the slope")
    yield "delete a story", lambda notes: (notes / "late-page.md").unlink()
    yield "touch nothing again", nothing


#: A note with a warning (a section no story takes): carried over, it is still said.
_STRAY = (
    "---\nid: stray\ntitle: Stray\nlevel: L4\n---\n\n## Situation\nIt was slow.\n\n"
    "## Result\n- Latency fell from 900 ms to 120 ms.\n\n## Stray\ntext\n"
)


def _build(notes: Path, out: Path) -> BuildReport:
    return build(open_project([notes]), out, now=EPOCH)


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def _summary(report: BuildReport) -> dict[str, Any]:
    identified = report.analysis.identified
    root = str(report.analysis.project.root)
    return {
        "stories": [s.id for s in report.analysis.notes.stories],
        "diagnostics": [str(d).replace(root, "NOTES") for d in report.diagnostics],
        "kinds": dict(sorted(report.kinds.items())),
        "counts": [identified.new, identified.updated, identified.unchanged],
        "removed": [g for g, _ in identified.removed],
        "moved": [(m.story, m.old_deck, m.new_deck, m.count) for m in identified.moved],
        "renamed": dict(identified.renamed),
        "files": [(p.name, n, w) for p, n, w in report.files],
        "lock_written": report.lock_written,
    }


def _carried(report: BuildReport) -> list[str]:
    return [anchor for _, anchor, _ in report.analysis.identified.carried.stories]


def test_carrying_over_writes_what_a_full_build_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two copies of one bank take the same edits: one is built with its caches kept
    (notes carried over), the other with none (every card made and matched again)."""
    kept_cache, no_cache = tmp_path / "cache", tmp_path / "nocache"
    carried_dir, full_dir = tmp_path / "carried", tmp_path / "full"
    for notes in (carried_dir, full_dir):
        notes.mkdir()
        for note in _bank():
            note.write(notes)
        (notes / "stray.md").write_text(_STRAY, encoding="utf-8")
    carried_ever = 0
    for step, (what, apply) in enumerate(_edits()):
        apply(carried_dir)
        apply(full_dir)
        monkeypatch.setenv("STORYDECK_CACHE_DIR", str(kept_cache))
        report = _build(carried_dir, tmp_path / "decks-carried")
        shutil.rmtree(no_cache, ignore_errors=True)
        monkeypatch.setenv("STORYDECK_CACHE_DIR", str(no_cache))
        full = _build(full_dir, tmp_path / "decks-full")
        assert not _carried(full)
        assert _summary(report) == _summary(full), what
        assert any("stray.md" in d for d in _summary(report)["diagnostics"]), what
        assert _files(tmp_path / "decks-carried") == _files(tmp_path / "decks-full"), what
        lock = (carried_dir / "storydeck.lock").read_bytes()
        assert lock == (full_dir / "storydeck.lock").read_bytes(), what
        if step:  # every build after the first carries the notes it did not change
            changed = {"reword a step": "queue-outage", "reword a result": "billing-refactor"}
            assert changed.get(what, "") not in _carried(report), what
            assert _carried(report), what
            carried_ever += len(_carried(report))
    assert carried_ever >= 20


def _carry_bank(tmp_path: Path) -> tuple[Path, Path]:
    notes = tmp_path / "notes"
    notes.mkdir()
    for note in _bank():
        note.write(notes)
    return notes, tmp_path / "decks"


def _reference(tmp_path: Path, notes: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """The decks a build with no caches at all makes of a copy of `notes`."""
    copy = tmp_path / "reference"
    shutil.copytree(notes, copy)
    monkeypatch.setenv("STORYDECK_CACHE_DIR", str(tmp_path / "reference-cache"))
    _build(copy, tmp_path / "reference-decks")
    return _files(tmp_path / "reference-decks")


@pytest.mark.usefixtures("cache_home")
def test_a_lost_row_store_makes_the_build_start_again_without_carrying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes, decks = _carry_bank(tmp_path)
    _build(notes, decks)
    rows = cache_file(notes, "rows", ".sqlite")
    assert rows is not None
    assert rows.exists()
    rows.unlink()
    # A changed note forces the packages to be made again from the row store.
    path = notes / "queue-outage.md"
    path.write_text(path.read_text().replace("small batches", "tiny batches"), encoding="utf-8")
    report = _build(notes, decks)
    assert not _carried(report)  # the carried notes had no rows: built again in full
    assert report.analysis.identified.updated == 1
    cache = str(tmp_path / "cache")
    expected = _reference(tmp_path, notes, monkeypatch)
    monkeypatch.setenv("STORYDECK_CACHE_DIR", cache)
    assert _files(decks) == expected
    # The next build carries again.
    assert len(_carried(_build(notes, decks))) == 4


@pytest.mark.usefixtures("cache_home")
def test_a_hand_edited_lockfile_carries_nothing(tmp_path: Path) -> None:
    notes, decks = _carry_bank(tmp_path)
    _build(notes, decks)
    assert len(_carried(_build(notes, decks))) == 4
    lock = notes / "storydeck.lock"
    data = json.loads(lock.read_text(encoding="utf-8"))
    guid = sorted(data["cards"])[0]
    data["cards"][guid]["changed"] += 5
    lock.write_text(json.dumps(data, indent=1), encoding="utf-8")
    report = _build(notes, decks)
    assert not _carried(report)
    assert report.analysis.identified.mods[guid] == data["cards"][guid]["changed"]


@pytest.mark.usefixtures("cache_home")
def test_a_damaged_or_foreign_carry_file_is_ignored(tmp_path: Path) -> None:
    notes, decks = _carry_bank(tmp_path)
    _build(notes, decks)
    before = _files(decks), (notes / "storydeck.lock").read_bytes()
    path = cache_file(notes, "carry", ".pickle")
    assert path is not None
    good = path.read_bytes()
    header = good[: good.index(b"\n") + 1]
    for damage in (header + b"\x80\x05garbage", good[: len(good) // 2], b"not ours", b""):
        path.write_bytes(damage)
        report = _build(notes, decks)
        assert not _carried(report)
        assert (_files(decks), (notes / "storydeck.lock").read_bytes()) == before
    # A file kept under another key (other code or configuration) carries nothing.
    _build(notes, decks)
    other = CarryFile(path, "another key")
    lock = lock_file_digest(notes / "storydeck.lock")
    kept_key, kept_lock = pickle.loads(path.read_bytes()[len(header) :])
    assert lock == kept_lock
    assert CarryFile(path, kept_key).usable(lock)
    assert CarryFile(path, kept_key).usable(None) == {}
    assert other.usable(lock) == {}
    assert CarryFile(path, CarryFile.for_notes(notes, "x").key).files == {}


@pytest.mark.usefixtures("cache_home")
def test_a_carried_entry_that_does_not_unpack_is_parsed_again(tmp_path: Path) -> None:
    notes, decks = _carry_bank(tmp_path)
    _build(notes, decks)
    before = _files(decks)
    path = cache_file(notes, "carry", ".pickle")
    assert path is not None
    with path.open("rb") as handle:
        header = handle.readline()
        head = pickle.load(handle)
        records = []
        while handle.peek(1):
            records.append(pickle.load(handle))
    (at,) = [n for n, record in enumerate(records) if record[0].endswith("queue-outage.md")]
    records[at] = (records[at][0], records[at][1], b"\x80\x05damaged")
    with path.open("wb") as handle:
        handle.write(header)
        for record in [head, *records]:
            pickle.dump(record, handle)
    report = _build(notes, decks)
    assert sorted(_carried(report)) == ["billing-refactor", "cache-stampede", "flaky-tests"]
    assert _files(decks) == before


@pytest.mark.usefixtures("cache_home")
def test_a_story_with_two_cards_of_one_text_is_not_carried(tmp_path: Path) -> None:
    notes, decks = _carry_bank(tmp_path)
    twice = replace(
        refactor(),
        id="twice",
        lessons=["Write the test first.", "Write the test first."],
    )
    twice.write(notes)
    _build(notes, decks)
    carried = _carried(_build(notes, decks))
    assert "twice" not in carried
    assert len(carried) == 4


@pytest.mark.usefixtures("cache_home")
def test_a_build_that_carried_every_note_leaves_the_carry_file_alone(tmp_path: Path) -> None:
    notes, decks = _carry_bank(tmp_path)
    _build(notes, decks)
    path = cache_file(notes, "carry", ".pickle")
    assert path is not None
    _build(notes, decks)
    kept = path.read_bytes(), path.stat().st_mtime_ns
    assert len(_carried(_build(notes, decks))) == 4
    assert (path.read_bytes(), path.stat().st_mtime_ns) == kept
    edited = notes / "flaky-tests.md"
    edited.write_text(edited.read_text().replace("40 tests", "41 tests"), encoding="utf-8")
    assert len(_carried(_build(notes, decks))) == 3
    assert path.read_bytes() != kept[0]


def _sync(model: list[Note], notes: Path) -> None:
    """`notes` made to hold exactly the notes of `model` (unchanged files untouched)."""
    wanted = {f"{note.id}.md": note.text() for note in model}
    for path in notes.glob("*.md"):
        if path.name not in wanted and path.name != "stray.md":
            path.unlink()
    for name, text in wanted.items():
        path = notes / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def _random_edit(rng: random.Random, model: list[Note], step: int) -> str:
    """One edit of a user's, drawn by `rng`, made to `model`; what it was."""
    note = rng.choice(model)
    at = model.index(note)
    what = rng.choice(
        [
            "reword a step", "reword a result", "add a lesson", "drop a lesson",
            "repeat a lesson", "re-level", "re-theme", "rename", "share a question",
            "add a story", "delete a story", "swap two steps", "nothing",
        ]
    )  # fmt: skip
    if what == "reword a step" and note.steps:
        steps = list(note.steps)
        n = rng.randrange(len(steps))
        steps[n] = f"{steps[n]} (take {step})"
        model[at] = replace(note, steps=steps)
    elif what == "reword a result" and note.results:
        results = list(note.results)
        results[0] = f"Errors fell by {rng.randint(10, 90)}% in {rng.randint(2, 9)} weeks."
        model[at] = replace(note, results=results)
    elif what == "add a lesson":
        model[at] = replace(note, lessons=[*note.lessons, f"Lesson {step}: measure first."])
    elif what == "drop a lesson" and len(note.lessons) > 1:
        model[at] = replace(note, lessons=note.lessons[1:])
    elif what == "repeat a lesson" and note.lessons:
        model[at] = replace(note, lessons=[*note.lessons, note.lessons[0]])
    elif what == "re-level":
        model[at] = replace(note, level=rng.choice(["L4", "L5", "L6"]))
    elif what == "re-theme":
        model[at] = replace(note, themes=[rng.choice(["leadership", "technical-debt"])])
    elif what == "rename":
        model[at] = replace(note, id=f"{note.id.split('.')[0]}.{step}")
    elif what == "share a question":
        other = rng.choice(model)
        question = other.questions[0] if other.questions else "Tell me about a failure."
        model[at] = replace(note, questions=[*note.questions, question])
    elif what == "add a story":
        model.append(replace(note, id=f"copy-{step}", title=f"{note.title} (copy {step})"))
    elif what == "delete a story" and len(model) > 2:
        model.pop(at)
    elif what == "swap two steps" and len(note.steps) > 1:
        model[at] = replace(note, steps=[*note.steps[1:], note.steps[0]])
    else:
        return "nothing"
    return f"{what} ({note.id})"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_edits_carried_over_write_what_full_builds_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    rng = random.Random(seed)
    model = _bank()
    carried_dir, full_dir = tmp_path / "carried", tmp_path / "full"
    for notes in (carried_dir, full_dir):
        notes.mkdir()
        (notes / "stray.md").write_text(_STRAY, encoding="utf-8")
    done, carried_ever = [], 0
    for step in range(30):
        done.append(_random_edit(rng, model, step) if step else "first build")
        for notes in (carried_dir, full_dir):
            _sync(model, notes)
        monkeypatch.setenv("STORYDECK_CACHE_DIR", str(tmp_path / "cache"))
        report = _build(carried_dir, tmp_path / "decks-carried")
        shutil.rmtree(tmp_path / "nocache", ignore_errors=True)
        monkeypatch.setenv("STORYDECK_CACHE_DIR", str(tmp_path / "nocache"))
        full = _build(full_dir, tmp_path / "decks-full")
        assert _summary(report) == _summary(full), done
        assert _files(tmp_path / "decks-carried") == _files(tmp_path / "decks-full"), done
        lock = (carried_dir / "storydeck.lock").read_bytes()
        assert lock == (full_dir / "storydeck.lock").read_bytes(), done
        carried_ever += len(_carried(report))
    assert carried_ever >= 30


@pytest.mark.usefixtures("cache_home")
def test_a_rebuild_reads_the_lockfile_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bytes the kept outcomes are checked against are the bytes the build takes
    its lock from: the lockfile is read once, not once for each."""
    notes, decks = _carry_bank(tmp_path)
    _build(notes, decks)
    lock_path = (notes / "storydeck.lock").resolve()
    reads: list[Path] = []
    read_bytes = Path.read_bytes

    def counted(self: Path) -> bytes:
        if self.resolve() == lock_path:
            reads.append(self)
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", counted)
    report = _build(notes, decks)
    assert _carried(report)
    assert len(reads) == 1

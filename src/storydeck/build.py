"""The orchestrator: notes in, decks and lockfile out, or an error and nothing written."""

from __future__ import annotations

import gc
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from storydeck.cache import LockSnapshot, ParseCache, cache_file
from storydeck.cards import FIELDS, Card, build_cards
from storydeck.carry import Carried, CarryFile, StaleCarry, outcomes
from storydeck.config import Config, load_config
from storydeck.errors import InputErrors
from storydeck.identity import (
    Identified,
    Lock,
    Moved,
    identify,
    lock_bytes_digest,
    lock_digest,
    read_lock,
    read_lock_bytes,
)
from storydeck.model import Diagnostic
from storydeck.notes import (
    LOCK_NAME,
    OVERLAP_MIN,
    EarlyParser,
    Notes,
    Progress,
    display_path,
    notes_root,
    read_notes,
)

if TYPE_CHECKING:
    from storydeck.package import Staged


@dataclass(frozen=True)
class Project:
    """A notes directory with its config and lockfile."""

    paths: tuple[Path, ...]
    root: Path | None
    config: Config

    @property
    def lock_path(self) -> Path | None:
        return self.root / LOCK_NAME if self.root else None


def open_project(paths: list[Path]) -> Project:
    root = notes_root(paths)
    return Project(tuple(paths), root, load_config(root))


def build_time() -> int:
    """Now, or SOURCE_DATE_EPOCH when set (reproducible builds and tests)."""
    fixed = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return int(fixed) if fixed.isdigit() else int(time.time())


@dataclass(frozen=True)
class Analysis:
    """Everything a build computes before it writes anything."""

    project: Project
    notes: Notes
    cards: tuple[Card, ...]
    identified: Identified
    lock: Lock


def analyse(
    project: Project,
    *,
    now: int | None = None,
    progress: Progress | None = None,
    cache: ParseCache | None = None,
    snapshot: LockSnapshot | None = None,
    carry: CarryFile | None = None,
    early: EarlyParser | None = None,
    hollow: bool = False,
    while_parsing: Callable[[], None] | None = None,
) -> Analysis:
    """Read, parse, make cards and match them to the lock. Raises InputErrors on errors.

    With a `cache`, notes whose text has not changed are not parsed again; with a
    `snapshot` of the lockfile as it is, the lockfile is not parsed either. With the
    `carry` of the last build, when the lockfile is as that build left it, notes
    whose text has not changed are carried over (see carry.py): their cards are
    not among the analysis's cards, and StaleCarry may be raised. An `early` parser
    (see notes.py) parses a few changed notes. With `hollow`, the stories are as
    carried ones are (see carry.hollow): a build reads no more of them.
    `while_parsing` is work of the caller's, started while the notes are parsed.
    """
    from storydeck.templates import note_type_fingerprints

    # The lockfile is read once: the bytes the kept outcomes are checked against are
    # the ones parsed below.
    raw_lock = read_lock_bytes(project.lock_path)
    kept = carry.usable(lock_bytes_digest(raw_lock)) if carry is not None else None
    notes = read_notes(
        list(project.paths),
        project.config,
        progress,
        cache=cache,
        carry=kept,
        early=early,
        hollow=hollow,
        meanwhile=while_parsing,
    )
    if notes.errors:
        raise InputErrors(notes.diagnostics)
    if cache is not None:
        # Saved now, not after the packages: its entries only depend on the notes, and
        # a large bank's packed results need not stay in memory while packages are made.
        cache.save()
        cache.close()
    root = display_path(project.root) if project.root is not None else ""
    cards = build_cards(
        notes.stories,
        project.config,
        root=root,
        made=notes.story_cards,
        answers=notes.story_answers,
    )
    lock = read_lock(project.lock_path, snapshot, raw_lock) if project.lock_path else Lock()
    # The cards are made: let go of each story's own (a large bank's would be kept twice).
    notes = replace(notes, story_cards=())
    identified = identify(
        cards,
        lock,
        build_time() if now is None else now,
        FIELDS,
        note_type_fingerprints(),
        carried=_carried(notes),
    )
    # The cards as identified (with their guids; equal to the ones built): a large
    # bank's cards are not kept twice.
    return Analysis(project, notes, identified.cards, identified, lock)


def _carried(notes: Notes) -> Carried:
    """The stories of `notes` carried over from the last build."""
    if not any(notes.carried):
        return Carried()
    return Carried(
        tuple(
            (index, story.id, carried)
            for index, (story, carried) in enumerate(zip(notes.stories, notes.carried, strict=True))
            if carried is not None
        ),
        {story.id: index for index, story in enumerate(notes.stories)},
    )


@dataclass(frozen=True)
class BuildReport:
    """What a build did. Its analysis keeps no cards (`kinds` counts them): a large
    bank's cards are let go of as soon as their rows are in the row store."""

    analysis: Analysis
    files: tuple[tuple[Path, int, bool], ...]
    lock_written: bool
    kinds: Counter[str] = field(default_factory=Counter)

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        return self.analysis.notes.diagnostics

    @property
    def moved(self) -> tuple[Moved, ...]:
        return self.analysis.identified.moved


def build(
    project: Project,
    out_dir: Path,
    *,
    now: int | None = None,
    progress: Progress | None = None,
) -> BuildReport:
    """Build every deck of a project into `out_dir` and update its lockfile.

    Each package is rendered, then staged in a temporary file beside its target;
    once all are made they are renamed into place, the lockfile last. An error
    before that leaves every file as it was. A package that `out_dir` already
    holds as it would be rendered is neither rendered nor written. The parse cache
    (see cache.py) is saved as soon as the notes are read without errors.
    """
    with _no_collections():
        try:
            return _build(project, out_dir, now=now, progress=progress, carry=True)
        except StaleCarry:  # rare: what was carried over did not hold (see carry.py)
            return _build(project, out_dir, now=now, progress=progress, carry=False)


@contextmanager
def _no_collections() -> Iterator[None]:
    """No cyclic garbage collection while a build runs (its parse workers look once per
    chunk of notes: see notes.py).

    A build makes hundreds of thousands of small long-lived objects (stories, cards,
    lock entries) and next to no reference cycles; the collector would walk them
    again and again for nothing (a tenth of a rebuild's time at the default
    threshold).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _encoded(lines: Iterable[str], size: int = 1 << 20) -> Iterator[bytes]:
    """UTF-8 bytes of `lines`, about `size` characters at a time."""
    batch: list[str] = []
    length = 0
    for line in lines:
        batch.append(line)
        length += len(line)
        if length >= size:
            yield "".join(batch).encode("utf-8")
            batch, length = [], 0
    if batch:
        yield "".join(batch).encode("utf-8")


def stage_lockfile(
    staged: Staged, path: Path, lock: Lock, snapshot: LockSnapshot | None
) -> tuple[bool, bytes]:
    """Stage the lockfile of `lock` at `path` (False when it already holds it), and keep
    its snapshot for the next build. Also returns the hash of its bytes."""
    digest = lock_digest()

    def chunks() -> Iterator[bytes]:
        for chunk in _encoded(lock.lines()):
            digest.update(chunk)
            yield chunk

    written = staged.add(path, chunks)
    hashed = digest.digest()
    if snapshot is not None:
        # Kept before the lockfile is renamed into place: a build stopped in between
        # leaves a snapshot of no file on disk, which is never used.
        snapshot.keep(lock, hashed)
    return written, hashed


def _build(
    project: Project, out_dir: Path, *, now: int | None, progress: Progress | None, carry: bool
) -> BuildReport:
    from storydeck.package import (
        Staged,
        planned_packages,
        prepare_constants,
        remove_stale_temps,
        stage_packages,
    )

    # What a build killed half-way left behind: its files were never renamed into place.
    remove_stale_temps(out_dir, "*.apkg")
    if project.root is not None:
        remove_stale_temps(project.root, LOCK_NAME)
    cache = (
        ParseCache.for_notes(project.root, project.config, hollow=True) if project.root else None
    )
    early = None
    if cache is not None and cache.entries >= OVERLAP_MIN and project.root is not None:
        # A large bank's build after another: most notes come from the caches, a few
        # changed ones are parsed by a worker that loads the parser meanwhile (a first
        # build parses every note in workers of its own; a small bank's few notes are
        # read before a worker would have started).
        early = EarlyParser.start(project.config, display_path(project.root), hollow=True)
    rows = cache_file(project.root, "rows", ".sqlite") if project.root else None
    # A new row store has no writer constants: genanki is loaded while the notes are
    # parsed (once the workers are started: before, it would only delay them).
    constants = prepare_constants if rows is None or not rows.exists() else None
    snapshot = LockSnapshot.for_notes(project.root) if project.root else None
    carried = None
    if cache is not None and project.root is not None:
        carried = CarryFile.for_notes(project.root, cache.key)
        if not carry:
            carried.drop()
    try:
        analysis = analyse(
            project,
            now=now,
            progress=progress,
            cache=cache,
            snapshot=snapshot,
            carry=carried,
            early=early,
            hollow=True,
            while_parsing=constants,
        )
    finally:
        if early is not None:
            early.close()
    identified = analysis.identified
    notetype_mod = max((e.changed for e in identified.lock.notetypes.values()), default=0)
    lock_path, lock = project.lock_path, identified.lock
    lock_written: list[tuple[bool, bytes]] = []
    with (
        Staged() as staged,
        Staged() as staged_lock,
        planned_packages(identified, project.config, notetype_mod, out_dir, rows) as packages,
    ):
        # Their rows are in the store: what is left to do with the cards is to count
        # them and work out what the next build carries over, before the packages are
        # written without them (a large bank's cards are most of its memory).
        kinds = Counter(card.kind.value for card in identified.cards)
        for _, _, notes_carried in identified.carried.stories:
            kinds.update(note.kind for note in notes_carried)
        notes = analysis.notes
        kept = []
        if carried is not None:
            kept = list(
                outcomes(
                    notes.sources,
                    notes.stories,
                    notes.story_answers,
                    identified.cards,
                    identified.mods,
                )
            )
        identified = replace(identified, cards=())
        analysis = replace(analysis, cards=(), identified=identified)

        def stage_lock() -> None:
            if lock_path is not None:
                lock_written.append(stage_lockfile(staged_lock, lock_path, lock, snapshot))
                lock_hash = lock_written[0][1]
                # Kept before the lockfile is in place, like its snapshot: outcomes that
                # go with a lockfile a stopped build never renamed into place are never
                # used (see CarryFile.usable).
                if carried is not None and not carried.holds(lock_hash, notes.sources):
                    carried.save(lock_hash, kept)

        # The lockfile is made while the packages are written, and renamed into place
        # after them: a build stopped in between leaves the lock of the decks before.
        stage_packages(staged, out_dir, packages, meanwhile=stage_lock)
        staged.commit()
        staged_lock.commit()
    files = [(out_dir / p.name, p.notes, p.write is not None) for p in packages]
    written = bool(lock_written) and lock_written[0][0]
    return BuildReport(analysis, tuple(files), written, kinds)

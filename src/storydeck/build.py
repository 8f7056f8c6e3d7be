"""The orchestrator: notes in, decks and lockfile out, or an error and nothing written."""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from storydeck.cards import FIELDS, Card, build_cards
from storydeck.config import Config, load_config
from storydeck.errors import InputErrors
from storydeck.identity import Identified, Lock, Moved, identify, read_lock
from storydeck.model import Diagnostic
from storydeck.notes import LOCK_NAME, Notes, notes_root, read_notes


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


def analyse(project: Project, *, now: int | None = None) -> Analysis:
    """Read, parse, make cards and match them to the lock. Raises InputErrors on errors."""
    from storydeck.templates import note_type_fingerprints

    notes = read_notes(list(project.paths), project.config)
    if notes.errors:
        raise InputErrors(notes.diagnostics)
    cards = build_cards(notes.stories, project.config)
    lock = read_lock(project.lock_path) if project.lock_path else Lock()
    identified = identify(
        cards, lock, build_time() if now is None else now, FIELDS, note_type_fingerprints()
    )
    return Analysis(project, notes, cards, identified, lock)


@dataclass(frozen=True)
class BuildReport:
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


def build(project: Project, out_dir: Path, *, now: int | None = None) -> BuildReport:
    """Build every deck of a project into `out_dir` and update its lockfile.

    Every package is rendered in memory before the first byte is written; each file
    is then written to a temporary file and renamed, the lockfile last.
    """
    from storydeck.package import render_packages, write_atomic

    analysis = analyse(project, now=now)
    identified = analysis.identified
    notetype_mod = max((e.changed for e in identified.lock.notetypes.values()), default=0)
    rendered = render_packages(identified, project.config, notetype_mod)
    files = []
    for name, data, count in rendered:
        path = out_dir / name
        files.append((path, count, write_atomic(path, data)))
    lock_written = False
    if project.lock_path is not None:
        lock_written = write_atomic(project.lock_path, identified.lock.to_text().encode("utf-8"))
    kinds = Counter(card.kind.value for card in identified.cards)
    return BuildReport(analysis, tuple(files), lock_written, kinds)

"""The benchmark's own parts: the synthetic bank it builds and the way it measures a
process. (The figures themselves come from `make bench`, never from a test.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from bench.__main__ import run
from bench.synth import edit_story, write_bank

from storydeck.build import analyse, open_project
from storydeck.cards import Card

pytestmark = pytest.mark.usefixtures("cache_home", "fixed_time")


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.md"))}


def _text(card: Card) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(card.fields.items()))


def test_the_synthetic_bank_is_seeded_and_gives_about_twenty_clean_cards_a_story(
    tmp_path: Path,
) -> None:
    paths = write_bank(tmp_path / "a", 12)
    write_bank(tmp_path / "b", 12)
    write_bank(tmp_path / "c", 12, seed=9)
    assert len(paths) == 12
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert _files(tmp_path / "a") != _files(tmp_path / "c")

    analysis = analyse(open_project([tmp_path / "a"]))
    assert len(analysis.notes.stories) == 12
    assert analysis.notes.diagnostics == ()
    assert 18 <= len(analysis.cards) / 12 <= 22

    # The benchmark's edit changes the note, and the note still builds as cleanly.
    before = paths[3].read_bytes()
    edit_story(paths[3], 1)
    assert paths[3].read_bytes() != before
    edited = analyse(open_project([tmp_path / "a"]))
    assert edited.notes.diagnostics == ()
    assert len(edited.cards) == len(analysis.cards)
    changed = {_text(c) for c in edited.cards} - {_text(c) for c in analysis.cards}
    assert len(changed) >= 2  # a result (its metric card) and an action step


_BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\n"


def test_a_measured_run_counts_the_cpu_of_the_processes_it_waited_for() -> None:
    # The process burns 0.3 s itself and waits for a child that burns 0.3 s more,
    # as a build waits for its parsing workers.
    script = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {_BURN!r}])\n{_BURN}"
    measured = run([sys.executable, "-c", script])
    assert measured.cpu >= 0.55
    assert measured.wall >= 0.55
    assert measured.peak_mb > 0

"""`storydeck build` and the lock commands, end to end through the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from test_roundtrip import outage, refactor


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    notes = tmp_path / "notes"
    notes.mkdir()
    outage().write(notes)
    refactor().write(notes)
    return notes, tmp_path / "decks"


def test_a_failed_build_writes_nothing(
    tmp_path: Path, cli: Callable[..., Result], fixed_time: Callable[[int], None]
) -> None:
    notes, decks = _setup(tmp_path)
    assert cli("build", notes, "-o", decks).exit_code == 0
    before = _tree(tmp_path)
    story = outage()
    story.steps[0] = "**A new first step** — that would change cards."
    story.write(notes)
    bad = notes / "broken.md"
    bad.write_text("---\ntitle: **bold**: no quotes\n---\n## Situation\nx\n", encoding="utf-8")
    fixed_time(1_800_000_000)
    result = cli("build", notes, "-o", decks)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{bad}:2:8: error: invalid YAML in front matter: did not find expected alphabetic "
        "or numeric character [front-matter]",
        """  hint: put the value of 'title' in quotes: title: "**bold**: no quotes\"""",
        "Error: 1 error in the notes; nothing was written.",
    ]
    after = _tree(tmp_path)
    del after["notes/broken.md"], after["notes/queue-outage.md"]
    del before["notes/queue-outage.md"]
    assert after == before


def test_a_missing_notes_directory_is_an_error(tmp_path: Path, cli: Callable[..., Result]) -> None:
    result = cli("build", tmp_path / "nope", "-o", tmp_path / "decks")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {tmp_path / 'nope'}: notes directory does not exist (")
    assert not (tmp_path / "decks").exists()


@pytest.mark.usefixtures("fixed_time")
def test_build_summary_and_up_to_date(tmp_path: Path, cli: Callable[..., Result]) -> None:
    notes, decks = _setup(tmp_path)
    first = cli("build", notes, "-o", decks)
    assert first.exit_code == 0
    lines = first.stdout.splitlines()
    assert lines[0] == "Read 2 stories from 2 notes."
    assert lines[1].startswith("Cards: ")
    assert lines[2].startswith("Since the last build: ")
    assert " new, 0 updated, 0 unchanged" in lines[2]
    assert f"Wrote {decks / 'storydeck-all.apkg'}" in first.stdout
    second = cli("build", notes, "-o", decks)
    assert second.stdout.splitlines()[-1] == f"Decks in {decks} are up to date."
    assert " 0 new, 0 updated, " in second.stdout


def test_removed_cards_are_carried_until_forgotten(
    tmp_path: Path, cli: Callable[..., Result], fixed_time: Callable[[int], None]
) -> None:
    notes, decks = _setup(tmp_path)
    cli("build", notes, "-o", decks)
    story = outage()
    del story.lessons[2]
    story.write(notes)
    fixed_time(1_760_010_000)
    summary = json.loads(cli("build", notes, "-o", decks, "--json").stdout)
    assert summary["newly_removed"] == 1
    assert summary["removed"] == 1
    lock = json.loads((notes / "storydeck.lock").read_text(encoding="utf-8"))
    removed = [g for g, e in lock["cards"].items() if e.get("removed")]
    assert len(removed) == 1
    again = json.loads(cli("build", notes, "-o", decks, "--json").stdout)
    assert (again["removed"], again["newly_removed"]) == (1, 0)
    forgot = cli("forget-removed", notes)
    assert forgot.exit_code == 0
    assert forgot.stdout == f"Forgot 1 removed card in {notes / 'storydeck.lock'}.\n"
    lock = json.loads((notes / "storydeck.lock").read_text(encoding="utf-8"))
    assert removed[0] not in lock["cards"]
    final = json.loads(cli("build", notes, "-o", decks, "--json").stdout)
    assert final["removed"] == 0


def test_moved_cards_are_reported_until_forgotten(
    tmp_path: Path, cli: Callable[..., Result], fixed_time: Callable[[int], None]
) -> None:
    notes, decks = _setup(tmp_path)
    cli("build", notes, "-o", decks)
    story = refactor()
    story.level = "L5"
    story.write(notes)
    fixed_time(1_760_010_000)
    text = cli("build", notes, "-o", decks).stdout
    assert "Moved: " in text
    assert "billing-refactor" in text
    assert '"deck:Interview Stories::L4::Technical Debt and Refactoring"' in text
    assert "Moved: " in cli("build", notes, "-o", decks).stdout  # still, until forgotten
    forgot = cli("forget-moved", notes)
    assert forgot.exit_code == 0
    assert forgot.stdout.startswith("Forgot ")
    assert "Moved: " not in cli("build", notes, "-o", decks).stdout

"""Fuzzing: generated and mutated notes never break storydeck.

The parser returns stories or raises storydeck's own error, never anything else;
a build either writes complete decks and a valid lockfile, or exits with an error
and writes nothing. `make test` runs a few thousand examples; `make fuzz` runs the
`slow` variants with many more.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from storydeck.build import build, open_project
from storydeck.config import default_config
from storydeck.errors import StorydeckError
from storydeck.notes import read_note
from storydeck.parse import parse_text
from test_parse_properties import note
from test_roundtrip import outage, refactor

CONFIG = default_config()
SEEDS = [outage().text(), refactor().text()]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A real note with a few random edits: cuts, insertions, swapped and doubled lines."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["cut", "insert", "swap", "double", "join"]))
        lines = text.split("\n")
        i = draw(st.integers(0, len(lines) - 1))
        j = draw(st.integers(0, len(lines) - 1))
        if kind == "cut":
            start = draw(st.integers(0, len(text)))
            text = text[:start] + text[start + draw(st.integers(0, 80)) :]
            continue
        if kind == "insert":
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.text(max_size=12)) + text[at:]
            continue
        if kind == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "double":
            lines.insert(i, lines[j])
        else:
            lines[i : i + 2] = [" ".join(lines[i : i + 2])]
        text = "\n".join(lines)
    return text


def parse_or_own_error(text: str) -> None:
    try:
        result = parse_text(text, "notes/fuzz.md", CONFIG)
    except StorydeckError:
        return
    for story in result.stories:
        assert story.id
        assert story.title


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(note())
@example("\ufeff# Situation\n* Action:\n  * \x1f\n  * \x1f\n")
def test_generated_notes(text: str) -> None:
    parse_or_own_error(text)


@pytest.mark.parametrize("blank", ["\x1f", "\x1c", "\u2028", "\u3000"])
def test_list_items_of_invisible_text_are_no_steps(blank: str) -> None:
    """Characters markdown keeps as text but Python strips as space make an empty item:
    it is no step, and the items nested under it still are."""
    text = (
        "# Situation\nThe outage.\n\n## Action\n"
        f"* {blank}\n* {blank}\n  * Paged the owner\n  * Rolled back\n"
    )
    (story,) = parse_text(text, "notes/blank.md", CONFIG).stories
    assert [step.headline.plain for step in story.actions] == ["Paged the owner", "Rolled back"]


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_notes(text: str) -> None:
    parse_or_own_error(text)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_read_or_refused(tmp_path_factory: pytest.TempPathFactory, raw: bytes) -> None:
    path = tmp_path_factory.mktemp("bytes") / "note.md"
    path.write_bytes(raw)
    try:
        text = read_note(path)
    except StorydeckError as error:
        message = str(error)
    else:
        parse_or_own_error(text)
        return
    assert message.startswith(f"{path}:")


@pytest.mark.slow
@settings(max_examples=20_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(note(), mutated()))
def test_many_notes(text: str) -> None:
    parse_or_own_error(text)


def _check_build(root: Path, texts: list[str]) -> None:
    notes, decks = root / "notes", root / "decks"
    notes.mkdir()
    for n, text in enumerate(texts):
        (notes / f"n{n}.md").write_text(text, encoding="utf-8")
    try:
        build(open_project([notes]), decks, now=1_760_000_000)
    except StorydeckError:
        assert not decks.exists()
        assert not (notes / "storydeck.lock").exists()
        return
    for package in decks.glob("*.apkg"):
        with zipfile.ZipFile(package) as archive:
            assert archive.testzip() is None
            assert archive.namelist() == ["collection.anki2", "media"]
    json.loads((notes / "storydeck.lock").read_text(encoding="utf-8"))
    leftovers = [p for p in (*notes.rglob("*"), *decks.rglob("*")) if p.name.endswith(".tmp")]
    assert not leftovers


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(mutated(), note()), min_size=1, max_size=3))
def test_a_build_writes_everything_or_nothing(
    tmp_path_factory: pytest.TempPathFactory, texts: list[str]
) -> None:
    _check_build(tmp_path_factory.mktemp("build"), texts)


@pytest.mark.slow
@settings(max_examples=2_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.one_of(mutated(), note()), min_size=1, max_size=4))
def test_many_builds(tmp_path_factory: pytest.TempPathFactory, texts: list[str]) -> None:
    _check_build(tmp_path_factory.mktemp("build"), texts)

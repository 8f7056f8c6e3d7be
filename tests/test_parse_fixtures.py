"""Fixture files in, expected stories out: one parametrized case per fixture.

Each `tests/fixtures/parse/<name>.md` is a note written for these tests; beside it,
`<name>.json` holds (as sorted JSON) the fields of every story that matter and the
codes of the diagnostics. Inputs are read as bytes, so the CRLF/BOM fixture reaches
`parse_text` exactly as written.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from storydeck.config import default_config
from storydeck.model import Text
from storydeck.parse import ParseResult, parse_text

FIXTURES = Path(__file__).parent / "fixtures" / "parse"
CASES = sorted(FIXTURES.glob("*.md"))


def _plain(text: Text | None) -> str:
    return text.plain if text else ""


def summarise(result: ParseResult) -> dict[str, Any]:
    """The part of a parse result the fixtures pin down."""
    return {
        "stories": [
            {
                "title": story.title,
                "level": story.level,
                "themes": list(story.themes),
                "questions": list(story.questions),
                "summary": _plain(story.summary),
                "situation": _plain(story.situation),
                "task": _plain(story.task),
                "steps": [step.headline.plain for step in story.actions],
                "results": [r.plain for r in story.results],
                "lessons": [lesson.plain for lesson in story.lessons],
                "followups": [
                    {"question": f.question.plain, "answer": f.answer.plain}
                    for f in story.followups
                ],
            }
            for story in result.stories
        ],
        "diagnostics": [d.code for d in result.diagnostics],
    }


def read_fixture(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def expected_of(path: Path) -> Any:
    return json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("source", CASES, ids=[p.stem for p in CASES])
def test_fixture(source: Path) -> None:
    result = parse_text(read_fixture(source), source.name, default_config())
    assert summarise(result) == expected_of(source)


def test_fixture_set_is_complete() -> None:
    inputs = {p.stem for p in FIXTURES.glob("*.md")}
    expectations = {p.stem for p in FIXTURES.glob("*.json")}
    assert inputs == expectations
    assert len(inputs) >= 25


def test_expectations_are_sorted_json() -> None:
    for path in sorted(FIXTURES.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        written = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        assert path.read_text(encoding="utf-8") == written, path.name


def test_crlf_fixture_reaches_the_parser_raw() -> None:
    """Guards the CRLF/BOM case against a checkout that normalised the file."""
    raw = read_fixture(FIXTURES / "crlf_bom.md")
    assert raw.startswith("\ufeff---\r\n")
    assert "\n" not in raw.replace("\r\n", "")


def test_crlf_and_lf_parse_alike() -> None:
    raw = read_fixture(FIXTURES / "crlf_bom.md")
    clean = raw.removeprefix("\ufeff").replace("\r\n", "\n")
    config = default_config()
    crlf = parse_text(raw, "note.md", config)
    lf = parse_text(clean, "note.md", config)
    assert crlf == lf
    assert crlf.stories[0].level == "L4"


def test_no_script_reaches_story_html() -> None:
    result = parse_text(read_fixture(FIXTURES / "script_html.md"), "x.md", default_config())
    story = result.stories[0]
    texts = [story.situation, *story.results, *(s.detail for s in story.actions)]
    assert story.situation is not None
    assert "&lt;script&gt;" in story.situation.html
    for text in texts:
        assert text is not None
        assert "<script" not in text.html.lower()


def test_details_blocks_with_html_allowed() -> None:
    """With raw HTML on, `<details>` becomes HTML blocks; `<summary>` labels still count."""
    source = FIXTURES / "details_html.md"
    config = dataclasses.replace(default_config(), allow_html=True)
    result = summarise(parse_text(read_fixture(source), source.name, config))
    assert result == expected_of(source)


def test_diagnostic_lines_point_into_the_note() -> None:
    for source in CASES:
        text = read_fixture(source)
        lines = text.count("\n") + 1
        for diagnostic in parse_text(text, source.name, default_config()).diagnostics:
            assert 1 <= diagnostic.location.line <= lines, (source.name, str(diagnostic))


def test_story_sources_point_at_the_story() -> None:
    """A story's source line is where its heading (or first part) is."""
    source = FIXTURES / "several_stories.md"
    text = read_fixture(source)
    result = parse_text(text, source.name, default_config())
    lines = text.split("\n")
    starts = [lines[s.source.line - 1] for s in result.stories]
    assert starts == [
        "## Taking over the abandoned billing service",
        "## Owning a vendor outage",
    ]

"""What the parser must find in the seed notes (../shared/seeds/EXPECTED.md), one test per item.

The seeds are read where they are, never copied into the repository. Each "must" of
EXPECTED.md about stories, sections, steps, results, lessons, questions, levels, themes
and what is left out is its own test, through `parse_text`; the `*_cli_*` tests run
the same notes end to end through `storydeck dump --json`. Card-level musts (metric
clozes, which text makes a card) are tested with the cards.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from storydeck.config import default_config
from storydeck.model import Section, Severity, Story
from storydeck.parse import ParseResult, parse_text

S000 = "000_aa651fd5625c8ff3.txt"
S001 = "001_b54493d005b73f47.txt"
S002 = "002_68627a404ed3c907.txt"
S003 = "003_7c107544ed082df2.txt"
S004 = "004_9003281202613b01.txt"

Cli = Callable[..., Result]


# --- helpers ------------------------------------------------------------------------------


def read(seeds_dir: Path, name: str) -> str:
    return (seeds_dir / name).read_text(encoding="utf-8")


def parse(seeds_dir: Path, name: str) -> ParseResult:
    return parse_text(read(seeds_dir, name), name, default_config())


def quoted_004(text: str) -> str:
    """Seed 004 with the one bad front-matter value (line 3) put in single quotes."""
    lines = text.split("\n")
    key, sep, value = lines[2].partition(": ")
    assert (key, sep) == ("description", ": ")
    assert value.startswith("**")
    assert "'" not in value
    lines[2] = f"{key}: '{value}'"
    return "\n".join(lines)


def parse_004(seeds_dir: Path) -> ParseResult:
    return parse_text(quoted_004(read(seeds_dir, S004)), S004, default_config())


def only_story(result: ParseResult) -> Story:
    assert len(result.stories) == 1, [s.title for s in result.stories]
    return result.stories[0]


def story_texts(story: Story) -> Iterator[str]:
    """Every piece of text a story carries, in any field."""
    yield story.title
    yield from story.questions
    for text in (story.situation, story.task, story.summary, *story.results, *story.lessons):
        if text:
            yield text.plain
            yield text.html
    for step in story.actions:
        yield from (step.headline.plain, step.detail.plain, step.headline.html, step.detail.html)
    for followup in story.followups:
        yield from (followup.question.plain, followup.answer.plain, followup.answer.html)


def in_any_story(result: ParseResult, fragment: str) -> bool:
    return any(fragment in text for story in result.stories for text in story_texts(story))


def line_of(text: str, start: str) -> int:
    """1-based number of the first line that starts with `start`."""
    for number, line in enumerate(text.split("\n"), start=1):
        if line.startswith(start):
            return number
    raise AssertionError(f"no line starts with {start!r}")


def left_out_at(result: ParseResult, line: int) -> bool:
    return any(
        d.code == "unplaced-text" and d.location.line == line and d.severity is Severity.WARNING
        for d in result.diagnostics
    )


def dump(cli: Cli, path: Path) -> tuple[Result, dict[str, Any]]:
    result = cli("dump", path, "--json")
    return result, json.loads(result.stdout)


# --- 000: one leadership-focused incident story ----------------------------------------------

TITLE_000 = "Production Incident Example — Cross-Team Escalation & Leadership Focus"
STEPS_000 = [
    "Established a Clear Leadership Framework",
    "Containment Through Rapid Decision-Making",
    "Cross-Team RCA Without Finger-Pointing",
    "Defined a Joint Recovery Plan",
    "Communication & Stakeholder Management",
]


def test_000_is_one_story_with_a_clean_title(seeds_dir: Path) -> None:
    story = only_story(parse(seeds_dir, S000))
    assert story.title == TITLE_000


def test_000_label_headings_of_any_depth_are_sections_of_the_story(seeds_dir: Path) -> None:
    text = read(seeds_dir, S000)
    assert "\n## **SITUATION**\n" in text
    assert "\n# ⭐ **TASK**\n" in text  # an H1 label below the H1 title
    story = only_story(parse(seeds_dir, S000))
    assert {Section.SITUATION, Section.TASK, Section.ACTION, Section.RESULT} <= story.sections
    assert story.situation is not None
    assert story.situation.plain.startswith("During a large Wave-3 SDDC upgrade")
    assert story.task is not None
    assert story.task.plain.startswith("As the IC5 engineer leading RCE workflows")


def test_000_has_five_action_steps_in_order(seeds_dir: Path) -> None:
    story = only_story(parse(seeds_dir, S000))
    assert [s.headline.plain for s in story.actions] == STEPS_000


def test_000_sub_headings_are_step_detail(seeds_dir: Path) -> None:
    story = only_story(parse(seeds_dir, S000))
    containment, plan, talk = story.actions[1], story.actions[3], story.actions[4]
    assert "Stop new SDDCs from entering Phase-2" in containment.detail.plain
    assert "Short-term Recovery" in plan.detail.plain
    assert "Long-term Fix" in plan.detail.plain
    assert "To Leadership" in talk.detail.plain
    assert "To Program Managers" in talk.detail.plain


def test_000_has_six_results(seeds_dir: Path) -> None:
    story = only_story(parse(seeds_dir, S000))
    assert len(story.results) == 6
    assert story.results[0].plain.startswith("All drifted SDDCs were reconciled")
    assert story.results[-1].plain.startswith("A new cross-team integration test")


def test_000_preamble_is_in_no_story_field(seeds_dir: Path) -> None:
    result = parse(seeds_dir, S000)
    assert not in_any_story(result, "Below is a")
    assert not in_any_story(result, "This is perfect when the interviewer")
    assert left_out_at(result, 1)


def test_000_trailer_is_in_no_story_field(seeds_dir: Path) -> None:
    result = parse(seeds_dir, S000)
    assert not in_any_story(result, "If you want")
    assert not in_any_story(result, "shorter 1-minute leadership version")
    assert left_out_at(result, line_of(read(seeds_dir, S000), "If you want, I can also"))


def test_000_should_be_level_l5_production_incident(seeds_dir: Path) -> None:
    story = only_story(parse(seeds_dir, S000))
    assert story.level == "L5"
    assert story.themes[0] == "production-incidents"


def test_000_should_turn_the_closing_statement_into_a_lesson(seeds_dir: Path) -> None:
    story = only_story(parse(seeds_dir, S000))
    assert len(story.lessons) == 1
    assert "technical issues are rarely solved by technical skills alone" in story.lessons[0].plain


def test_000_cli_dump(cli: Cli, seeds_dir: Path) -> None:
    result, data = dump(cli, seeds_dir / S000)
    assert result.exit_code == 0, result.output
    [story] = data["stories"]
    assert story["title"] == TITLE_000
    assert story["actions"] == STEPS_000
    assert len(story["results"]) == 6
    assert story["level"] == "L5"


# --- 001: an impact summary, not a STAR story --------------------------------------------------

RESULTS_001 = [
    "Reduced the number of stuck or manual-intervention upgrades across waves.",
    "Improved overall upgrade success rate and reduced noisy SRE tickets.",
    "Higher throughput for SDDC upgrades while maintaining safety.",
    "Ability to run wave-based rollouts more predictably, keeping the 6-month release cadence "
    "attainable.",
    "Faster root cause analysis during incidents.",
    "Clear visibility into which phase or dependency is causing upgrade issues.",
    "Reduced MTTR (mean time to recovery) for production incidents.",
    "Fewer production regressions.",
    "Releases moved from “big-bang and risky” to progressive and controlled.",
    "New features are built aligned with the architecture and with production readiness in mind "
    "by default.",
]


def impact_story(result: ParseResult) -> Story:
    titled = [s for s in result.stories if s.title == "Impact I Brought into the System"]
    assert len(titled) == 1, [s.title for s in result.stories]
    return titled[0]


def test_001_reads_and_has_the_impact_story(seeds_dir: Path) -> None:
    result = parse(seeds_dir, S001)
    assert len(result.stories) >= 1
    impact_story(result)


def test_001_results_are_the_ten_bullets_under_the_five_result_labels(seeds_dir: Path) -> None:
    assert read(seeds_dir, S001).count("* Result:") == 5
    story = impact_story(parse(seeds_dir, S001))
    assert [r.plain for r in story.results] == RESULTS_001


def test_001_trailer_is_in_no_story_field(seeds_dir: Path) -> None:
    result = parse(seeds_dir, S001)
    assert not in_any_story(result, "If you want")
    assert not in_any_story(result, "elevator pitch")
    assert left_out_at(result, line_of(read(seeds_dir, S001), "If you want, I can"))


def test_001_should_have_the_snippet_as_summary(seeds_dir: Path) -> None:
    story = impact_story(parse(seeds_dir, S001))
    assert story.summary is not None
    assert story.summary.plain.startswith("“As an IC5 on the RCE team for VMC on AWS")
    assert story.summary.plain.endswith("during upgrade waves.”")


def test_001_should_be_level_l5_impact(seeds_dir: Path) -> None:
    story = impact_story(parse(seeds_dir, S001))
    assert story.level == "L5"
    assert story.themes[0] == "impact"


def test_001_cli_dump(cli: Cli, seeds_dir: Path) -> None:
    result, data = dump(cli, seeds_dir / S001)
    assert result.exit_code == 0, result.output
    titles = [s["title"] for s in data["stories"]]
    assert "Impact I Brought into the System" in titles
    story = data["stories"][titles.index("Impact I Brought into the System")]
    assert story["results"] == RESULTS_001
    assert story["situation"] == story["task"] == ""


# --- 002: rough personal notes -------------------------------------------------------------------

LESSONS_002 = (
    "It was our failure not to account for the dependency.",
    "We normally overlook simple things like naming",
    "PR reviews can overlook mistakes.",
)


def test_002_is_one_story(seeds_dir: Path) -> None:
    only_story(parse(seeds_dir, S002))


def test_002_bold_only_labels_in_any_case(seeds_dir: Path) -> None:
    text = read(seeds_dir, S002)
    for label in ("**Situation**", "**Task**", "**ACtion**", "**Result**"):
        assert f"\n{label}\n" in text
    story = only_story(parse(seeds_dir, S002))
    assert {Section.SITUATION, Section.TASK, Section.ACTION, Section.RESULT} <= story.sections
    assert story.situation is not None
    assert "250+ enterprise customers" in story.situation.plain
    assert story.task is not None
    assert story.task.plain.startswith("I had to introspect")


def test_002_has_thirteen_action_steps(seeds_dir: Path) -> None:
    story = only_story(parse(seeds_dir, S002))
    assert len(story.actions) == 13
    assert story.actions[0].headline.plain.startswith("After a day of unsolved sev2")
    assert story.actions[-1].headline.plain.startswith("So, I introduced a unorthodox fix")


def test_002_has_six_results(seeds_dir: Path) -> None:
    story = only_story(parse(seeds_dir, S002))
    assert len(story.results) == 6
    assert story.results[0].plain.startswith("Customer concern was resolved within 1 business day")


@pytest.mark.parametrize(
    "quantity",
    [
        "250+ enterprise customers",
        "7 geos",
        "1000+ tenants",
        "400+ orgs",
        "$1.2M per day",
        "100+ customers",
        "40ish commits",
        "1 business day",
        "8 incidents",
        "$200k",
    ],
)
def test_002_measured_sentences_are_in_the_story(seeds_dir: Path, quantity: str) -> None:
    """The metric cards can only find these if the parser keeps their sentences."""
    story = only_story(parse(seeds_dir, S002))
    texts = [story.situation, story.task, *story.results, *(s.headline for s in story.actions)]
    texts += [s.detail for s in story.actions]
    assert any(t is not None and quantity in t.plain for t in texts)


def test_002_post_mortem_points_are_lessons(seeds_dir: Path) -> None:
    story = only_story(parse(seeds_dir, S002))
    assert len(story.lessons) == 3
    for lesson, start in zip(story.lessons, LESSONS_002, strict=True):
        assert lesson.plain.startswith(start)
    assert not any(r.plain.startswith(LESSONS_002) for r in story.results)


def test_002_end_marker_and_scraps_are_in_no_story_field(seeds_dir: Path) -> None:
    result = parse(seeds_dir, S002)
    assert not in_any_story(result, "=====")
    assert not in_any_story(result, "story : lenovo sev2")
    assert not any(t.plain == "learning" for t in only_story(result).results)
    assert left_out_at(result, line_of(read(seeds_dir, S002), "======end===="))


def test_002_should_have_the_questions_and_the_alternate_prompt(seeds_dir: Path) -> None:
    story = only_story(parse(seeds_dir, S002))
    assert story.questions == (
        "Tell me about the hardest problem you had solved",
        "Tell me about your biggest failure",
        "Describe a technical mistake you have made recently?",
    )


def test_002_cli_dump(cli: Cli, seeds_dir: Path) -> None:
    result, data = dump(cli, seeds_dir / S002)
    assert result.exit_code == 0, result.output
    [story] = data["stories"]
    assert len(story["actions"]) == 13
    assert len(story["results"]) == 6
    assert len(story["lessons"]) == 3
    assert story["questions"][-1] == "Describe a technical mistake you have made recently?"


# --- 003: a case study exported from a PDF, plain text ------------------------------------------

TITLE_003 = "Live Incident Debug — Inventory System Cross-Sync Failure"
STEPS_003 = [
    "Inverted the Vendor's Assumption",
    "Protected Time and Attention",
    "Executed and Verified Mitigation",
    "Documented in Real Time",
    "Validated Post-Incident",
]
LESSONS_003 = [
    "Challenge assumptions respectfully but decisively.",
    "Keep critical parties engaged until mitigation is proven.",
    "Document and verify before memory fades.",
    "Close the loop with evidence, not conjecture.",
]


def test_003_is_one_story_titled_from_the_case_study_line(seeds_dir: Path) -> None:
    story = only_story(parse(seeds_dir, S003))
    assert story.title in {TITLE_003, f"Case Study: {TITLE_003}"}


def test_003_numbered_plain_labels_are_the_sections(seeds_dir: Path) -> None:
    story = only_story(parse(seeds_dir, S003))
    assert story.situation is not None
    assert "Multiple products showed fluctuating stock levels" in story.situation.plain
    assert {Section.SITUATION, Section.ACTION, Section.RESULT} <= story.sections
    assert [r.plain for r in story.results] == [
        "Full containment within ≈ 3 hours.",
        "Root cause confirmed and acknowledged by vendor.",
        "Permanent mitigation implemented (staging sync disabled).",
        'Prevented further loss from misreported "Out of Stock" items and wasted ad spend.',
        "Authored report adopted as internal diagnostic template.",
    ]


def test_003_has_five_action_steps(seeds_dir: Path) -> None:
    story = only_story(parse(seeds_dir, S003))
    assert [s.headline.plain for s in story.actions] == STEPS_003
    assert "staging server was mistakenly syncing" in story.actions[0].detail.plain


def test_003_timeline_and_latex_debris_are_in_no_story_field(seeds_dir: Path) -> None:
    result = parse(seeds_dir, S003)
    assert not in_any_story(result, "4:15 pm")
    assert not in_any_story(result, "7:05 pm")
    assert not in_any_story(result, r"\left(1\right)")
    assert left_out_at(result, line_of(read(seeds_dir, S003), "(Captured within one hour"))


def test_003_should_turn_why_it_matters_into_lessons(seeds_dir: Path) -> None:
    story = only_story(parse(seeds_dir, S003))
    assert [lesson.plain for lesson in story.lessons[:4]] == LESSONS_003


def test_003_cli_dump(cli: Cli, seeds_dir: Path) -> None:
    result, data = dump(cli, seeds_dir / S003)
    assert result.exit_code == 0, result.output
    [story] = data["stories"]
    assert story["title"] in {TITLE_003, f"Case Study: {TITLE_003}"}
    assert story["actions"] == STEPS_003
    assert story["lessons"][:4] == LESSONS_003


# --- 004: a guide, 5 themes x 3 levels ------------------------------------------------------------

THEMES_004 = [
    ("Handling Production Incidents", "production-incidents"),
    ("Disagreeing with Senior Engineers/Architects", "disagreeing-with-seniors"),
    ("Technical Debt and Refactoring", "technical-debt"),
    ("Cross-Functional Collaboration", "cross-functional-collaboration"),
    ("Learning and Growth", "learning-and-growth"),
]
LEVELS_004 = ["L3", "L4", "L5"]


def example_questions(text: str) -> list[str]:
    return re.findall(r'^\*\*Example Question\*\*: "(.+)"$', text, re.MULTILINE)


def test_004_as_written_fails_at_line_3_column_14(seeds_dir: Path) -> None:
    result = parse(seeds_dir, S004)
    assert result.stories == ()
    [error] = result.diagnostics
    assert error.severity is Severity.ERROR
    assert (error.location.path, error.location.line, error.location.col) == (S004, 3, 14)
    assert "quotes" in error.hint
    assert "description" in error.hint


def test_004_cli_as_written_exits_1_and_names_the_place(cli: Cli, seeds_dir: Path) -> None:
    result = cli("dump", seeds_dir / S004, "--json")
    assert result.exit_code == 1
    assert f"{S004}:3:14:" in result.stderr
    assert "put the value of 'description' in quotes" in result.stderr


def test_004_cli_build_as_written_writes_nothing(cli: Cli, seeds_dir: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / S004).write_bytes((seeds_dir / S004).read_bytes())
    out = tmp_path / "decks"
    result = cli("build", notes, "-o", out)
    assert result.exit_code == 1
    assert f"{S004}:3:14:" in result.stderr
    assert sorted(p.name for p in notes.iterdir()) == [S004]
    assert not out.exists() or not any(out.iterdir())


def test_004_quoted_has_fifteen_stories(seeds_dir: Path) -> None:
    assert len(parse_004(seeds_dir).stories) == 15


def test_004_quoted_themes_and_levels(seeds_dir: Path) -> None:
    stories = parse_004(seeds_dir).stories
    expected = [(h, t, level) for h, t in THEMES_004 for level in LEVELS_004]
    for story, (heading, theme, level) in zip(stories, expected, strict=True):
        assert story.title.startswith(f"{heading} — ")
        assert story.themes[0] == theme
        assert story.level == level


def test_004_quoted_questions_are_the_example_questions(seeds_dir: Path) -> None:
    questions = example_questions(read(seeds_dir, S004))
    assert len(questions) == 5
    stories = parse_004(seeds_dir).stories
    for index, story in enumerate(stories):
        assert story.questions == (questions[index // 3],)


def test_004_quoted_step_and_result_counts(seeds_dir: Path) -> None:
    for story in parse_004(seeds_dir).stories:
        incidents = story.themes[0] == "production-incidents"
        steps = 6 if incidents and story.level in {"L4", "L5"} else 5
        assert len(story.actions) == steps, story.title
        assert len(story.results) == 4, story.title


def test_004_quoted_incident_sentences_with_metrics_are_kept(seeds_dir: Path) -> None:
    l3, _, l5 = parse_004(seeds_dir).stories[:3]
    assert l5.results[0].plain == "Reduced MTTR from 4 hours to 45 minutes for similar incidents"
    assert l3.situation is not None
    assert "$50K/hour" in l3.situation.plain
    assert "$200K" in l3.results[0].plain


def test_004_quoted_practice_framework_makes_no_story(seeds_dir: Path) -> None:
    text = quoted_004(read(seeds_dir, S004))
    result = parse_004(seeds_dir)
    for fragment in (
        "Team/Component",
        "Leadership Scope",
        "Choose Your Level",
        "Practice Delivery",
        "What specific technologies did you choose and why?",
        "How do you influence without authority?",
        "Level-Specific Preparation",
    ):
        assert not in_any_story(result, fragment), fragment
    assert not any("Practice" in s.title or "Follow-up" in s.title for s in result.stories)
    assert left_out_at(result, line_of(text, "| Level | Leadership Scope"))
    assert left_out_at(result, line_of(text, "1. **Choose Your Level**"))


def test_004_should_offer_the_common_follow_ups_as_standard(seeds_dir: Path) -> None:
    text = read(seeds_dir, S004)
    common = text[text.index("### Common Follow-up Questions") :]
    asked = re.findall(r'^- "(.+)"$', common, re.MULTILINE)
    assert len(asked) == 12
    assert list(default_config().followups) == asked


def test_004_cli_dump_of_the_quoted_copy(cli: Cli, seeds_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / S004
    copy.write_text(quoted_004(read(seeds_dir, S004)), encoding="utf-8")
    result, data = dump(cli, copy)
    assert result.exit_code == 0, result.output
    stories = data["stories"]
    assert len(stories) == 15
    assert [s["level"] for s in stories] == LEVELS_004 * 5
    assert [s["themes"][0] for s in stories] == [t for _, t in THEMES_004 for _ in LEVELS_004]
    assert [len(s["actions"]) for s in stories[:3]] == [5, 6, 6]
    assert len({s["id"] for s in stories}) == 15


# --- all seeds ----------------------------------------------------------------------------------


def test_dump_leaves_the_seed_folder_untouched(cli: Cli, seeds_dir: Path) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in seeds_dir.iterdir()}
    for name in (S000, S001, S002, S003, S004):
        cli("dump", seeds_dir / name, "--json")
    assert {p.name: p.stat().st_mtime_ns for p in seeds_dir.iterdir()} == before

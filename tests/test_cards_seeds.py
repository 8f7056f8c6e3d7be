"""The cards of the seed notes (../shared/seeds) are what EXPECTED.md implies.

Seed 004's front matter is invalid as written (an unquoted `**` at 3:14); the tests
read a copy with that one value quoted, written into tmp_path under the same name.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from storydeck.cards import Card, build_cards
from storydeck.config import default_config
from storydeck.model import CardKind, Severity, Story
from storydeck.notes import read_notes

CONFIG = default_config()
SEED_000 = "000_aa651fd5625c8ff3.txt"
SEED_001 = "001_b54493d005b73f47.txt"
SEED_002 = "002_68627a404ed3c907.txt"
SEED_003 = "003_7c107544ed082df2.txt"
SEED_004 = "004_9003281202613b01.txt"
SEEDS = [SEED_000, SEED_001, SEED_002, SEED_003, SEED_004]

CLOZE = re.compile(r"\{\{c(\d+)::(.*?)\}\}")

#: Text of preambles, trailers, scraps and export debris: no card may hold any of it.
NOT_ON_CARDS = [
    # 000: preamble and trailer
    "Below is a strong",
    "This is perfect when the interviewer",
    "If you want",
    "I can also generate",
    "1-minute leadership version",
    # 001: trailer
    "If you want, I can",
    "STAR-format story",
    "30–60 second elevator pitch",
    # 002: notes to self and the scraps after ======end====
    "======end",
    "lenovo",
    "diff wording",
    # 003: LaTeX debris of the PDF export
    "LaTeX",
    "\\left(",
    "\\right",
    "\\tt",
    "$%",
    # 004: the guide around the stories
    "Scenario Preparation Matrix",
    "Leadership Scope",
    "Team/Component",
    "Story Development Process",
    "Choose Your Level",
    "Quantify Impact",
    "Common Follow-up Questions",
    "Practice Framework",
    "Level-Specific Preparation",
]

#: Names, versions and clock times from the seeds: never a cloze deletion.
NOT_METRICS = [
    "Wave-3",
    "Phase-2",
    "Phase-3",
    "4:15",
    "4:33",
    "5:01",
    "5:13",
    "7:05",
    "MySQL 5.7",
    "L1",
    "L5",
    "IC5",
    "Sev2",
    "P1",
]


@dataclass(frozen=True)
class Bank:
    stories: tuple[Story, ...]
    cards: tuple[Card, ...]

    def story(self, story_id: str) -> Story:
        return next(s for s in self.stories if s.id == story_id)

    def cards_of(self, story: Story, kind: CardKind) -> list[Card]:
        return [c for c in self.cards if c.kind is kind and story.id in c.stories]

    def find(self, theme: str, level: str, seed: str = SEED_004) -> Story:
        """The one story of `seed` whose first theme and level are these."""
        (found,) = [
            s
            for s in self.stories
            if s.source.path.endswith(seed) and s.themes[:1] == (theme,) and s.level == level
        ]
        return found


def seed_path(seeds_dir: Path, tmp_path: Path, name: str) -> Path:
    """The seed itself, or for 004 a copy with its description value quoted."""
    source = seeds_dir / name
    if name != SEED_004:
        return source
    lines = source.read_text(encoding="utf-8").split("\n")
    prefix = "description: "
    assert lines[2].startswith(prefix + "**"), "seed 004 changed: line 3 is not the bad value"
    value = lines[2].removeprefix(prefix).replace("'", "''")
    lines[2] = f"{prefix}'{value}'"
    copy = tmp_path / name
    copy.write_text("\n".join(lines), encoding="utf-8")
    return copy


def read_bank(seeds_dir: Path, tmp_path: Path, *names: str) -> Bank:
    notes = read_notes([seed_path(seeds_dir, tmp_path, n) for n in names], CONFIG)
    assert notes.errors == ()
    return Bank(notes.stories, build_cards(notes.stories, CONFIG))


def clozes(card: Card) -> list[tuple[int, str]]:
    return [(int(n), html.unescape(body)) for n, body in CLOZE.findall(card.fields["Front"])]


def all_text(card: Card) -> str:
    return "\n".join([*card.fields.values(), card.deck, *card.tags])


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def each_seed() -> list[object]:
    return [pytest.param(name, id=name[:3]) for name in SEEDS]


# --- every seed -------------------------------------------------------------------------


@pytest.mark.parametrize("name", each_seed())
def test_no_card_holds_preamble_trailer_or_debris(
    seeds_dir: Path, tmp_path: Path, name: str
) -> None:
    bank = read_bank(seeds_dir, tmp_path, name)
    assert bank.cards
    for card in bank.cards:
        text = all_text(card).casefold()
        for scrap in NOT_ON_CARDS:
            assert scrap.casefold() not in text, (name, card.kind, scrap, card.front)


@pytest.mark.parametrize("name", each_seed())
def test_no_cloze_deletes_a_name_version_or_clock_time(
    seeds_dir: Path, tmp_path: Path, name: str
) -> None:
    bank = read_bank(seeds_dir, tmp_path, name)
    for card in bank.cards:
        if card.kind is not CardKind.METRIC:
            assert not clozes(card), (card.kind, card.front)
            continue
        deleted = clozes(card)
        assert deleted, card.front
        assert card.count == len({n for n, _ in deleted})
        for _, body in deleted:
            for name_like in NOT_METRICS:
                assert not re.search(rf"(?<!\w){re.escape(name_like)}(?!\w)", body), body
            assert not re.fullmatch(r"(19|20)\d\d", body), body


@pytest.mark.parametrize("name", each_seed())
def test_every_front_names_its_story_and_a_prompt_front_its_question(
    seeds_dir: Path, tmp_path: Path, name: str
) -> None:
    bank = read_bank(seeds_dir, tmp_path, name)
    for card in bank.cards:
        if card.kind is CardKind.PROMPT:
            question = html.unescape(card.fields["Question"])
            assert question
            assert f'<div class="sd-ask">{esc(question)}</div>' == card.fields["Front"]
        else:
            title = bank.story(card.story).title
            assert f'<div class="sd-story">{esc(title)}</div>' in card.front, card.front


@pytest.mark.parametrize("name", each_seed())
def test_every_back_holds_one_fact(seeds_dir: Path, tmp_path: Path, name: str) -> None:
    """One step, one lesson, one metric sentence, one answer; a prompt lists its stories."""
    bank = read_bank(seeds_dir, tmp_path, name)
    for card in bank.cards:
        back = card.back
        assert card.fields["Back"].strip(), (card.kind, card.front)
        if card.kind is CardKind.PROMPT:
            stories = len(card.stories)
            assert back.count("<li") == (stories if stories > 1 else 0)
            assert back.count('class="sd-answer-title"') == stories
            continue
        # Decided: no list on the back of a story's own card unless its source holds one,
        # and none of the seeds' steps, lessons or answers does.
        assert "<li" not in back, (card.kind, back)
        assert back.count("<p>") <= 1, (card.kind, back)
        if card.kind is CardKind.ACTION:
            assert back.count('class="sd-line"') <= 1
            assert "\n" not in card.fields["Back"]
        if card.kind is CardKind.METRIC:
            assert card.fields["Detail"] == "" or "{{" not in card.fields["Detail"]


@pytest.mark.parametrize("name", each_seed())
def test_action_cards_count_their_steps_and_cue_the_previous_one(
    seeds_dir: Path, tmp_path: Path, name: str
) -> None:
    bank = read_bank(seeds_dir, tmp_path, name)
    for story in bank.stories:
        actions = bank.cards_of(story, CardKind.ACTION)
        assert len(actions) == len(story.actions)
        for k, card in enumerate(actions, start=1):
            assert f"Step {k} of {len(actions)}" in card.fields["Front"]
            if k > 1:
                assert 'sd-cue-label">After:</span>' in card.fields["Front"]
        if actions and story.task:
            assert 'sd-cue-label">Task:</span>' in actions[0].fields["Front"]


# --- 000: one leadership story ----------------------------------------------------------


def test_000_has_five_steps_in_order_and_its_closing_statement_as_a_lesson(
    seeds_dir: Path, tmp_path: Path
) -> None:
    bank = read_bank(seeds_dir, tmp_path, SEED_000)
    (story,) = bank.stories
    actions = bank.cards_of(story, CardKind.ACTION)
    assert [html.unescape(c.fields["Back"]) for c in actions] == [
        "Established a Clear Leadership Framework",
        "Containment Through Rapid Decision-Making",
        "Cross-Team RCA Without Finger-Pointing",
        "Defined a Joint Recovery Plan",
        "Communication & Stakeholder Management",
    ]
    # The task is a list: the first cue is its lead-in with an item, not a bare colon.
    assert "I was responsible for: Owning the incident until resolution" in actions[0].front
    lessons = bank.cards_of(story, CardKind.LESSON)
    assert len(lessons) == 1
    assert "technical issues are rarely solved by technical skills alone" in lessons[0].back


# --- 001: an impact summary -------------------------------------------------------------


def test_001_answers_the_impact_question(seeds_dir: Path, tmp_path: Path) -> None:
    bank = read_bank(seeds_dir, tmp_path, SEED_001)
    prompts = [c for c in bank.cards if c.kind is CardKind.PROMPT]
    assert len(prompts) == 1
    assert "Impact I Brought into the System" in prompts[0].back
    assert html.unescape(prompts[0].fields["Question"]) == (
        "What impact have you had in your current role?"
    )


# --- 002: rough personal notes ----------------------------------------------------------

LISTED_002 = [
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
]


def test_002_clozes_at_least_six_listed_metrics(seeds_dir: Path, tmp_path: Path) -> None:
    bank = read_bank(seeds_dir, tmp_path, SEED_002)
    deleted = [body for c in bank.cards if c.kind is CardKind.METRIC for _, body in clozes(c)]
    found = [m for m in LISTED_002 if any(m in body for body in deleted)]
    assert len(found) >= 6, found
    metric_cards = [c for c in bank.cards if c.kind is CardKind.METRIC]
    assert len(metric_cards) >= 6 or sum(c.count for c in metric_cards) >= 6


def test_002_has_thirteen_steps_and_the_post_mortem_points_as_lessons(
    seeds_dir: Path, tmp_path: Path
) -> None:
    bank = read_bank(seeds_dir, tmp_path, SEED_002)
    (story,) = bank.stories
    assert len(bank.cards_of(story, CardKind.ACTION)) == 13
    lessons = bank.cards_of(story, CardKind.LESSON)
    assert len(lessons) == 3
    for k, (card, words) in enumerate(
        zip(
            lessons,
            ["our failure not to account", "written contracts", "PR reviews can overlook"],
            strict=True,
        ),
        start=1,
    ):
        assert words in html.unescape(re.sub(r"<[^>]+>", "", card.back))
        assert f"Lesson {k} of 3" in card.fields["Front"]


def test_002_a_prompt_card_per_question(seeds_dir: Path, tmp_path: Path) -> None:
    bank = read_bank(seeds_dir, tmp_path, SEED_002)
    questions = {
        html.unescape(c.fields["Question"]).casefold().rstrip("?.")
        for c in bank.cards
        if c.kind is CardKind.PROMPT
    }
    assert {
        "tell me about the hardest problem you had solved",
        "tell me about your biggest failure",
        "describe a technical mistake you have made recently",
    } <= questions


# --- 003: a PDF case study --------------------------------------------------------------


def test_003_five_steps_and_under_3_hours_clozed(seeds_dir: Path, tmp_path: Path) -> None:
    bank = read_bank(seeds_dir, tmp_path, SEED_003)
    (story,) = bank.stories
    actions = bank.cards_of(story, CardKind.ACTION)
    assert [html.unescape(c.fields["Back"]) for c in actions] == [
        "Inverted the Vendor's Assumption",
        "Protected Time and Attention",
        "Executed and Verified Mitigation",
        "Documented in Real Time",
        "Validated Post-Incident",
    ]
    deleted = [body for c in bank.cards if c.kind is CardKind.METRIC for _, body in clozes(c)]
    assert "under 3 hours" in deleted
    # A detail line keeps its closing quote.
    assert 'no "we\'ll follow up later."' in html.unescape(actions[1].back)


# --- 004: the guide, 5 themes x 3 levels ------------------------------------------------


def test_004_one_prompt_per_theme_and_level(seeds_dir: Path, tmp_path: Path) -> None:
    bank = read_bank(seeds_dir, tmp_path, SEED_004)
    assert len(bank.stories) == 15
    prompts = [c for c in bank.cards if c.kind is CardKind.PROMPT]
    assert len(prompts) == 15
    assert all(len(p.stories) == 1 for p in prompts)
    assert len({(p.deck, p.fields["Question"]) for p in prompts}) == 15


def test_004_action_cards_per_story(seeds_dir: Path, tmp_path: Path) -> None:
    bank = read_bank(seeds_dir, tmp_path, SEED_004)
    for story in bank.stories:
        expected = 6 if story.themes[0] == "production-incidents" and story.level != "L3" else 5
        assert len(bank.cards_of(story, CardKind.ACTION)) == expected, story.title


def test_004_incidents_l5(seeds_dir: Path, tmp_path: Path) -> None:
    bank = read_bank(seeds_dir, tmp_path, SEED_004)
    story = bank.find("production-incidents", "L5")
    (prompt,) = bank.cards_of(story, CardKind.PROMPT)
    assert prompt.stories == (story.id,)
    assert "Tell me about a time you handled a critical production issue." in prompt.front
    assert "Reduced MTTR from 4 hours to 45 minutes for similar incidents" in prompt.back
    actions = bank.cards_of(story, CardKind.ACTION)
    assert len(actions) == 6
    assert "Step 6 of 6" in actions[-1].fields["Front"]
    mttr = [c for c in bank.cards_of(story, CardKind.METRIC) if "MTTR" in c.front]
    assert len(mttr) == 1
    deleted = clozes(mttr[0])
    assert [body for _, body in deleted] == ["4 hours", "45 minutes"]
    assert deleted[0][0] == deleted[1][0]
    assert "{{c1::4 hours}}" in mttr[0].front
    assert "{{c1::45 minutes}}" in mttr[0].front
    assert mttr[0].count == 1
    assert mttr[0].deck == "Interview Stories::L5::Production Incidents"
    assert {"level::L5", "theme::production-incidents", "kind::metric"} <= set(mttr[0].tags)


def test_004_incidents_l3_clozes_the_money(seeds_dir: Path, tmp_path: Path) -> None:
    bank = read_bank(seeds_dir, tmp_path, SEED_004)
    story = bank.find("production-incidents", "L3")
    deleted = [body for c in bank.cards_of(story, CardKind.METRIC) for _, body in clozes(c)]
    assert "$50K/hour" in deleted
    assert "$200K" in deleted


def test_004_as_written_is_an_error_at_3_14(seeds_dir: Path) -> None:
    notes = read_notes([seeds_dir / SEED_004], CONFIG)
    errors = [d for d in notes.diagnostics if d.severity is Severity.ERROR]
    assert errors
    assert str(errors[0].location).endswith(f"{SEED_004}:3:14")
    assert notes.stories == ()


# --- across seeds -----------------------------------------------------------------------


def test_one_prompt_card_for_stories_of_two_notes_answering_one_question(
    seeds_dir: Path, tmp_path: Path
) -> None:
    """000 (L5, no question of its own: its theme's) and 004's L5 incident story."""
    bank = read_bank(seeds_dir, tmp_path, SEED_000, SEED_004)
    incident = next(s for s in bank.stories if s.id.startswith("000"))
    l5 = bank.find("production-incidents", "L5")
    shared = [
        c
        for c in bank.cards
        if c.kind is CardKind.PROMPT and "critical production issue" in c.fields["Question"]
    ]
    by_level = {c.deck.split("::")[1]: c for c in shared}
    assert len(by_level) == len(shared) == 3  # L3, L4, L5: one card each
    assert by_level["L5"].stories == (incident.id, l5.id)
    assert by_level["L5"].back.count('class="sd-answer-title"') == 2

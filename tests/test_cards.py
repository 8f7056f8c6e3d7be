"""Unit tests for storydeck.cards: Story values built here in, cards out, one rule at a time."""

from __future__ import annotations

import html
import re
from dataclasses import replace

import pytest

from storydeck.cards import (
    CUE_LIMIT,
    DETAIL_LIMIT,
    FIELDS,
    FRONT_LIMIT,
    LINE_LIMIT,
    Card,
    build_cards,
    clip,
    headline_result,
    lead_line,
    sentences,
)
from storydeck.config import config_from_text, default_config
from storydeck.model import CardKind, FollowUp, Location, Step, Story, Text
from storydeck.parse import parse_text

CONFIG = default_config()
PATH = "notes/wave3.md"
# An Anki cloze deletion: its number and its text.
CLOZE = re.compile(r"\{\{c(\d+)::(.*?)\}\}")
INCIDENT_QUESTION = "Tell me about a time you handled a critical production issue."


def t(plain: str, line: int = 1, html_text: str | None = None) -> Text:
    """A Text as the parser makes it from plain prose: the HTML is the escaped text."""
    rendered = html.escape(plain, quote=False) if html_text is None else html_text
    return Text(plain, rendered, Location(PATH, line))


def step(headline: str, detail: str = "", line: int = 10) -> Step:
    return Step(t(headline, line), t(detail, line + 1))


NO_TEXT = t("")

STORY = Story(
    id="wave3-drift",
    title="Wave-3 upgrade workflow drift",
    source=Location(PATH, 1),
    level="L5",
    themes=("production-incidents", "leadership"),
    questions=("Tell me about a time you handled a critical production issue.",),
    tags=("vmware",),
    situation=t(
        "During a large Wave-3 upgrade, several SDDCs got stuck between Phase-2 and Phase-3. "
        "Rollout stalled for 250+ enterprise customers.",
        3,
    ),
    task=t("Unblock the rollout before the maintenance window closed.", 5),
    actions=(
        step("Opened a war-room bridge", "Pulled in the four owning teams. Set an agenda.", 8),
        step("Paused Phase-2 triggers", "Used the feature flag system.", 10),
        step("Reconciled drifted workflows", "", 12),
    ),
    results=(
        t("Rollout resumed within the same maintenance window.", 15),
        t("MTTR fell from 4 hours to 45 minutes.", 16),
        t("No customer workload was impacted.", 17),
    ),
    lessons=(
        t("Restore determinism first; divide ownership later.", 20),
        t("Write contracts at every dependency point.", 21),
    ),
    followups=(
        FollowUp(t("What would you do differently?", 24), t("Add a reconciliation test.", 25)),
        FollowUp(t("How did others respond?", 27), t("They adopted the runbook.", 28)),
        FollowUp(t("How do you measure success?", 30), NO_TEXT),
    ),
)


def cards_of(*stories: Story, config_text: str = "") -> tuple[Card, ...]:
    config = config_from_text(config_text) if config_text else CONFIG
    return build_cards(stories, config)


def of_kind(cards: tuple[Card, ...], kind: CardKind) -> list[Card]:
    return [c for c in cards if c.kind is kind]


def clozes(text: str) -> list[tuple[int, str]]:
    return [(int(n), body) for n, body in CLOZE.findall(text)]


def lines(card: Card) -> list[str]:
    """The one-line detail divs on a card's back."""
    return re.findall(r'<div class="sd-line">(.*?)</div>', card.fields["Detail"])


def esc(text: str) -> str:
    return html.escape(text, quote=False)


# --- the whole story --------------------------------------------------------------------


def test_a_story_makes_one_card_per_fact_of_each_kind() -> None:
    cards = cards_of(STORY)
    kinds = [c.kind for c in cards]
    assert kinds.count(CardKind.PROMPT) == 1
    assert kinds.count(CardKind.ACTION) == 3
    assert kinds.count(CardKind.LESSON) == 2
    assert kinds.count(CardKind.FOLLOWUP) == 2  # the unanswered follow-up makes none
    # Situation: 250+ enterprise customers; results: the from->to change.
    assert kinds.count(CardKind.METRIC) == 2


def test_cards_come_in_story_order_then_kind_order() -> None:
    other = replace(STORY, id="second", title="Second story", level="L4")
    cards = cards_of(STORY, other)
    stories = [c.story for c in cards]
    assert stories == sorted(stories, key=["wave3-drift", "second"].index)
    order = list(CardKind)
    for story_id in ("wave3-drift", "second"):
        kinds = [order.index(c.kind) for c in cards if c.story == story_id]
        assert kinds == sorted(kinds)


def test_every_card_has_exactly_the_schema_fields() -> None:
    assert FIELDS == (
        "Front",
        "Back",
        "Detail",
        "Context",
        "Story",
        "Question",
        "Level",
        "Theme",
        "Kind",
        "Source",
    )
    for card in cards_of(STORY):
        assert tuple(card.fields) == FIELDS
        assert card.fields["Kind"] == card.kind.value
        assert card.front == "\n".join(
            p for p in (card.fields["Context"], card.fields["Front"]) if p
        )
        assert card.back == "\n".join(p for p in (card.fields["Back"], card.fields["Detail"]) if p)
        assert card.fields["Back"], f"{card.kind} card with an empty back"


def test_every_front_names_its_story_and_a_prompt_front_its_question() -> None:
    for card in cards_of(STORY):
        if card.kind is CardKind.PROMPT:
            assert esc(STORY.questions[0]) in card.fields["Front"]
            assert "L5" in card.front
        else:
            assert esc(STORY.title) in card.fields["Context"]
            assert esc(STORY.questions[0]) in card.fields["Context"]


def test_story_cards_carry_their_source_line() -> None:
    cards = cards_of(STORY)
    actions = of_kind(cards, CardKind.ACTION)
    assert [c.source.line for c in actions] == [8, 10, 12]
    assert actions[0].fields["Source"] == f"{PATH}:8"
    lesson = of_kind(cards, CardKind.LESSON)[1]
    assert lesson.fields["Source"] == f"{PATH}:21"


# --- action -----------------------------------------------------------------------------


def test_action_cards_count_steps_k_of_n() -> None:
    actions = of_kind(cards_of(STORY), CardKind.ACTION)
    for k, card in enumerate(actions, start=1):
        assert f"Step {k} of 3" in card.fields["Front"]
    assert [c.ordinal for c in actions] == [1, 2, 3]


def test_first_step_is_cued_by_the_task_and_later_steps_by_the_previous_step() -> None:
    actions = of_kind(cards_of(STORY), CardKind.ACTION)
    assert "Task:" in actions[0].fields["Front"]
    assert "Unblock the rollout before the maintenance window closed." in actions[0].front
    assert "After:</span> Opened a war-room bridge" in actions[1].fields["Front"]
    assert "After:</span> Paused Phase-2 triggers" in actions[2].fields["Front"]
    # A card never shows its own answer on the front.
    for card in actions:
        assert card.fields["Back"] not in card.fields["Front"]


def test_first_step_without_a_task_is_cued_by_the_situation() -> None:
    story = replace(STORY, task=None)
    first = of_kind(cards_of(story), CardKind.ACTION)[0]
    assert "Situation:</span> During a large Wave-3 upgrade" in first.fields["Front"]


def test_first_step_without_task_or_situation_has_no_cue() -> None:
    story = replace(STORY, task=None, situation=None)
    first = of_kind(cards_of(story), CardKind.ACTION)[0]
    assert "sd-cue" not in first.fields["Front"]
    assert "Step 1 of 3" in first.fields["Front"]


def test_a_long_task_cue_is_clipped_to_one_line() -> None:
    task = (
        "I had to introspect on why 100+ customers never hit this exact build, figure out "
        "the root cause, and retrospect on how this went uncaught in integration testing, "
        "load testing and the canary stage. Then fix it."
    )
    first = of_kind(cards_of(replace(STORY, task=t(task))), CardKind.ACTION)[0]
    cue = re.search(r'sd-cue-label">Task:</span> (.*?)</div>', first.fields["Front"])
    assert cue is not None
    assert len(html.unescape(cue.group(1))) <= CUE_LIMIT
    assert cue.group(1).endswith("…")
    assert cue.group(1).startswith("I had to introspect on why 100+ customers")


def test_a_task_that_introduces_a_list_cues_with_its_items_not_a_bare_colon() -> None:
    task = "As the lead, I was responsible for:\nOwning the incident\nKeeping everyone informed"
    first = of_kind(cards_of(replace(STORY, task=t(task))), CardKind.ACTION)[0]
    assert (
        "As the lead, I was responsible for: Owning the incident; Keeping everyone informed"
        in first.fields["Front"]
    )


def test_action_back_is_the_headline_and_one_line_of_detail() -> None:
    first = of_kind(cards_of(STORY), CardKind.ACTION)[0]
    assert first.fields["Back"] == "Opened a war-room bridge"
    assert lines(first) == ["Pulled in the four owning teams."]
    assert "Set an agenda" not in first.back
    third = of_kind(cards_of(STORY), CardKind.ACTION)[2]
    assert third.fields["Detail"] == ""


def test_action_detail_line_is_at_most_one_line() -> None:
    detail = "Checked every host in the fleet " + "and every workflow state " * 20 + "by hand."
    card = of_kind(cards_of(replace(STORY, actions=(step("Audited", detail),))), CardKind.ACTION)[0]
    (line,) = lines(card)
    assert len(html.unescape(line)) <= DETAIL_LIMIT
    assert line.endswith("…")


def test_a_step_whose_headline_is_a_whole_paragraph_keeps_its_first_sentence() -> None:
    paragraph = (
        "Compared the org settings and found audit trail enabled org wide, overriding the "
        "table and column level settings that our feature relied on for every write. "
        "This was against the usual recommendation from the platform team to customers. "
        + "It also explained a long tail of unrelated slow requests. "
        * 3
    )
    assert len(paragraph) > FRONT_LIMIT
    story = replace(STORY, actions=(step(paragraph, "Filed a bug with the platform team."),))
    card = of_kind(cards_of(story), CardKind.ACTION)[0]
    assert card.fields["Back"] == (
        "Compared the org settings and found audit trail enabled org wide, overriding the "
        "table and column level settings that our feature relied on for every write."
    )
    assert lines(card) == [
        "This was against the usual recommendation from the platform team to customers."
    ]
    assert "long tail" not in card.back


def test_steps_without_text_make_no_card_and_are_not_counted() -> None:
    story = replace(STORY, actions=(step("First"), Step(NO_TEXT, NO_TEXT), step("Second")))
    actions = of_kind(cards_of(story), CardKind.ACTION)
    assert [c.fields["Back"] for c in actions] == ["First", "Second"]
    assert "Step 2 of 2" in actions[1].fields["Front"]
    assert "After:</span> First" in actions[1].fields["Front"]


def test_a_step_with_only_detail_uses_its_first_sentence_as_headline() -> None:
    story = replace(STORY, actions=(Step(NO_TEXT, t("Rolled back the deploy. Then paged SRE.")),))
    card = of_kind(cards_of(story), CardKind.ACTION)[0]
    assert card.fields["Back"] == "Rolled back the deploy."
    assert lines(card) == ["Then paged SRE."]


def test_a_step_whose_detail_is_a_list_shows_one_line_never_the_list() -> None:
    detail = Text(
        "I pulled in:\nRCE\nSRE\nHost-Management",
        "<p>I pulled in:</p>\n<ul>\n<li>RCE</li>\n<li>SRE</li>\n<li>Host-Management</li>\n</ul>",
        Location(PATH, 9),
    )
    story = replace(STORY, actions=(Step(t("Opened a bridge"), detail),))
    card = of_kind(cards_of(story), CardKind.ACTION)[0]
    assert "<li" not in card.back
    assert lines(card) == ["I pulled in: RCE; SRE; Host-Management"]


def test_a_lesson_that_is_itself_a_list_keeps_it_as_one_lesson() -> None:
    lesson = Text(
        "Contracts beat assumptions:\nwrite them\nreview them",
        "<p>Contracts beat assumptions:</p>\n"
        "<ul>\n<li>write them</li>\n<li>review them</li>\n</ul>",
        Location(PATH, 20),
    )
    (card,) = of_kind(cards_of(replace(STORY, lessons=(lesson,))), CardKind.LESSON)
    assert card.fields["Back"] == lesson.html
    assert "Lesson 1 of 1" in card.fields["Front"]


def test_a_step_keeps_its_markup() -> None:
    story = replace(
        STORY,
        actions=(
            Step(t("Opened a bridge", html_text="Opened a <strong>bridge</strong>"), NO_TEXT),
        ),
    )
    card = of_kind(cards_of(story), CardKind.ACTION)[0]
    assert card.fields["Back"] == "Opened a <strong>bridge</strong>"


# --- lesson -----------------------------------------------------------------------------


def test_lesson_cards_count_k_of_n_and_hold_one_lesson() -> None:
    lessons = of_kind(cards_of(STORY), CardKind.LESSON)
    assert [c.fields["Back"] for c in lessons] == [
        "Restore determinism first; divide ownership later.",
        "Write contracts at every dependency point.",
    ]
    for k, card in enumerate(lessons, start=1):
        assert f"Lesson {k} of 2" in card.fields["Front"]
        assert esc(STORY.title) in card.front
        assert "<li>" not in card.back


def test_empty_lessons_make_no_card_and_are_not_counted() -> None:
    story = replace(STORY, lessons=(t("Only one."), NO_TEXT))
    (lesson,) = of_kind(cards_of(story), CardKind.LESSON)
    assert "Lesson 1 of 1" in lesson.fields["Front"]


# --- follow-up --------------------------------------------------------------------------


def test_followup_cards_ask_the_question_in_the_story_and_answer_it() -> None:
    followups = of_kind(cards_of(STORY), CardKind.FOLLOWUP)
    assert len(followups) == 2
    first = followups[0]
    assert "What would you do differently?" in first.fields["Front"]
    assert esc(STORY.title) in first.front
    assert first.fields["Back"] == "Add a reconciliation test."
    assert all("How do you measure success?" not in c.front for c in followups)


def test_a_long_followup_question_is_trimmed_on_the_front_and_kept_whole_on_the_back() -> None:
    question = (
        "Suppose the other team had refused to join the bridge at all. "
        + "What would you have done, given the pressure and the missing context? " * 5
    )
    assert len(question) > FRONT_LIMIT
    story = replace(STORY, followups=(FollowUp(t(question), t("Escalated early.")),))
    (card,) = of_kind(cards_of(story), CardKind.FOLLOWUP)
    assert "Suppose the other team had refused to join the bridge at all." in card.fields["Front"]
    assert "What would you have done" not in card.fields["Front"]
    assert card.fields["Detail"] == esc(question)
    assert card.fields["Back"] == "Escalated early."


# --- metric -----------------------------------------------------------------------------


def test_a_from_to_change_is_one_cloze_with_both_ends() -> None:
    metric = next(c for c in of_kind(cards_of(STORY), CardKind.METRIC) if "MTTR" in c.front)
    assert clozes(metric.fields["Front"]) == [(1, "4 hours"), (1, "45 minutes")]
    assert metric.fields["Front"] == "MTTR fell from {{c1::4 hours}} to {{c1::45 minutes}}."
    assert metric.fields["Back"] == "4 hours → 45 minutes"
    assert metric.count == 1
    assert metric.is_cloze


def test_several_quantities_in_one_sentence_are_numbered_c1_c2() -> None:
    story = replace(
        STORY,
        results=(t("Fixed the issue within 45 minutes, prevented $200K loss for 3 teams."),),
    )
    (metric,) = [c for c in of_kind(cards_of(story), CardKind.METRIC) if "$200K" in c.front]
    assert clozes(metric.fields["Front"]) == [
        (1, "within 45 minutes"),
        (2, "$200K"),
        (3, "3 teams"),
    ]
    assert metric.count == 3


def test_metric_card_shows_only_its_sentence_not_the_paragraph() -> None:
    situation = (
        "Checkout failed during Black Friday. It cost $50K/hour in revenue. "
        "The team was scrambling and nobody owned the fix."
    )
    story = replace(STORY, situation=t(situation), results=(), actions=(), task=None)
    (metric,) = of_kind(cards_of(story), CardKind.METRIC)
    assert metric.fields["Front"] == "It cost {{c1::$50K/hour}} in revenue."
    assert "Black Friday" not in metric.front
    assert '<div class="sd-where">Situation</div>' in metric.fields["Context"]


def test_names_versions_and_clock_times_are_never_clozed() -> None:
    story = replace(
        STORY,
        situation=t("At 4:15 pm the Wave-3 rollout on MySQL 5.7 stalled in Phase-2."),
        results=(t("Released version 2.3.1 to L5 customers on 2024-03-01."),),
        actions=(step("Step 3 of the runbook"),),
        task=None,
    )
    assert of_kind(cards_of(story), CardKind.METRIC) == []


def test_metrics_in_action_steps_become_cards_too() -> None:
    story = replace(STORY, actions=(step("Led daily reviews during the 3-day recovery"),))
    sections = [
        re.search(r'sd-where">(\w+)<', c.fields["Context"]).group(1)  # type: ignore[union-attr]
        for c in of_kind(cards_of(story), CardKind.METRIC)
    ]
    assert "Action" in sections


def test_a_sentence_repeated_in_two_sections_makes_one_metric_card() -> None:
    sentence = "Rollout stalled for 250+ enterprise customers."
    story = replace(STORY, situation=t(sentence), results=(t(sentence),), task=None)
    assert len([c for c in of_kind(cards_of(story), CardKind.METRIC) if "250+" in c.front]) == 1


def test_a_long_metric_sentence_shows_the_clauses_around_its_quantity() -> None:
    sentence = (
        "After the public preview of the complete roll out, which had taken most of the "
        "quarter and every spare hand the platform organisation could lend us, exactly one "
        "of our largest enterprise clients, a payroll provider with offices on four "
        "continents, raised a severity two incident that cost $1.2M per day in downstream "
        "impact, according to their own finance team and the account manager"
    )
    assert len(sentence) > FRONT_LIMIT
    story = replace(STORY, situation=t(sentence + "."), results=(), actions=(), task=None)
    (metric,) = of_kind(cards_of(story), CardKind.METRIC)
    assert metric.fields["Front"] == (
        "…raised a severity two incident that cost {{c1::$1.2M per day}} in downstream impact…"
    )
    assert metric.fields["Detail"] == esc(sentence + ".")
    assert len(metric.fields["Front"]) <= FRONT_LIMIT


# --- prompt -----------------------------------------------------------------------------


def test_prompt_card_asks_the_question_and_answers_with_story_situation_and_result() -> None:
    (prompt,) = of_kind(cards_of(STORY), CardKind.PROMPT)
    assert prompt.fields["Front"] == f'<div class="sd-ask">{esc(INCIDENT_QUESTION)}</div>'
    assert prompt.fields["Context"] == '<div class="sd-level">L5 · Production Incidents</div>'
    back = prompt.fields["Back"]
    assert '<div class="sd-answer-title">Wave-3 upgrade workflow drift</div>' in back
    assert (
        '<div class="sd-line">During a large Wave-3 upgrade, several SDDCs got stuck between '
        "Phase-2 and Phase-3.</div>"
    ) in back
    # The headline result is the one with the from->to change, not the first result.
    assert '<div class="sd-result">MTTR fell from 4 hours to 45 minutes.</div>' in back
    assert prompt.fields["Question"] == esc(INCIDENT_QUESTION)
    assert prompt.stories == ("wave3-drift",)


def test_stories_answering_one_question_at_one_level_share_one_prompt_card() -> None:
    other = replace(
        STORY,
        id="checkout",
        title="Checkout outage",
        themes=("production-incidents",),
        # The same question, spelled differently.
        questions=("tell me about a time you handled a critical production issue",),
        source=Location("notes/checkout.md", 1),
    )
    prompts = of_kind(cards_of(STORY, other), CardKind.PROMPT)
    assert len(prompts) == 1
    (prompt,) = prompts
    assert prompt.stories == ("wave3-drift", "checkout")
    assert prompt.fields["Back"].count('<li class="sd-answer">') == 2
    assert "Wave-3 upgrade workflow drift" in prompt.fields["Back"]
    assert "Checkout outage" in prompt.fields["Back"]
    assert {"story::wave3-drift", "story::checkout"} <= set(prompt.tags)
    assert prompt.fields["Source"] == f"{PATH}:1, notes/checkout.md:1"


def test_prompt_cards_are_not_shared_across_levels() -> None:
    other = replace(STORY, id="junior", title="Junior version", level="L3")
    prompts = of_kind(cards_of(STORY, other), CardKind.PROMPT)
    assert len(prompts) == 2
    assert sorted(p.stories for p in prompts) == [("junior",), ("wave3-drift",)]
    assert {p.deck for p in prompts} == {
        "Interview Stories::L5::Production Incidents",
        "Interview Stories::L3::Production Incidents",
    }
    assert len({p.key for p in prompts}) == 2


def test_a_story_without_a_question_gets_its_theme_example_question() -> None:
    story = replace(STORY, questions=(), themes=("technical-debt",))
    (prompt,) = of_kind(cards_of(story), CardKind.PROMPT)
    assert "Tell me about a significant refactoring you led." in prompt.fields["Front"]
    lesson = of_kind(cards_of(story), CardKind.LESSON)[0]
    assert "Tell me about a significant refactoring you led." in lesson.fields["Context"]


def test_theme_fallback_skips_themes_without_a_question() -> None:
    story = replace(STORY, questions=(), themes=("no-such-theme", "conflict"))
    (prompt,) = of_kind(cards_of(story), CardKind.PROMPT)
    assert "Tell me about a conflict with a colleague" in prompt.fields["Front"]


def test_a_story_with_neither_question_nor_theme_has_no_prompt_card() -> None:
    story = replace(STORY, questions=(), themes=())
    cards = cards_of(story)
    assert of_kind(cards, CardKind.PROMPT) == []
    assert 'class="sd-question"' not in of_kind(cards, CardKind.ACTION)[0].fields["Context"]


def test_each_question_of_a_story_gets_its_own_prompt_card_once() -> None:
    story = replace(
        STORY,
        questions=(
            "Tell me about your biggest failure",
            "Describe a technical mistake you made recently?",
            "Tell me about your biggest failure.",
        ),
    )
    prompts = of_kind(cards_of(story), CardKind.PROMPT)
    assert [html.unescape(p.fields["Question"]) for p in prompts] == [
        "Tell me about your biggest failure",
        "Describe a technical mistake you made recently?",
    ]


def test_headline_result_prefers_a_change_then_any_metric_then_the_first() -> None:
    assert headline_result(STORY) == "MTTR fell from 4 hours to 45 minutes."
    plain = replace(STORY, results=(t("Shipped it."), t("Everyone was happy.")))
    assert headline_result(plain) == "Shipped it."
    counted = replace(
        STORY,
        results=(
            t("Customer acked the response. They bought $200k more licenses."),
            t("Resolved within 1 business day."),
        ),
    )
    # The sentence that holds the number, not the first sentence of its result.
    assert headline_result(counted) == "They bought $200k more licenses."
    assert headline_result(replace(STORY, results=())) == ""


def test_a_prompt_back_without_situation_uses_the_summary_and_never_is_empty() -> None:
    story = replace(STORY, situation=None, task=None, results=(), summary=t("One-line pitch."))
    (prompt,) = of_kind(cards_of(story), CardKind.PROMPT)
    assert '<div class="sd-line">One-line pitch.</div>' in prompt.fields["Back"]
    assert "sd-result" not in prompt.fields["Back"]
    bare = replace(story, summary=None)
    (prompt,) = of_kind(cards_of(bare), CardKind.PROMPT)
    assert prompt.fields["Back"] == (
        '<div class="sd-answer"><div class="sd-answer-title">'
        "Wave-3 upgrade workflow drift</div></div>"
    )


def test_a_long_question_is_trimmed_on_the_prompt_front() -> None:
    question = "Tell me about a time you handled a critical production issue. " + (
        "Walk me through who you involved, what you decided and why, and what changed after. " * 4
    )
    (prompt,) = of_kind(cards_of(replace(STORY, questions=(question,))), CardKind.PROMPT)
    assert prompt.fields["Front"] == f'<div class="sd-ask">{esc(INCIDENT_QUESTION)}</div>'
    assert prompt.fields["Detail"] == esc(question)


# --- escaping ---------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"


def test_no_script_from_any_story_text_reaches_a_card_unescaped() -> None:
    story = Story(
        id="xss",
        title=f"Title {SCRIPT}",
        source=Location(f"notes/{SCRIPT}.md", 1),
        level=f"L5{SCRIPT}",
        themes=(f"theme{SCRIPT}",),
        questions=(f"Question {SCRIPT}?",),
        tags=(f"tag{SCRIPT}",),
        summary=t(f"Summary {SCRIPT}"),
        situation=t(f"Situation {SCRIPT} cost $50K/hour."),
        task=t(f"Task {SCRIPT}"),
        actions=(
            step(f"Step {SCRIPT}", f"Detail {SCRIPT}"),
            step(f"Another {SCRIPT} " + "very long sentence " * 20 + f"{SCRIPT}."),
        ),
        results=(t(f"Cut MTTR from 4 hours to 45 minutes {SCRIPT}."),),
        lessons=(t(f"Lesson {SCRIPT}"),),
        followups=(FollowUp(t(f"Why {SCRIPT}?"), t(f"Because {SCRIPT}")),),
    )
    cards = cards_of(story)
    assert {c.kind for c in cards} == set(CardKind)
    for card in cards:
        for name, value in card.fields.items():
            assert "<script" not in value, (card.kind, name, value)
    texts = "".join(v for c in cards for v in c.fields.values())
    assert "&lt;script&gt;" in texts


def test_ampersands_and_angle_brackets_in_titles_are_escaped_once() -> None:
    story = replace(STORY, title="R&D <team> drift", questions=("Q & A?",))
    for card in cards_of(story):
        assert "R&amp;D &lt;team&gt; drift" in card.fields["Story"]
        assert "&amp;amp;" not in "".join(card.fields.values())
    action = of_kind(cards_of(story), CardKind.ACTION)[0]
    assert '<div class="sd-story">R&amp;D &lt;team&gt; drift</div>' in action.fields["Context"]


def test_raw_html_in_a_parsed_note_reaches_no_card() -> None:
    note = (
        "---\ntitle: Drift <script>alert(1)</script>\nlevel: L5\nthemes: [production-incidents]\n"
        "---\n\n## Situation\nA <script>alert(2)</script> cost $50K/hour.\n\n## Task\nFix it.\n\n"
        "## Action\n1. **Opened** <img src=x onerror=alert(3)> a bridge\n2. Paused triggers\n\n"
        "## Result\n- MTTR fell from 4 hours to 45 minutes <b onclick=alert(4)>x</b>\n\n"
        "## Lessons\n- Never <iframe src=evil></iframe> again\n"
    )
    result = parse_text(note, "notes/xss.md", CONFIG)
    cards = build_cards(result.stories, CONFIG)
    assert of_kind(cards, CardKind.ACTION)
    assert of_kind(cards, CardKind.METRIC)
    for card in cards:
        for value in card.fields.values():
            lowered = value.lower()
            for raw in ("<script", "<img", "<iframe", "<b onclick"):
                assert raw not in lowered, (card.kind, value)


# --- trimming ---------------------------------------------------------------------------


def test_no_front_is_longer_than_a_phone_screen_plus_its_context() -> None:
    long = "This is a long sentence about the incident and its aftermath " * 8
    story = replace(
        STORY,
        task=t(long),
        actions=(step(long + "."), step("Then " + long + ".")),
        followups=(FollowUp(t(long + "?"), t("Yes.")),),
        questions=(long + "?",),
    )
    for card in cards_of(story):
        assert len(html.unescape(re.sub(r"<[^>]+>", "", card.fields["Front"]))) <= FRONT_LIMIT


# --- decks and tags ---------------------------------------------------------------------


def test_deck_is_root_level_and_theme_title() -> None:
    for card in cards_of(STORY):
        assert card.deck == "Interview Stories::L5::Production Incidents"


def test_deck_root_comes_from_the_config() -> None:
    cards = cards_of(STORY, config_text="deck_root: My Prep\n")
    assert {c.deck for c in cards} == {"My Prep::L5::Production Incidents"}


def test_unknown_level_and_theme_go_to_unleveled_and_general() -> None:
    story = replace(STORY, level=None, themes=())
    cards = cards_of(story)
    assert {c.deck for c in cards} == {"Interview Stories::Unleveled::General"}
    assert all(c.fields["Level"] == "Unleveled" and c.fields["Theme"] == "General" for c in cards)
    (prompt,) = of_kind(cards, CardKind.PROMPT)  # its own question still makes a prompt
    assert "Unleveled · General" in prompt.fields["Context"]


def test_a_theme_missing_from_the_config_reads_as_its_words() -> None:
    story = replace(STORY, themes=("data-migrations",))
    assert {c.deck for c in cards_of(story)} == {"Interview Stories::L5::Data Migrations"}


def test_tags_name_tool_level_every_theme_kind_story_and_note_tags() -> None:
    cards = cards_of(STORY)
    for card in cards:
        assert {
            "storydeck",
            "level::L5",
            "theme::production-incidents",
            "theme::leadership",
            f"kind::{card.kind.value}",
            "story::wave3-drift",
            "vmware",
        } == set(card.tags)
    (metric, *_) = of_kind(cards, CardKind.METRIC)
    assert "kind::metric" in metric.tags


def test_tags_have_no_spaces_and_no_case_duplicates() -> None:
    story = replace(
        STORY,
        id="wave 3 drift",
        tags=("cloud migration", " vmware ", "VMware", "Storydeck"),
        level=None,
    )
    for card in cards_of(story):
        assert all(" " not in tag and tag for tag in card.tags)
        assert "story::wave_3_drift" in card.tags
        assert "cloud_migration" in card.tags
        assert "level::unleveled" in card.tags
        folded = [tag.casefold() for tag in card.tags]
        assert len(folded) == len(set(folded))


# --- text helpers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two.", ["One.", "Two."]),
        ('She said "no hand-offs." Then left.', ['She said "no hand-offs."', "Then left."]),
        ("Use a cache, e.g. Redis. Done.", ["Use a cache, e.g. Redis.", "Done."]),
        (
            "It cost $1.2M per day. Then 3 teams joined.",
            ["It cost $1.2M per day.", "Then 3 teams joined."],
        ),
        ("Lower case. after a period stays", ["Lower case. after a period stays"]),
        ("First line\nsecond line", ["First line", "second line"]),
        ("MySQL 5.7 was old. Wave-3 slipped!", ["MySQL 5.7 was old.", "Wave-3 slipped!"]),
        ("", []),
    ],
)
def test_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_clip_cuts_at_a_clause_then_a_word_and_marks_the_cut() -> None:
    assert clip("short", 10) == "short"
    assert clip("alpha beta gamma delta", 12) == "alpha beta…"
    text = "We paused the rollout, paged the owners, and wrote the timeline down for later"
    assert clip(text, 50) == "We paused the rollout, paged the owners…"
    for limit in (5, 20, 60):
        assert len(clip(text, limit)) <= limit


def test_lead_line() -> None:
    assert lead_line("One sentence. Another.", 100) == "One sentence."
    assert lead_line("Values began\nchanging unpredictably.", 100) == (
        "Values began changing unpredictably."
    )
    assert lead_line("Teams joined:\nRCE\nSRE\nNext part:\nmore", 100) == "Teams joined: RCE; SRE"
    assert lead_line("I framed it as:\n" + "x" * 200, 60) == "I framed it as: …"
    assert lead_line("Teams joined:\nRCE\n" + "y" * 200, 60) == "Teams joined: RCE…"
    assert lead_line("", 10) == ""
    assert len(lead_line("word " * 100, LINE_LIMIT)) <= LINE_LIMIT


def test_copies_of_a_card_keep_every_field() -> None:
    """`with_guid`/`with_fields` build cards directly (fast); they must miss no field."""
    card = cards_of(STORY)[0]
    assert replace(card, guid="g") == card.with_guid("g")
    assert card.with_guid("g").guid == "g"
    assert card.with_guid("g").fingerprint == card.fingerprint
    moved = card.with_fields(card.fields | {"Source": "elsewhere.md:1"})
    assert moved == replace(card, fields=moved.fields)
    assert moved.fingerprint != card.fingerprint

"""The loop the product exists for, run against Anki's own importer.

Build, import, study, edit a note, build and import again: edited cards update
in place, review history is never lost, nothing is duplicated.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from anki.collection import Collection
from click.testing import Result

from ankitools import (
    EASY,
    GOOD,
    CollectionSnapshot,
    import_apkg,
    make_due,
    open_collection,
    review_all,
    snapshot,
)
from conftest import EPOCH, REPO
from storydeck import templates
from storydeck.package import REMOVED_TAG
from storydeck.templates import CLOZE_ID, QA_ID

# --- notes as data ------------------------------------------------------------------------


@dataclass
class Note:
    """A canonical story note, easy to edit in a test."""

    id: str
    title: str
    level: str
    themes: list[str]
    questions: list[str]
    situation: str
    task: str
    steps: list[str]
    results: list[str]
    lessons: list[str]
    followups: list[tuple[str, str]] = field(default_factory=list)

    def text(self) -> str:
        lines = [
            "---",
            f"id: {self.id}",
            f"title: {self.title}",
            f"level: {self.level}",
            f"themes: [{', '.join(self.themes)}]",
            "questions:",
            *(f"  - {q}" for q in self.questions),
            "---",
            "",
            "## Situation",
            self.situation,
            "",
            "## Task",
            self.task,
            "",
            "## Action",
            *(f"{n}. {step}" for n, step in enumerate(self.steps, start=1)),
            "",
            "## Result",
            *(f"- {r}" for r in self.results),
            "",
            "## Lessons",
            *(f"- {lesson}" for lesson in self.lessons),
            "",
            "## Follow-ups",
        ]
        for question, answer in self.followups:
            lines += [f"### {question}", answer, ""]
        return "\n".join(lines) + "\n"

    def write(self, notes: Path) -> None:
        (notes / f"{self.id}.md").write_text(self.text(), encoding="utf-8")


def outage() -> Note:
    return Note(
        id="queue-outage",
        title="Message queue outage during a launch",
        level="L5",
        themes=["production-incidents", "leadership"],
        questions=["Tell me about a time you handled a critical production issue."],
        situation=(
            "A launch-day traffic spike filled our message queue and 30% of orders stalled. "
            "Every stalled hour cost about $80K in delayed revenue."
        ),
        task="Restore order flow and stop the backlog from growing again.",
        steps=[
            "**Declared an incident** — paged the owners of the queue and the order service.",
            "**Throttled the producers** — capped the batch importer so live orders got through.",
            "**Scaled the consumers** — doubled the consumer pool after checking the database.",
            "**Drained the backlog** — replayed stalled orders in small batches.",
        ],
        results=[
            "Order flow recovered within 40 minutes.",
            "The backlog of 12,000 orders cleared in 3 hours.",
            "Queue alerts now fire at 60% capacity instead of at overflow.",
        ],
        lessons=[
            "Batch jobs need their own capacity budget, separate from live traffic.",
            "Alert on the slope of a queue, not only on its size.",
            "A written incident role list saves the first ten minutes.",
        ],
        followups=[
            ("What would you do differently now?", "Load-test the importer before launch day."),
            ("How do you measure success?", "Stalled orders per hour and time to recovery."),
        ],
    )


def refactor() -> Note:
    return Note(
        id="billing-refactor",
        title="Untangling the billing module",
        level="L4",
        themes=["technical-debt"],
        questions=["Tell me about a significant refactoring you led."],
        situation="Billing changes took 3 weeks because one 4,000-line class did everything.",
        task="Make billing changes safe and fast without a rewrite.",
        steps=[
            "**Pinned behaviour with tests** — wrote characterisation tests first.",
            "**Split by responsibility** — extracted pricing, invoicing and tax.",
            "**Migrated callers gradually** — behind a flag, one caller at a time.",
        ],
        results=["Billing changes now ship in 4 days.", "Billing incidents fell by 70%."],
        lessons=["Characterisation tests make a refactor boring, which is the point."],
        followups=[("How did you build consensus?", "I showed the incident history first.")],
    )


# --- running the loop ---------------------------------------------------------------------


@dataclass
class Loop:
    """One user's setup: notes, decks, an Anki collection and a clock."""

    notes: Path
    decks: Path
    col: Collection
    cli: Callable[..., Result]
    set_time: Callable[[int], None]
    now: int = EPOCH
    builds: list[dict[str, Any]] = field(default_factory=list)

    def build(self) -> dict[str, Any]:
        self.now += 3600  # an hour between builds
        self.set_time(self.now)
        result = self.cli("build", self.notes, "-o", self.decks, "--json")
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        self.builds.append(summary)
        return summary

    def dump(self) -> dict[str, Any]:
        result = self.cli("dump", self.notes, "--json")
        assert result.exit_code == 0, result.output
        data: dict[str, Any] = json.loads(result.stdout)
        return data

    def import_all(self) -> dict[str, int]:
        return import_apkg(self.col, self.decks / "storydeck-all.apkg").counts()

    def study(self) -> None:
        review_all(self.col, GOOD)
        review_all(self.col, EASY)
        make_due(self.col)
        review_all(self.col, GOOD)


@pytest.fixture
def loop(tmp_path: Path, cli: Callable[..., Result], fixed_time: Callable[[int], None]) -> Loop:
    notes = tmp_path / "notes"
    notes.mkdir()
    col = open_collection(tmp_path / "collection.anki2")
    yield Loop(notes, tmp_path / "decks", col, cli, fixed_time)  # type: ignore[misc]
    col.close()


def card_guids(dump: dict[str, Any], **where: str) -> list[str]:
    return [c["guid"] for c in dump["cards"] if all(c.get(k) == v for k, v in where.items())]


def assert_history_kept(
    before: CollectionSnapshot, after: CollectionSnapshot, guids: Sequence[str]
) -> None:
    """Each note keeps its id, and each of its cards its id, scheduling and revlog rows."""
    for guid in guids:
        assert after.note(guid).id == before.note(guid).id, guid
        for old in before.cards_of(guid):
            new = after.cards[old.id]
            assert new.note_guid == guid
            assert (new.reps, new.ivl, new.lapses, new.due, new.queue) == (
                old.reps,
                old.ivl,
                old.lapses,
                old.due,
                old.queue,
            ), guid
            assert after.history(old.id) == before.history(old.id), guid


# --- the tests ----------------------------------------------------------------------------


@pytest.mark.usefixtures("fixed_time")
def test_fresh_import_of_the_shipped_decks_matches_dump(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    notes = tmp_path / "source_notes"
    shutil.copytree(REPO / "source_notes", notes)
    lock_before = (notes / "storydeck.lock").read_bytes()
    built = cli("build", notes, "-o", tmp_path / "decks", "--json")
    assert built.exit_code == 0, built.output
    # the shipped lock is current: building the shipped notes does not change it
    assert (notes / "storydeck.lock").read_bytes() == lock_before
    dump = json.loads(cli("dump", notes, "--json").stdout)
    cards = dump["cards"]

    col = open_collection(tmp_path / "c.anki2")
    try:
        summary = import_apkg(col, tmp_path / "decks" / "storydeck-all.apkg")
        snap = snapshot(col)
    finally:
        col.close()

    assert summary.counts() == {"new": len(cards)}
    assert sorted(snap.notes) == sorted(c["guid"] for c in cards)
    assert len(snap.cards) == sum(c["anki_cards"] for c in cards)
    decks = {c["deck"] for c in cards}
    deck_tree = {"::".join(d.split("::")[: i + 1]) for d in decks for i in range(3)}
    assert set(snap.decks) - {"Default"} == deck_tree
    tags = {t for c in cards for t in c["tags"]}
    assert {t.casefold() for t in snap.tags} >= {t.casefold() for t in tags}
    for card in cards:
        note = snap.note(card["guid"])
        assert sorted(note.tags, key=str.casefold) == sorted(card["tags"], key=str.casefold)
        assert {c.deck for c in snap.cards_of(card["guid"])} == {card["deck"]}
        assert note.fields == card["fields"]


def test_reimporting_an_unchanged_build_changes_nothing(loop: Loop) -> None:
    outage().write(loop.notes)
    loop.build()
    assert loop.import_all()["new"] > 0
    loop.study()
    before = snapshot(loop.col)
    second = loop.build()
    assert second["new"] == second["updated"] == 0
    assert not any(f["written"] for f in second["files"])
    counts = loop.import_all()
    assert counts == {"duplicate": len(before.notes)}
    assert snapshot(loop.col) == before


def test_edit_insert_reorder_delete_and_relevel_keep_history(loop: Loop) -> None:
    story, other = outage(), refactor()
    story.write(loop.notes)
    other.write(loop.notes)
    loop.build()
    first = loop.dump()
    loop.import_all()
    loop.study()
    before = snapshot(loop.col)
    assert all(c.reps > 0 for c in before.cards.values())
    assert any(c.ivl > 0 for c in before.cards.values())

    steps_before = card_guids(first, story=story.id, kind="action")
    lessons_before = card_guids(first, story=story.id, kind="lesson")
    other_guids = [c["guid"] for c in first["cards"] if c["stories"] == [other.id]]
    deleted_result = story.results[1]
    deleted_metric = next(
        c["guid"]
        for c in first["cards"]
        if c["kind"] == "metric" and "12,000" in c["fields"]["Front"]
    )

    # the edits a user makes
    story.steps[2] = (
        "**Scaled out the consumers** — tripled the consumer pool once the database had headroom."
    )
    story.steps.insert(2, "**Checked the database** — confirmed it could take more consumers.")
    story.lessons[0], story.lessons[1] = story.lessons[1], story.lessons[0]
    story.results.remove(deleted_result)
    story.level = "L4"
    story.write(loop.notes)
    summary = loop.build()
    second = loop.dump()
    counts = loop.import_all()
    after = snapshot(loop.col)

    # no duplicates: every note of the build is there once, plus the removed one
    live = [c["guid"] for c in second["cards"]]
    assert len(set(live)) == len(live)
    assert set(after.notes) == set(live) | {deleted_metric}
    assert len(after.notes) == len(before.notes) + summary["new"]
    # every surviving card keeps note id, card id, reps, interval and revlog
    surviving = [g for g in before.notes if g in set(live)]
    assert len(surviving) == len(before.notes) - 1
    assert_history_kept(before, after, surviving)
    # the edited step shows its new text, under the same guid as before
    steps_after = card_guids(second, story=story.id, kind="action")
    assert steps_after[0:2] == steps_before[0:2]
    assert steps_after[3] == steps_before[2]
    assert steps_after[4] == steps_before[3]
    edited = after.note(steps_after[3])
    assert "Scaled out the consumers" in edited.fields["Back"]
    assert "tripled the consumer pool" in edited.fields["Detail"]
    # the new step is a new card, with no history
    new_step = steps_after[2]
    assert new_step not in before.notes
    assert "Checked the database" in after.note(new_step).fields["Back"]
    assert all(c.reps == 0 for c in after.cards_of(new_step))
    # reordered lessons keep their guids, each following its text
    lessons_after = card_guids(second, story=story.id, kind="lesson")
    assert lessons_after[:2] == [lessons_before[1], lessons_before[0]]
    # the deleted result's card is kept, tagged for deletion
    assert REMOVED_TAG in after.note(deleted_metric).tags
    assert after.cards_of(deleted_metric)[0].reps == before.cards_of(deleted_metric)[0].reps
    # notes whose content did not change keep their mod; the other story is untouched
    for guid in other_guids:
        assert after.note(guid).mod == before.note(guid).mod, guid
        assert after.note(guid).fields == before.note(guid).fields
    # the re-levelled story is reported: Anki keeps its old cards in the old deck
    old_deck = "Interview Stories::L5::Production Incidents"
    new_deck = "Interview Stories::L4::Production Incidents"
    moved = {m["story"]: m for m in summary["moved"]}
    assert set(moved) == {story.id, None}  # the story's cards, and its prompt card
    assert (moved[story.id]["from"], moved[story.id]["to"]) == (old_deck, new_deck)
    assert moved[story.id]["search"] == f'"deck:{old_deck}" tag:story::{story.id}'
    assert moved[None]["search"] == f'"deck:{old_deck}" tag:kind::prompt'
    for guid in surviving:
        if guid in steps_before:
            assert {c.deck for c in after.cards_of(guid)} == {old_deck}
    assert counts.get("conflicting", 0) == 0


def test_ten_edit_cycles_lose_nothing(loop: Loop) -> None:
    rng = random.Random(20261122)
    story, other = outage(), refactor()
    story.write(loop.notes)
    other.write(loop.notes)
    loop.build()
    loop.import_all()
    loop.study()
    words = ["carefully", "quickly", "again", "first", "together", "by hand", "in stages"]
    for cycle in range(10):
        before = snapshot(loop.col)
        edit = cycle % 5
        if edit == 0:
            i = rng.randrange(len(story.steps))
            story.steps[i] = story.steps[i].rstrip(".") + f", {rng.choice(words)}."
        elif edit == 1:
            i = rng.randrange(len(story.steps) + 1)
            story.steps.insert(i, f"**Step added in cycle {cycle}** — {rng.choice(words)}.")
        elif edit == 2:
            rng.shuffle(story.lessons)
            story.lessons.append(
                f"Lesson from cycle {cycle}: write things down {rng.choice(words)}."
            )
        elif edit == 3 and len(story.steps) > 3:
            story.steps.pop(rng.randrange(len(story.steps)))
        else:
            other.results[0] = f"Billing changes now ship in {rng.randint(2, 6)} days."
        story.write(loop.notes)
        other.write(loop.notes)
        loop.build()
        dump = loop.dump()
        counts = loop.import_all()
        after = snapshot(loop.col)
        live = [c["guid"] for c in dump["cards"]]
        assert len(set(live)) == len(live), cycle
        assert set(live) <= set(after.notes), cycle
        assert set(before.notes) <= set(after.notes), cycle  # nothing is ever deleted
        assert counts.get("conflicting", 0) == 0, cycle
        assert_history_kept(before, after, [g for g in before.notes if g in set(live)])
        removed = {n.guid for n in after.notes_by_tag(REMOVED_TAG)}
        assert set(after.notes) == set(live) | removed, cycle
        assert not (removed & set(live)), cycle
        loop.study()
    total_reviews = sum(len(r) for r in snapshot(loop.col).revlog.values())
    assert total_reviews > 0


def test_a_css_change_updates_the_note_type_in_place(
    loop: Loop, monkeypatch: pytest.MonkeyPatch
) -> None:
    outage().write(loop.notes)
    loop.build()
    loop.import_all()
    loop.study()
    before = snapshot(loop.col)
    css = templates.card_css() + "\n.sd-story { letter-spacing: 0.02em; }\n"
    monkeypatch.setattr(templates, "card_css", lambda: css)
    summary = loop.build()
    assert summary["updated"] == 0  # the notes did not change, only their note types
    counts = loop.import_all()
    after = snapshot(loop.col)
    for type_id in (QA_ID, CLOZE_ID):
        assert after.notetype_by_id(type_id).css == css
        assert (
            after.notetype_by_id(type_id).field_names == before.notetype_by_id(type_id).field_names
        )
        assert after.copies_of(type_id) == ()
    assert counts == {"duplicate": len(before.notes)}
    assert {n.notetype_id for n in after.notes.values()} <= {QA_ID, CLOZE_ID}
    assert_history_kept(before, after, list(before.notes))


def test_two_builds_of_the_same_input_are_byte_identical(
    tmp_path: Path, cli: Callable[..., Result], fixed_time: Callable[[int], None]
) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    outage().write(notes)
    refactor().write(notes)
    assert cli("build", notes, "-o", tmp_path / "one").exit_code == 0
    fixed_time(EPOCH + 86_400)  # a day later: the lock, not the clock, decides
    assert cli("build", notes, "-o", tmp_path / "two").exit_code == 0
    one = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert one == sorted(p.name for p in (tmp_path / "two").iterdir())
    assert one == ["storydeck-L4.apkg", "storydeck-L5.apkg", "storydeck-all.apkg"]
    for name in one:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_a_lost_lockfile_rebuilds_the_same_guids(loop: Loop) -> None:
    outage().write(loop.notes)
    loop.build()
    first = loop.dump()
    (loop.notes / "storydeck.lock").unlink()
    loop.build()
    assert [c["guid"] for c in loop.dump()["cards"]] == [c["guid"] for c in first["cards"]]


def test_renaming_a_story_id_keeps_its_cards(loop: Loop) -> None:
    story = outage()
    story.write(loop.notes)
    loop.build()
    first = loop.dump()
    (loop.notes / f"{story.id}.md").unlink()
    renamed = replace(story, id="launch-queue-outage")
    renamed.write(loop.notes)
    summary = loop.build()
    second = loop.dump()
    assert summary["new"] == 0
    assert summary["removed"] == 0
    assert {c["guid"] for c in second["cards"]} == {c["guid"] for c in first["cards"]}

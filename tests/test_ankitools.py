"""Prove the Anki harness in ``ankitools`` and the re-import facts of DESIGN.md sections 4-6.

Every package is built here with genanki (written to ``tmp_path`` with a fixed
``timestamp=``) and imported into a fresh collection with Anki's own importer.
"""

from __future__ import annotations

import sqlite3
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import genanki
import pytest
from anki.collection import Collection, ImportAnkiPackageRequest
from anki.consts import QUEUE_TYPE_LRN, QUEUE_TYPE_NEW, QUEUE_TYPE_REV
from anki.import_export_pb2 import ImportResponse

from ankitools import (  # noqa: F401  anki_col_fixture registers the ``anki_col`` fixture
    EASY,
    GOOD,
    LOG_CATEGORIES,
    CollectionSnapshot,
    anki_col_fixture,
    card_html,
    collection,
    default_import_options,
    diff,
    edit_note,
    import_apkg,
    make_due,
    note_id_for_guid,
    review_all,
    snapshot,
)

T0 = 1_700_000_000
QA_ID = 1_607_392_319
CLOZE_ID = 1_607_392_320
QA_NAME = "storydeck QA"
CSS = ".card { font-family: sans-serif; color: #111; }"
L5 = "Interview Stories::L5::Production incidents"
L6 = "Interview Stories::L6::Production incidents"
QA_FIELDS = ("Front", "Back")
QA_TEMPLATES = (("Card 1", "{{Front}}", "{{FrontSide}}<hr id=answer>{{Back}}"),)


# ---------------------------------------------------------------------------------------
# Building packages
# ---------------------------------------------------------------------------------------


def qa_model(
    *,
    css: str = CSS,
    fields: Sequence[str] = QA_FIELDS,
    templates: Sequence[tuple[str, str, str]] = QA_TEMPLATES,
) -> genanki.Model:
    return genanki.Model(
        QA_ID,
        QA_NAME,
        fields=[{"name": name} for name in fields],
        templates=[{"name": n, "qfmt": q, "afmt": a} for n, q, a in templates],
        css=css,
    )


def cloze_model() -> genanki.Model:
    return genanki.Model(
        CLOZE_ID,
        "storydeck Cloze",
        fields=[{"name": "Text"}, {"name": "Extra"}],
        templates=[
            {"name": "Cloze", "qfmt": "{{cloze:Text}}", "afmt": "{{cloze:Text}}<br>{{Extra}}"}
        ],
        css=CSS + " .cloze { font-weight: bold; }",
        model_type=genanki.Model.CLOZE,
    )


def qa(
    guid: str,
    front: str,
    back: str = "answer",
    *,
    tags: Iterable[str] = (),
    model: genanki.Model | None = None,
) -> genanki.Note:
    return genanki.Note(model=model or qa_model(), fields=[front, back], guid=guid, tags=list(tags))


def cloze(guid: str, text: str, *, tags: Iterable[str] = ()) -> genanki.Note:
    return genanki.Note(model=cloze_model(), fields=[text, ""], guid=guid, tags=list(tags))


class TimedNote(genanki.Note):  # type: ignore[misc]
    """A genanki note with its own ``mod`` (genanki stamps every note with the build time)."""

    def __init__(self, *args: Any, mod: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mod = mod

    def write_to_db(self, cursor: Any, timestamp: float, deck_id: int, id_gen: Any) -> None:
        del timestamp  # the package time still stamps the note type
        super().write_to_db(cursor, self.mod, deck_id, id_gen)


def write_package(
    path: Path,
    decks: Mapping[str, Sequence[genanki.Note]],
    *,
    timestamp: float,
    deck_ids: Mapping[str, int] | None = None,
) -> Path:
    """Write ``decks`` (name -> notes) as one .apkg; deck ids default to a hash of the name."""
    built = []
    for name, notes in decks.items():
        deck_id = (deck_ids or {}).get(name, zlib.crc32(name.encode()))
        deck = genanki.Deck(deck_id, name)
        for note in notes:
            deck.add_note(note)
        built.append(deck)
    genanki.Package(built).write_to_file(str(path), timestamp=timestamp)
    return path


def package_rows(path: Path, tmp_path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Run ``sql`` on the collection inside the package at ``path``."""
    db_path = tmp_path / f"{path.stem}-inside.anki2"
    with zipfile.ZipFile(path) as archive:
        db_path.write_bytes(archive.read("collection.anki2"))
    connection = sqlite3.connect(db_path)
    try:
        return list(connection.execute(sql))
    finally:
        connection.close()


def package_note_ids(path: Path, tmp_path: Path) -> dict[str, int]:
    return dict(package_rows(path, tmp_path, "SELECT guid, id FROM notes"))


def package_card_ids(path: Path, tmp_path: Path) -> dict[str, int]:
    """guid -> card id, for packages whose notes have one card each."""
    sql = "SELECT n.guid, c.id FROM cards c JOIN notes n ON n.id = c.nid"
    return dict(package_rows(path, tmp_path, sql))


def scheduling(snap: CollectionSnapshot, guid: str) -> list[tuple[int, ...]]:
    """(card id, reps, lapses, ivl, due, queue, type) of each card of ``guid``."""
    return [(c.id, c.reps, c.lapses, c.ivl, c.due, c.queue, c.type) for c in snap.cards_of(guid)]


def reviewed_twice(col: Collection) -> None:
    """Every card graduated with EASY, made due and answered GOOD: 3 revlog rows each."""
    review_all(col, EASY)
    make_due(col)
    review_all(col, GOOD)


# ---------------------------------------------------------------------------------------
# The harness itself
# ---------------------------------------------------------------------------------------


def test_default_options_match_anki_presets(anki_col: Collection) -> None:
    # The presets Anki desktop's import page starts with; no public wrapper exists.
    presets = anki_col._backend.get_import_anki_package_presets()
    options = default_import_options()
    assert presets == options
    assert not options.merge_notetypes
    assert not options.with_scheduling
    assert not options.with_deck_configs
    assert options.update_notes == options.update_notetypes == 0  # IF_NEWER


def test_summary_covers_every_log_field() -> None:
    log_fields = ImportResponse.Log.DESCRIPTOR.fields
    assert tuple(f.name for f in log_fields if f.is_repeated) == LOG_CATEGORIES
    assert {f.name for f in log_fields if not f.is_repeated} == {"dupe_resolution", "found_notes"}


def test_collection_context_manager_closes_and_reopens(tmp_path: Path) -> None:
    with collection(tmp_path) as col:
        assert (tmp_path / "collection.anki2").exists()
        assert snapshot(col).notes == {}
        conf = col.decks.all_config()[0]
        assert conf["new"]["perDay"] >= 1_000
    assert col.db is None
    with collection(tmp_path / "collection.anki2") as again:
        assert again.note_count() == 0


def test_review_all_answers_each_card_once_and_is_deterministic(tmp_path: Path) -> None:
    package = write_package(
        tmp_path / "five.apkg",
        {L5: [qa(f"g{i}", f"Question {i}") for i in range(4)], L6: [qa("g4", "Question 4")]},
        timestamp=T0,
    )
    results = []
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        with collection(tmp_path / name) as col:
            import_apkg(col, package)
            first = review_all(col, GOOD)
            assert sorted(first) == sorted(snapshot(col).cards)
            learning = snapshot(col)
            assert {(c.queue, c.reps, c.ivl) for c in learning.cards.values()} == {
                (QUEUE_TYPE_LRN, 1, 0)
            }
            review_all(col, GOOD)
            graduated = snapshot(col)
            assert {(c.queue, c.reps, c.ivl) for c in graduated.cards.values()} == {
                (QUEUE_TYPE_REV, 2, 1)
            }
            assert make_due(col) == tuple(sorted(graduated.cards))
            assert len(review_all(col, EASY, deck=L6)) == 1
            assert len(review_all(col, EASY, limit=2)) == 2
            assert len(review_all(col, EASY)) == 2
            assert review_all(col, EASY) == ()  # nothing due any more
            final = snapshot(col)
            assert all(c.ivl > 1 and c.reps == 3 for c in final.cards.values())
            assert {len(final.history(cid)) for cid in final.cards} == {4}  # 3 answers + manual
            results.append(
                (
                    first,
                    [(c.id, c.reps, c.ivl, c.due, c.queue, c.type) for c in final.cards.values()],
                    [
                        (r.card_id, r.ease, r.ivl, r.last_ivl, r.factor, r.time_ms, r.kind)
                        for rows in final.revlog.values()
                        for r in rows
                    ],
                )
            )
    assert results[0] == results[1]


def test_card_html_renders_fields_and_css(anki_col: Collection, tmp_path: Path) -> None:
    package = write_package(
        tmp_path / "html.apkg",
        {
            L5: [
                qa("q", "<b>What broke?</b>", "The rollout"),
                cloze("m", "MTTR fell from {{c1::4 hours}} to {{c2::45 minutes}}."),
            ]
        },
        timestamp=T0,
    )
    import_apkg(anki_col, package)
    snap = snapshot(anki_col)
    front = card_html(anki_col, snap.card_of("q").id)
    assert front.ord == 0
    assert front.css == CSS
    assert "<b>What broke?</b>" in front.question
    assert "The rollout" not in front.question
    assert "The rollout" in front.answer
    assert "<b>What broke?</b>" in front.answer
    second_cloze = card_html(anki_col, snap.card_of("m", 1).id)
    assert second_cloze.ord == 1
    assert "[...]" in second_cloze.question
    assert "45 minutes" not in second_cloze.question
    assert "45 minutes" in second_cloze.answer
    assert ".cloze" in second_cloze.css


# ---------------------------------------------------------------------------------------
# 1-2: fresh import and re-import
# ---------------------------------------------------------------------------------------


def story_package(tmp_path: Path, *, timestamp: float = T0, name: str = "story") -> Path:
    return write_package(
        tmp_path / f"{name}.apkg",
        {
            L5: [
                qa("prompt-1", "Tell me about an outage.", tags=["storydeck", "level::L5"]),
                qa("action-1", "Step 1 of 2?", tags=["storydeck", "kind::action"]),
            ],
            "Interview Stories::L5::Leadership": [
                cloze(
                    "metric-1",
                    "MTTR fell from {{c1::4 hours}} to {{c2::45 minutes}}.",
                    tags=["storydeck", "kind::metric"],
                )
            ],
        },
        timestamp=timestamp,
    )


def test_fresh_import_matches_the_package(anki_col: Collection, tmp_path: Path) -> None:
    summary = import_apkg(anki_col, story_package(tmp_path))
    snap = snapshot(anki_col)

    assert summary.counts() == {"new": 3}
    assert summary.found_notes == 3
    assert summary.ids("new") == {n.id for n in snap.notes.values()}
    assert set(snap.notes) == {"prompt-1", "action-1", "metric-1"}
    assert len(snap.cards) == 4  # the cloze note has two deletions
    assert [c.ord for c in snap.cards_of("metric-1")] == [0, 1]
    assert {c.deck for c in snap.cards_of("metric-1")} == {"Interview Stories::L5::Leadership"}
    assert {c.deck for c in snap.cards_in_deck(L5, subdecks=False)} == {L5}
    assert len(snap.cards_in_deck("Interview Stories")) == 4
    assert set(snap.decks) == {
        "Default",
        "Interview Stories",
        "Interview Stories::L5",
        L5,
        "Interview Stories::L5::Leadership",
    }
    assert snap.tags == ("kind::action", "kind::metric", "level::L5", "storydeck")
    assert [n.guid for n in snap.notes_by_tag("kind")] == ["action-1", "metric-1"]
    assert snap.note("prompt-1").fields == {"Front": "Tell me about an outage.", "Back": "answer"}
    assert snap.note("prompt-1").notetype_name == QA_NAME
    assert snap.note("prompt-1").tags == ("level::L5", "storydeck")
    assert {n.mod for n in snap.notes.values()} == {T0}  # the package's mod is kept
    assert {c.queue for c in snap.cards.values()} == {QUEUE_TYPE_NEW}
    assert snap.revlog == {}
    qa_type = snap.notetype(QA_NAME)
    assert (qa_type.id, qa_type.field_names, qa_type.template_names) == (
        QA_ID,
        QA_FIELDS,
        ("Card 1",),
    )
    assert qa_type.css == CSS
    assert qa_type.mod == T0
    assert snap.notetype("storydeck Cloze").is_cloze


def test_reimport_of_the_same_package_changes_nothing(anki_col: Collection, tmp_path: Path) -> None:
    package = story_package(tmp_path)
    import_apkg(anki_col, package)
    reviewed_twice(anki_col)
    before = snapshot(anki_col)
    assert all(len(before.history(cid)) == 3 for cid in before.cards)

    summary = import_apkg(anki_col, package)

    assert summary.counts() == {"duplicate": 3}
    assert summary.ids("duplicate") == {n.id for n in before.notes.values()}
    changes = diff(before, snapshot(anki_col))
    assert changes.is_empty, changes.nonempty()


# ---------------------------------------------------------------------------------------
# 3: note updates follow the note's mod
# ---------------------------------------------------------------------------------------


def test_newer_note_mod_updates_in_place_keeping_history(
    anki_col: Collection, tmp_path: Path
) -> None:
    v1 = write_package(
        tmp_path / "v1.apkg",
        {L5: [qa("g1", "Old question", tags=["old"]), qa("g2", "Unchanged")]},
        timestamp=T0,
    )
    import_apkg(anki_col, v1)
    reviewed_twice(anki_col)
    before = snapshot(anki_col)

    v2 = write_package(
        tmp_path / "v2.apkg",
        {L5: [qa("g1", "New question", tags=["new"]), qa("g2", "Unchanged")]},
        timestamp=T0 + 60,
    )
    summary = import_apkg(anki_col, v2)
    after = snapshot(anki_col)

    # genanki stamps every note with the build time, so the untouched note is rewritten too.
    assert summary.counts() == {"updated": 2}
    assert summary.ids("updated") == {before.note("g1").id, before.note("g2").id}
    assert after.note("g1").id == before.note("g1").id
    assert after.note("g1").fields["Front"] == "New question"
    assert after.note("g1").tags == ("new",)  # tags are replaced, not merged
    assert after.note("g1").mod == T0 + 60
    changes = diff(before, after)
    assert changes.changed_notes == {"g1": ("fields", "tags", "mod"), "g2": ("mod",)}
    for guid in ("g1", "g2"):
        assert scheduling(after, guid) == scheduling(before, guid)
        card = after.card_of(guid)
        assert card.reps == 2
        assert card.ivl > 0
        assert after.history(card.id) == before.history(card.id)
        assert len(after.history(card.id)) == 3
    assert not changes.added_cards
    assert not changes.changed_cards
    assert not changes.revlog_changed


@pytest.mark.parametrize("offset", [0, -60], ids=["equal-mod", "older-mod"])
def test_equal_or_older_note_mod_is_not_updated(
    anki_col: Collection, tmp_path: Path, offset: int
) -> None:
    v1 = write_package(tmp_path / "v1.apkg", {L5: [qa("g1", "Old"), qa("g2", "Two")]}, timestamp=T0)
    import_apkg(anki_col, v1)
    review_all(anki_col, EASY)
    before = snapshot(anki_col)

    edited = write_package(
        tmp_path / "edited.apkg",
        {L5: [qa("g1", "Edited", tags=["x"]), qa("g2", "Two edited")]},
        timestamp=T0 + offset,
    )
    summary = import_apkg(anki_col, edited)

    assert summary.counts() == {"duplicate": 2}
    assert summary.fields_of("duplicate")[0][0] == "Edited"  # logged with the package's text
    changes = diff(before, snapshot(anki_col))
    assert changes.is_empty, changes.nonempty()


def test_user_edit_in_anki_wins_until_a_newer_package(anki_col: Collection, tmp_path: Path) -> None:
    import_apkg(anki_col, write_package(tmp_path / "v1.apkg", {L5: [qa("g1", "Q")]}, timestamp=T0))
    edited = edit_note(anki_col, "g1", {"Back": "my own answer"}, add_tags=["mine"])
    assert edited.mod > T0 + 3600  # Anki stamps the edit with the current time

    later = write_package(tmp_path / "v2.apkg", {L5: [qa("g1", "Q v2")]}, timestamp=T0 + 3600)
    assert import_apkg(anki_col, later).counts() == {"duplicate": 1}
    kept = snapshot(anki_col).note("g1")
    assert (kept.fields["Back"], kept.tags) == ("my own answer", ("mine",))

    future = int(time.time()) + 3600
    newest = write_package(tmp_path / "v3.apkg", {L5: [qa("g1", "Q v3")]}, timestamp=future)
    assert import_apkg(anki_col, newest).counts() == {"updated": 1}
    replaced = snapshot(anki_col).note("g1")
    assert replaced.fields == {"Front": "Q v3", "Back": "answer"}
    assert replaced.tags == ()  # the user's tag is gone
    assert replaced.mod == future


# ---------------------------------------------------------------------------------------
# 4: guids, deletion, decks
# ---------------------------------------------------------------------------------------


def test_new_guid_is_added_nothing_is_deleted_and_cards_do_not_move(
    anki_col: Collection, tmp_path: Path
) -> None:
    v1 = write_package(tmp_path / "v1.apkg", {L5: [qa("g1", "One"), qa("g2", "Two")]}, timestamp=T0)
    import_apkg(anki_col, v1)
    reviewed_twice(anki_col)
    before = snapshot(anki_col)

    # g1 is gone from the package, g2 moved to another deck and edited, g3 is new.
    v2 = write_package(
        tmp_path / "v2.apkg", {L6: [qa("g2", "Two, edited"), qa("g3", "Three")]}, timestamp=T0 + 60
    )
    summary = import_apkg(anki_col, v2)
    after = snapshot(anki_col)

    assert summary.counts() == {"new": 1, "updated": 1}
    assert set(after.notes) == {"g1", "g2", "g3"}
    assert after.note("g1") == before.note("g1")
    assert after.cards_of("g1") == before.cards_of("g1")
    assert after.note("g2").fields["Front"] == "Two, edited"
    assert after.card_of("g2").deck == L5  # not moved to L6
    assert scheduling(after, "g2") == scheduling(before, "g2")
    assert after.card_of("g3").deck == L6
    assert after.card_of("g3").id == package_card_ids(v2, tmp_path)["g3"]
    changes = diff(before, after)
    assert changes.added_notes == {"g3"}
    assert not changes.removed_notes
    assert not changes.removed_cards
    assert not changes.changed_cards
    assert changes.added_decks == {L6, "Interview Stories::L6"}


def test_decks_are_matched_by_name_and_always_created(anki_col: Collection, tmp_path: Path) -> None:
    def build(name: str, deck: str, deck_id: int, notes: list[genanki.Note], ts: int) -> Path:
        return write_package(tmp_path / name, {deck: notes}, timestamp=ts, deck_ids={deck: deck_id})

    import_apkg(anki_col, build("a.apkg", L5, 111, [qa("g1", "One")], T0))
    import_apkg(anki_col, build("b.apkg", L6, 111, [qa("g2", "Two")], T0 + 10))
    import_apkg(anki_col, build("c.apkg", L5, 222, [qa("g3", "Three")], T0 + 20))
    import_apkg(anki_col, build("d.apkg", "Elsewhere", 333, [qa("g1", "One!")], T0 + 30))
    snap = snapshot(anki_col)

    assert snap.card_of("g2").deck == L6  # same deck id, new name: a new deck
    assert snap.card_of("g3").deck == L5  # new deck id, known name: the existing deck
    assert snap.card_of("g1").deck == L5
    assert "Elsewhere" in snap.decks
    assert snap.cards_in_deck("Elsewhere") == ()


def test_cloze_deletions_add_cards_but_never_remove_them(
    anki_col: Collection, tmp_path: Path
) -> None:
    def build(name: str, text: str, ts: int, deck: str = L5) -> Path:
        return write_package(tmp_path / name, {deck: [cloze("m", text)]}, timestamp=ts)

    import_apkg(anki_col, build("v1.apkg", "From {{c1::4 hours}} to 45 minutes.", T0))
    review_all(anki_col, EASY)
    first = snapshot(anki_col).card_of("m", 0)

    # The story was re-levelled too: the new card lands in the package's deck.
    v2 = build("v2.apkg", "From {{c1::4 hours}} to {{c2::45 minutes}}.", T0 + 60, L6)
    assert import_apkg(anki_col, v2).counts() == {"updated": 1}
    after_v2 = snapshot(anki_col)
    assert after_v2.card_of("m", 0) == first
    added = after_v2.card_of("m", 1)
    assert (added.queue, added.deck) == (QUEUE_TYPE_NEW, L6)
    assert added.id == dict(package_rows(v2, tmp_path, "SELECT ord, id FROM cards"))[1]

    v3 = build("v3.apkg", "From 4 hours to {{c2::45 minutes}}.", T0 + 120)
    assert import_apkg(anki_col, v3).counts() == {"updated": 1}
    after_v3 = snapshot(anki_col)
    assert [c.ord for c in after_v3.cards_of("m")] == [0, 1]  # c1's card stays, history kept
    assert after_v3.card_of("m", 0) == first


# ---------------------------------------------------------------------------------------
# 5: note types
# ---------------------------------------------------------------------------------------


def test_notetype_with_same_schema_is_updated_in_place_when_newer(
    anki_col: Collection, tmp_path: Path
) -> None:
    import_apkg(anki_col, write_package(tmp_path / "v1.apkg", {L5: [qa("g1", "Q")]}, timestamp=T0))
    reviewed_twice(anki_col)
    before = snapshot(anki_col)
    count = len(before.notetypes)

    restyled = qa_model(
        css=".card { color: teal; }",
        templates=[
            ("Card 1", "<div class=q>{{Front}}</div>", "{{FrontSide}}<hr id=answer>{{Back}}")
        ],
    )
    v2 = write_package(
        tmp_path / "v2.apkg", {L5: [qa("g1", "Q", model=restyled)]}, timestamp=T0 + 60
    )
    assert import_apkg(anki_col, v2).counts() == {"updated": 1}
    after = snapshot(anki_col)

    updated = after.notetype_by_id(QA_ID)
    assert updated.css == ".card { color: teal; }"
    assert updated.templates[0].qfmt == "<div class=q>{{Front}}</div>"
    assert updated.mod == T0 + 60
    assert len(after.notetypes) == count
    assert after.copies_of(QA_ID) == ()
    assert after.note("g1").notetype_id == QA_ID
    assert scheduling(after, "g1") == scheduling(before, "g1")
    html = card_html(anki_col, after.card_of("g1").id)
    assert html.css == ".card { color: teal; }"
    assert html.question == "<div class=q>Q</div>"

    # An older note type (and older notes) in a later package changes nothing.
    stale = write_package(
        tmp_path / "v0.apkg",
        {L5: [qa("g1", "Q", model=qa_model(css=".card { color: red; }"))]},
        timestamp=T0 + 30,
    )
    assert import_apkg(anki_col, stale).counts() == {"duplicate": 1}
    assert snapshot(anki_col).notetype_by_id(QA_ID) == updated


def test_raw_import_leaves_the_python_notetype_cache_stale(tmp_path: Path) -> None:
    # Why import_apkg clears col.models' cache: without it the old CSS is still served.
    v1 = write_package(tmp_path / "v1.apkg", {L5: [qa("g1", "Q")]}, timestamp=T0)
    restyled = qa_model(css=".card { color: teal; }")
    v2 = write_package(
        tmp_path / "v2.apkg", {L5: [qa("g1", "Q", model=restyled)]}, timestamp=T0 + 60
    )
    with collection(tmp_path) as col:
        import_apkg(col, v1)
        assert snapshot(col).notetype_by_id(QA_ID).css == CSS  # fills the cache
        request = ImportAnkiPackageRequest(package_path=str(v2), options=default_import_options())
        response = col.import_anki_package(request)
        assert response.changes.notetype
        assert snapshot(col).notetype_by_id(QA_ID).css == CSS  # stale
    with collection(tmp_path) as reopened:
        assert snapshot(reopened).notetype_by_id(QA_ID).css == ".card { color: teal; }"


SCHEMA_CHANGES: dict[str, Callable[[], genanki.Model]] = {
    "field-added": lambda: qa_model(fields=[*QA_FIELDS, "Source"]),
    "field-renamed": lambda: qa_model(
        fields=["Front", "Answer"],
        templates=[("Card 1", "{{Front}}", "{{FrontSide}}<hr id=answer>{{Answer}}")],
    ),
    "field-removed": lambda: qa_model(fields=["Front"], templates=[("Card 1", "{{Front}}", "-")]),
    "template-added": lambda: qa_model(
        templates=[*QA_TEMPLATES, ("Card 2", "{{Back}}", "{{Front}}")]
    ),
}


GUIDS = ("g1", "g2", "g3")


@pytest.mark.parametrize("change", list(SCHEMA_CHANGES))
def test_schema_change_creates_a_copy_and_existing_notes_conflict(
    anki_col: Collection, tmp_path: Path, change: str
) -> None:
    import_apkg(
        anki_col,
        write_package(tmp_path / "v1.apkg", {L5: [qa("g1", "One"), qa("g2", "Two")]}, timestamp=T0),
    )
    reviewed_twice(anki_col)
    before = snapshot(anki_col)
    model = SCHEMA_CHANGES[change]()

    def build(name: str, text: str, ts: int) -> Path:
        values = [f"{text}", "answer", "source"][: len(model.fields)]
        notes = [genanki.Note(model, [f"{g} {values[0]}", *values[1:]], guid=g) for g in GUIDS]
        return write_package(tmp_path / name, {L5: notes}, timestamp=ts)

    v2 = build("v2.apkg", "edited", T0 + 60)
    summary = import_apkg(anki_col, v2)
    after = snapshot(anki_col)

    assert summary.counts() == {"new": 1, "conflicting": 2}
    package_ids = package_note_ids(v2, tmp_path)
    assert summary.ids("conflicting") == {package_ids["g1"], package_ids["g2"]}  # package ids
    (copy,) = after.copies_of(QA_ID)
    assert copy.name == QA_NAME + "+"
    assert copy.field_names == tuple(f["name"] for f in model.fields)
    assert after.notetype_by_id(QA_ID) == before.notetype_by_id(QA_ID)
    for guid in ("g1", "g2"):
        assert after.note(guid) == before.note(guid)  # never updated
        assert scheduling(after, guid) == scheduling(before, guid)
    assert after.note("g3").notetype_id == copy.id

    # Same changed schema again: the copy is reused and the old notes stay stuck.
    v3 = build("v3.apkg", "edited again", T0 + 120)
    summary = import_apkg(anki_col, v3)
    again = snapshot(anki_col)
    assert summary.counts() == {"updated": 1, "conflicting": 2}
    assert again.copies_of(QA_ID) == (again.notetype_by_id(copy.id),)
    assert again.note("g3").fields["Front"] == "g3 edited again"
    assert again.note("g1") == before.note("g1")

    # Going back to the original schema makes the old notes updatable again.
    v4 = write_package(tmp_path / "v4.apkg", {L5: [qa("g1", "back")]}, timestamp=T0 + 180)
    assert import_apkg(anki_col, v4).counts() == {"updated": 1}
    assert snapshot(anki_col).note("g1").fields["Front"] == "back"


def test_notetype_name_clash_gets_a_suffix(anki_col: Collection, tmp_path: Path) -> None:
    import_apkg(anki_col, write_package(tmp_path / "a.apkg", {L5: [qa("g1", "Q")]}, timestamp=T0))
    other = genanki.Model(
        QA_ID + 1,
        QA_NAME,
        fields=[{"name": "Front"}, {"name": "Back"}],
        templates=[{"name": "Card 1", "qfmt": "{{Front}}", "afmt": "{{Back}}"}],
    )
    import_apkg(
        anki_col,
        write_package(tmp_path / "b.apkg", {L5: [qa("g2", "Q", model=other)]}, timestamp=T0),
    )
    snap = snapshot(anki_col)
    assert snap.notetype_by_id(QA_ID).name == QA_NAME
    assert snap.notetype_by_id(QA_ID + 1).name == QA_NAME + "+"


# ---------------------------------------------------------------------------------------
# 6: id collisions
# ---------------------------------------------------------------------------------------


def test_colliding_ids_are_renumbered_by_999(anki_col: Collection, tmp_path: Path) -> None:
    def build(name: str, guids: Sequence[str], ts: int = T0) -> Path:
        return write_package(tmp_path / name, {L5: [qa(g, g) for g in guids]}, timestamp=ts)

    first = build("first.apkg", ["g1", "g2"])
    second = build("second.apkg", ["h1", "h2"])
    third = build("third.apkg", ["k1", "k2"])
    # genanki numbers notes and cards from timestamp * 1000, so the raw ids collide.
    raw_notes = sorted(package_note_ids(first, tmp_path).values())
    raw_cards = sorted(package_card_ids(first, tmp_path).values())
    for other in (second, third):
        assert sorted(package_note_ids(other, tmp_path).values()) == raw_notes
        assert sorted(package_card_ids(other, tmp_path).values()) == raw_cards

    import_apkg(anki_col, first)
    review_all(anki_col, EASY)
    before = snapshot(anki_col)
    assert [before.note(g).id for g in ("g1", "g2")] == raw_notes  # free ids are kept

    second_summary = import_apkg(anki_col, second)
    third_summary = import_apkg(anki_col, third)
    after = snapshot(anki_col)

    assert second_summary.counts() == third_summary.counts() == {"new": 2}
    for step, guids in ((1, ("h1", "h2")), (2, ("k1", "k2"))):
        assert [after.note(g).id for g in guids] == [i + 999 * step for i in raw_notes]
        assert [after.card_of(g).id for g in guids] == [i + 999 * step for i in raw_cards]
    assert second_summary.ids("new") == {after.note("h1").id, after.note("h2").id}
    for guid in ("g1", "g2"):
        assert after.note(guid) == before.note(guid)
        assert after.cards_of(guid) == before.cards_of(guid)
    assert len(after.notes) == 6

    # A known guid under a different package id is matched by guid and keeps its id.
    moved = write_package(
        tmp_path / "moved.apkg", {L5: [qa("new", "new"), qa("g2", "g2 edited")]}, timestamp=T0 + 60
    )
    assert package_note_ids(moved, tmp_path)["g2"] != before.note("g2").id
    assert import_apkg(anki_col, moved).counts() == {"new": 1, "updated": 1}
    assert note_id_for_guid(anki_col, "g2") == before.note("g2").id
    assert snapshot(anki_col).cards_of("g2") == before.cards_of("g2")


# ---------------------------------------------------------------------------------------
# 7: per-note mod
# ---------------------------------------------------------------------------------------


def test_per_note_mod_updates_only_the_edited_note(anki_col: Collection, tmp_path: Path) -> None:
    def build(name: str, notes: Mapping[str, tuple[str, int]], ts: int, css: str = CSS) -> Path:
        model = qa_model(css=css)
        timed = [
            TimedNote(model, [text, "answer"], guid=g, mod=mod) for g, (text, mod) in notes.items()
        ]
        return write_package(tmp_path / name, {L5: timed}, timestamp=ts)

    v1 = build("v1.apkg", {"g1": ("One", T0), "g2": ("Two", T0)}, T0)
    import_apkg(anki_col, v1)
    reviewed_twice(anki_col)
    before = snapshot(anki_col)

    # Built much later, with a restyled note type; only g2's text (and mod) changed.
    v2 = build(
        "v2.apkg", {"g1": ("One", T0), "g2": ("Two, edited", T0 + 100)}, T0 + 500, css="p {}"
    )
    assert dict(package_rows(v2, tmp_path, "SELECT guid, mod FROM notes")) == {
        "g1": T0,
        "g2": T0 + 100,
    }
    summary = import_apkg(anki_col, v2)
    after = snapshot(anki_col)

    assert summary.counts() == {"updated": 1, "duplicate": 1}
    assert summary.ids("updated") == {before.note("g2").id}
    assert after.note("g1") == before.note("g1")
    assert after.note("g2").fields["Front"] == "Two, edited"
    assert after.note("g2").mod == T0 + 100
    assert scheduling(after, "g2") == scheduling(before, "g2")
    assert after.history(after.card_of("g2").id) == before.history(before.card_of("g2").id)
    assert after.notetype_by_id(QA_ID).css == "p {}"  # note type follows the package time
    assert after.notetype_by_id(QA_ID).mod == T0 + 500

    assert import_apkg(anki_col, v2).counts() == {"duplicate": 2}
    assert diff(after, snapshot(anki_col)).is_empty

    # Plain genanki with a fresh timestamp rewrites every note, edited or not.
    plain = write_package(
        tmp_path / "plain.apkg",
        {L5: [qa("g1", "One"), qa("g2", "Two, edited")]},
        timestamp=T0 + 600,
    )
    assert import_apkg(anki_col, plain).counts() == {"updated": 2}


# ---------------------------------------------------------------------------------------
# DESIGN.md 5: packaging facts
# ---------------------------------------------------------------------------------------


def normalized_copy(source: Path, target: Path) -> Path:
    """Rewrite ``source`` with fixed zip entry dates (what byte-identical builds need)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = info.compress_type
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, src.read(info))
    return target


def test_zip_dates_are_the_only_nondeterminism(anki_col: Collection, tmp_path: Path) -> None:
    one = story_package(tmp_path, name="one")
    two = story_package(tmp_path, name="two")
    with zipfile.ZipFile(one) as archive:
        for info in archive.infolist():
            # entry dates come from the clock, not from timestamp= (2023-11-14)
            assert abs(time.mktime((*info.date_time, 0, 0, -1)) - time.time()) < 3600
    with zipfile.ZipFile(one) as a, zipfile.ZipFile(two) as b:
        assert [a.read(n) for n in a.namelist()] == [b.read(n) for n in b.namelist()]

    fixed_one = normalized_copy(one, tmp_path / "fixed-one.apkg")
    fixed_two = normalized_copy(two, tmp_path / "fixed-two.apkg")
    assert fixed_one.read_bytes() == fixed_two.read_bytes()
    assert import_apkg(anki_col, fixed_one).counts() == {"new": 3}
    assert import_apkg(anki_col, fixed_two).counts() == {"duplicate": 3}


def test_ten_thousand_notes_import_quickly(anki_col: Collection, tmp_path: Path) -> None:
    notes = [qa(f"g{i}", f"Question {i}") for i in range(10_000)]
    started = time.perf_counter()
    package = write_package(tmp_path / "big.apkg", {L5: notes}, timestamp=T0)
    written = time.perf_counter()
    summary = import_apkg(anki_col, package)
    imported = time.perf_counter()
    assert summary.new == 10_000
    # Measured about 0.2 s each; generous bounds keep slow CI machines green.
    assert written - started < 10
    assert imported - written < 10

"""Property tests: where card making takes a shortcut, it gives what the plain
computation gives.

Each shortcut is compared with the straightforward way of working out the same value,
written out here, over generated text made of the pieces that decide the outcome.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from storydeck import cards
from storydeck.cards import FIELDS, fingerprint, lead_line, sentences, story_cards, tag
from storydeck.config import default_config
from storydeck.model import CardKind, FollowUp, Location, Step, Story, Text

CONFIG = default_config()

# --- sentences --------------------------------------------------------------------------


def _plain_sentences(text: str) -> list[str]:
    """`sentences` as first written: the word before a full stop is found by searching
    the whole line up to it."""
    found: list[str] = []
    for line in text.split("\n"):
        start = 0
        for match in cards._SENTENCE_END.finditer(line):
            word = re.search(r"[\w.]+\Z", line[: match.start()])
            if word is not None and word.group().casefold() in cards._ABBREVIATIONS:
                continue
            found.append(line[start : match.end()])
            start = match.end()
        found.append(line[start:])
    return [s.strip() for s in found if s.strip()]


#: Abbreviations, words that end in one, and letters that case-fold to an abbreviation's
#: ("ſ" to "s", "K" to "k") or to more than one letter ("ß", "ﬀ").
_WORDS = st.sampled_from(
    [
        "e.g",
        "i.e",
        "vs",
        "VS",
        "v\u017f",
        "approx",
        "Approx",
        "Bapprox",
        "xe.g",
        "no",
        "mrs",
        "dr",
        "x",
        "word",
        "\u00df",
        "\ufb00",
        "\u212a",
        "_",
        "3",
        "\u00e9",
    ]
)
#: What ends a sentence, and what may start the next.
_ENDS = st.sampled_from([".", "!", "?", "…", '."', ".)", "", "\n"])
_STARTS = st.sampled_from([" A", "  The", "\t3", " $5", ' "Q', " (", " a", ""])
_PROSE = st.lists(
    st.one_of(
        st.tuples(_WORDS, _ENDS, _STARTS).map("".join),
        st.tuples(_WORDS, st.just(" ")).map("".join),
        st.text(max_size=3),
    ),
    max_size=20,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(_PROSE)
def test_sentences_look_back_only_as_far_as_an_abbreviation_reaches(text: str) -> None:
    assert sentences(text) == _plain_sentences(text)


def test_sentences_hands_out_its_own_list() -> None:
    """The split is kept for the next card that asks; changing a result changes no other."""
    text = "One. Two."
    sentences(text).append("Three.")
    assert sentences(text) == ["One.", "Two."]


# --- what every card of a story shares ----------------------------------------------------


def _plain_tags(kind: CardKind, stories: Sequence[Story]) -> tuple[str, ...]:
    """A card's tags, worked out from scratch for each card."""
    wanted = ["storydeck", f"kind::{kind.value}"]
    for story in stories:
        wanted.append(f"level::{story.level or 'unleveled'}")
        wanted.extend(f"theme::{t}" for t in story.themes)
        wanted.append(f"story::{story.id}")
        wanted.extend(story.tags)
    tags: dict[str, str] = {}
    for name in map(tag, wanted):
        if name:
            tags.setdefault(name.casefold(), name)
    return tuple(sorted(tags.values(), key=str.casefold))


def _plain_source(location: Location, root: str) -> str:
    """A card's Source field: the escaped `path:line`, relative to `root`."""
    shown = html.escape(location.at_line(), quote=False)
    return shown.removeprefix(html.escape(root.rstrip("/") + "/", quote=False)) if root else shown


#: Names that collide with storydeck's own tags in other case, or hold what escaping
#: or tagging changes.
_NAMES = st.sampled_from(
    ["storydeck", "Storydeck", "KIND::metric", "kind::Action", "level::l5", "a b", "é", "&", "_"]
)
_NAME = st.one_of(_NAMES, st.text(max_size=6))
_PATHS = st.sampled_from(["notes", "notes/", "notes/a.md", "notes/&<b>.md", "notes:3", "/x/notes"])
_PATH = st.one_of(_PATHS, st.text(max_size=8))


@st.composite
def _story(draw: st.DrawFn) -> Story:
    path = draw(_PATH)

    def text(plain: str) -> Text:
        """A story's text, mostly from the story's own file."""
        where = Location(draw(st.one_of(st.just(path), _PATH)), draw(st.integers(0, 3)))
        return Text(plain, html.escape(plain, quote=False), where)

    return Story(
        id=draw(_NAME) or "id",
        title="Cutover",
        source=Location(path, draw(st.integers(0, 3))),
        level=draw(st.one_of(st.none(), _NAME)),
        themes=tuple(draw(st.lists(_NAME, max_size=3))),
        tags=tuple(draw(st.lists(_NAME, max_size=4))),
        situation=text("Checkout failed for 15% of users."),
        task=text("Fix it."),
        actions=(Step(text("Rolled back"), text("within 45 minutes")),),
        results=(text("Saved $200K."),),
        lessons=(text("Roll back first."),),
        followups=(FollowUp(text("Why?"), text("Because.")),),
    )


@settings(max_examples=300, deadline=None)
@given(_story(), st.one_of(_PATHS, st.just("")))
def test_a_storys_cards_share_what_each_would_work_out_alone(story: Story, root: str) -> None:
    """Tags, the Source field and the fingerprint, worked out once per story or file."""
    made = list(story_cards(story, CONFIG, root))
    assert {card.kind for card in made} == set(CardKind) - {CardKind.PROMPT}
    for card in made:
        assert card.tags == _plain_tags(card.kind, [story])
        assert card.fields["Source"] == _plain_source(card.source, root)
        parts = [card.kind.value, *(card.fields[f] for f in FIELDS), " ".join(card.tags)]
        assert card.fingerprint == fingerprint(parts)


# --- lead lines -------------------------------------------------------------------------


def _plain_lead_line(text: str, limit: int) -> str:
    """`lead_line` with every text taken line by line."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not lines:
        return ""
    head = lines.pop(0)
    while lines and lines[0][:1].islower() and not head.endswith(cards._CLOSERS):
        head = f"{head} {lines.pop(0)}"
    first = sentences(head)[0]
    if first != head or not head.endswith(":") or not lines or len(head) > limit - 2:
        return cards.clip(first, limit)
    line, joiner = head, " "
    for item in lines:
        if item.endswith(":"):
            break
        joined = f"{line}{joiner}{' '.join(item.split())}"
        if len(joined) > limit - 1:
            return f"{line} …" if line == head else f"{line}…"
        line, joiner = joined, "; "
    return line if line != head else f"{head} …"


_LINES = st.lists(
    st.one_of(
        _PROSE,
        st.sampled_from(["I was responsible for:", "Teams:", "rce", "SRE", " ", "\t", "x" * 90]),
    ),
    max_size=5,
).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_PROSE, _LINES), st.sampled_from([20, 60, 140, 200]))
def test_a_lead_line_of_one_line_is_its_first_sentence_clipped(text: str, limit: int) -> None:
    assert lead_line(text, limit) == _plain_lead_line(text, limit)

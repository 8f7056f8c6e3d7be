"""Property tests: where card making takes a shortcut, it gives what the plain
computation gives.

Each shortcut is compared with the straightforward way of working out the same value,
written out here, over generated text made of the pieces that decide the outcome.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from storydeck import cards
from storydeck.cards import sentences

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

"""Guids come from what identifies a card, and users' lockfiles hold them: the same
anchor, kind and key must give the same guid in every version, however it is worked
out. Here the fast ways storydeck works them out are held to the plain definition."""

from __future__ import annotations

import base64
import hashlib
import re
import string

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from storydeck.identity import _normal, _normal_text, make_guid

_NOT_WORD = re.compile(r"[^\w%$€£.+-]+")


def plain_normal(text: str) -> str:
    """A key as compared, by its definition: case-folded, every run of characters other
    than word characters and `%$€£.+-` made one space, no space at either end."""
    return " ".join(_NOT_WORD.sub(" ", text.casefold()).split())


def plain_guid(anchor: str, kind: str, key: str, salt: int = 0) -> str:
    """A guid by its definition: the first 80 bits of a hash, base32 in lower case."""
    text = f"{anchor}\x1f{kind}\x1f{plain_normal(key)}\x1f{salt}"
    digest = hashlib.sha256(text.encode()).digest()
    return base64.b32encode(digest[:10]).decode("ascii").lower()


#: Guids that lockfiles written so far hold for these cards.
KNOWN = [
    (
        (
            "checkout-timeout-hotfix",
            "metric",
            "Checkout failed for 15% of users, costing $50K/hour.",
        ),
        0,
        "zzhlo32boega6iwd",
    ),
    (
        ("checkout-timeout-hotfix", "action", "**Read the logs** — found API timeouts"),
        0,
        "h4sqgulyzwwlqzff",
    ),
    (
        ("checkout-timeout-hotfix", "action", "**Read the logs** — found API timeouts"),
        1,
        "vpnl6iexa3pgdhhx",
    ),
    (
        ("::prompt", "prompt", "Tell me about a time you handled a critical production issue."),
        0,
        "jglkn4xo2ieeq2kl",
    ),
    (("straße-ﬁx", "lesson", "İstanbul: ǅ ß Ⅻ ² café_42 €5 +3.5 -1"), 2, "lajnywi6v4u74kg3"),
    (("", "followup", ""), 0, "6i7ntj75446nc2yj"),
]


@pytest.mark.parametrize(("card", "salt", "guid"), KNOWN)
def test_known_cards_keep_their_guids(card: tuple[str, str, str], salt: int, guid: str) -> None:
    assert make_guid(*card, salt) == guid
    assert plain_guid(*card, salt) == guid


#: Keys as notes have them: mostly ASCII words, numbers, units and punctuation.
ascii_keys = st.text(alphabet=st.characters(max_codepoint=127))
#: ...with the odd dash, quote, ligature, accent or emoji.
mixed_keys = st.text(
    alphabet=st.one_of(
        st.sampled_from(string.ascii_letters + string.digits + " _%$.+-,:;!?*()[]#/'\"\t\n"),
        st.sampled_from("—–’“”…€£ßİǅﬁſⅫ²é\xa0\xad\u200b\x85\u2028✅🚀："),
    )
)
#: ...and anything at all, but lone surrogates (a key is text read from a UTF-8 file).
any_keys = st.text(alphabet=st.characters(blacklist_categories=("Cs",)))


@given(st.one_of(ascii_keys, mixed_keys, any_keys))
@example("")
@example(" \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f ")
@example("snake_case 99.5% $3.2M +12 -4 ~5 a/b (c) [d] {e} <f> @g #h")
@example("ALL CAPS, MixedCase and lower")
@example("\x00\x7f")
def test_keys_are_compared_as_their_definition_says(key: str) -> None:
    assert _normal_text(key) == plain_normal(key)
    assert _normal(key) == plain_normal(key)


@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.sampled_from(["prompt", "metric", "action", "lesson", "followup"]),
    st.one_of(ascii_keys, mixed_keys, any_keys),
    st.integers(min_value=0, max_value=10**6),
)
def test_guids_are_as_their_definition_says(anchor: str, kind: str, key: str, salt: int) -> None:
    assert make_guid(anchor, kind, key, salt) == plain_guid(anchor, kind, key, salt)

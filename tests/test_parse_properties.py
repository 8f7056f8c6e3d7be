"""Property tests: `parse_text` over generated notes never fails and keeps its promises.

The notes are built from the pieces real notes are made of (labels in every form,
plain and setext headings, lists, fences, rules, tables, quotes, question and level
lines, end markers, trailers, front matter) glued with random text.
"""

from __future__ import annotations

import dataclasses
import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from storydeck.config import default_config
from storydeck.model import Section
from storydeck.parse import parse_text
from storydeck.parse.blocks import markdown, stock_markdown
from storydeck.parse.labels import Label, Vocabulary

CONFIG = default_config()
#: The same with raw HTML allowed: `<details>` and `<script>` become HTML blocks.
HTML_CONFIG = dataclasses.replace(CONFIG, allow_html=True)

LABELS = [
    "Situation",
    "Context",
    "Background",
    "Problem",
    "Task",
    "Goal",
    "Mission",
    "Objective",
    "Action",
    "Actions",
    "Approach",
    "What I did",
    "Result",
    "Results",
    "Outcome",
    "Impact",
    "Lessons",
    "Lessons learned",
    "Takeaways",
    "Reflection",
    "Follow-ups",
    "Q&A",
    "Summary",
    "TL;DR",
]
LABEL_FORMS = [
    "# {label}",
    "## {label}",
    "### {n}. {label}",
    "#### ⭐ **{label}**",
    "###### {label}:",
    "{label}\n=========",
    "{label}\n---------",
    "**{label}**",
    "**{label}:** {text}",
    "__{label}__ - {text}",
    "{label}: {text}",
    "{n} · The {label}",
    "* {label}:\n  * {text}\n  * {text}",
    "- {label}: {text}",
    "🎯 **{label}**",
    "#### {label}\u200b",
    "<details>\n<summary>{label}</summary>\n\n{text}\n\n</details>",
    "{letter} - {text}",
    "> **{label}:** {text}",
]
OTHER_FORMS = [
    "# {text}",
    "## {text}",
    "### {text}?",
    "{text}\n===",
    "{text}",
    "{text}\n{text}",
    "- {text}\n- {text}\n  - {text}",
    "1. **{text}** — {text}\n2. {text}",
    "```\nSituation: {text}\nAction:\n- {text}\nResult:\n- {text}\n```",
    "```python\n{text}\n```",
    "---",
    "***",
    "| Story | Situation | Action | Result |\n|---|---|---|---|\n"
    "| {text} | {text} | {text} | {text} |",
    "| {text} | {text} |\n|---|---|\n| {label} | {text} |",
    '**Example Question**: "{text}?"',
    "Prompt: {text}",
    "question : {text}\n    OR\n    {text}",
    "- alternate prompt : {text}",
    "**L{n} Version - {text}**:",
    "**IC{n} Version**",
    "======end====",
    "If you want, I can also {text}",
    "**Q:** {text}? **A:** {text}",
    "Q: {text}\nA: {text}",
    "> {text}",
    "<script>{text}</script>",
    "    indented {text}",
    "\t{text}",
]

text = st.text(max_size=30)
words = st.from_regex(r"[A-Za-z][A-Za-z ,.'-]{0,30}", fullmatch=True)


@st.composite
def piece(draw: st.DrawFn) -> str:
    form = draw(st.sampled_from(LABEL_FORMS + OTHER_FORMS))
    fill = draw(st.one_of(words, text))
    return form.format(
        label=draw(st.sampled_from(LABELS)),
        text=fill,
        n=draw(st.integers(0, 9)),
        letter=draw(st.sampled_from("STARLQX")),
    )


@st.composite
def note(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(piece(), max_size=14))
    out = ""
    for part in pieces:
        out += part + draw(st.sampled_from(["\n", "\n\n", "\n\n\n", "\r\n\r\n", " "]))
    if draw(st.booleans()):
        meta = draw(st.sampled_from(["title: {t}", "level: {t}", "themes: [{t}]", "{t}: x"]))
        out = "---\n" + meta.format(t=draw(st.one_of(words, text))) + "\n---\n\n" + out
    if draw(st.integers(0, 9)) == 0:
        out = "\ufeff" + out
    return out


def line_count(source: str) -> int:
    return len(re.split(r"\r\n|\r|\n", source.removeprefix("\ufeff")))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(note(), st.booleans())
def test_parse_text_keeps_its_promises(source: str, allow_html: bool) -> None:
    result = parse_text(source, "notes/generated.md", HTML_CONFIG if allow_html else CONFIG)
    lines = line_count(source)
    ids = [story.id for story in result.stories]
    assert len(ids) == len(set(ids)), ids
    for story in result.stories:
        assert story.id.strip()
        assert story.title.strip()
        assert 1 <= story.source.line <= lines
    for diagnostic in result.diagnostics:
        assert 1 <= diagnostic.location.line <= lines, str(diagnostic)
        assert diagnostic.location.path == "notes/generated.md"


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_parse_text_takes_any_text(source: str) -> None:
    result = parse_text(source, "x.md", CONFIG)
    assert all(story.id and story.title for story in result.stories)
    assert all(1 <= d.location.line <= line_count(source) for d in result.diagnostics)


# --- the plain-line shortcut of the inline parse ------------------------------------------


_STOCK = {html: stock_markdown(html) for html in (False, True)}
#: Lines of words, numbers, every ASCII punctuation mark and bits of inline markup.
_BITS = [*"ab Z9.,;:%$-+=~^#@{}()'\"/|?\t\\`*_[]!<>&\n", "word", "  \n", "&amp;", "&#35;"]
_BITS += ["&nope;", "`x`", "**b**", "_i_", "[a](b)", "![i](s)", "<b>", "<http://x.io>", "\\*"]
_LINES = st.lists(st.sampled_from(_BITS) | st.characters(), max_size=30).map("".join)


#: Lines opening with a bold phrase: its first and last characters and the one after it
#: decide whether the `**` pair is emphasis (spaces, punctuation, symbols, letters).
_EDGES = st.sampled_from(
    [" ", "\u00a0", "\u2003", ".", ":", "—", "(", ")", "$", "€", "a", "Z", "9", "é"]
)
_BOLD_LINES = st.builds(
    lambda a, phrase, b, after, rest: f"**{a}{phrase}{b}**{after}{rest}",
    _EDGES | st.just(""),
    _LINES,
    _EDGES | st.just(""),
    _EDGES | st.just(""),
    _LINES,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(note(), _LINES, _BOLD_LINES), st.booleans())
@example("**Documented the failing requests** — on the edge config (step 5-1).", False)
@example("**Result:**done", False)
@example("** Result** done", False)
@example("**Result **done", False)
@example("**a**", True)
@example("a\r\nb\rc\x00d\n\n\\*e\\*", False)
def test_markdown_gives_the_tokens_stock_markdown_it_gives(source: str, allow_html: bool) -> None:
    assert markdown(allow_html).parse(source) == _STOCK[allow_html].parse(source)


# --- the quick test in front of label lookups ---------------------------------------------

_PIECES = st.sampled_from(
    [
        *LABELS,
        *(label.upper() for label in LABELS),
        "Question",
        "Prompt",
        "Example question",
        "the",
        "my",
        "1.",
        "2)",
        "Step 3:",
        "**",
        "__",
        "*",
        "`",
        "\\",
        "<b>",
        "</b>",
        "(",
        ")",
        "[",
        "]",
        ":",
        " - ",
        " ",
        "\n",
        "Situ",
        "ation",
        "Res",
        "ult",
        "é",
        "\u200b",
        "⭐",
        # Folded to ASCII (long s, Kelvin sign, ligatures, sharp s, dotted I), kept
        # outside it (dashes, no-break space) or dropped (variation selector, symbols).
        "ſ",
        "\u212a",
        "ﬁ",
        "ß",
        "İ",
        "—",
        "\u00a0",
        "\ufe0f",
        "Ⓢ",
        "Ｓ",
        "RESULT",
        "Situ ation",
        "Prompt:",
        "**Result:**",
    ]
)


#: Pieces of long lines: filler that holds no label word, brackets, leads, numbering and
#: articles (a label can hide behind up to 15 letters of these: `Phase 1: viii) the our`).
_LONG_PIECES = _PIECES | st.sampled_from(
    [
        "and agreed the success criteria with product up front",
        "on the recommendation engine, so on-call engineers had one place to look",
        " fell from 31% to 4%",
        " (",
        ")",
        " [",
        "].",
        "(step 6-1).",
        "Phase 1: ",
        "Step 12 - ",
        "viii) ",
        "iv. ",
        "b) ",
        "1.2.3 ",
        "the ",
        "our ",
        "My ",
        "<span class='x'>",
        "</span>",
        "**Drafted the API contract** — ",
        "follow up questions",
    ]
)
_LONG_LINES = st.lists(_LONG_PIECES, max_size=14).map("".join)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PIECES, max_size=8).map("".join) | _LONG_LINES)
@example("Phase 1: viii) the our follow up questions")
@example("Phase 1: viii) the our follow up questions (and a lot more text in brackets here)")
@example("Phase 1: viii) the our follow-ups [and a lot more text in brackets here].")
@example("Situation (during Black Friday, checkout failed for 15% of users, costing $50K)")
@example("Checkout failed for 15% of users during Black Friday, costing us a lot (Situation).")
@example("Checkout failed for 15% of users during Black Friday, costing us a lot (The Result)")
@example("Checkout failed for 15% of users during Black Friday (Result) costing us a lot")
@example("<b>Situation</b> <span class='a-very-long-class-name-with-many-letters'></span>")
@example("Lessons learned (wrong) (during Black Friday, checkout failed for 15% of users)")
@example("⭐⭐ Reſult (during Black Friday, checkout failed for 15% of users, costing $50K)")
@example("Checkout failed for 15% of users during Black Friday, costing a lot (Ta\\sk)")
def test_the_quick_test_never_hides_a_label(phrase: str) -> None:
    from storydeck.parse import vocabulary
    from storydeck.parse.labels import _keys

    vocab = vocabulary(CONFIG)
    full = next((vocab.sections[k] for k in _keys(phrase) if k in vocab.sections), None)
    assert vocab.section_of(phrase) == full
    assert vocab._is_question_label(phrase) == any(k in vocab.questions for k in _keys(phrase))


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PIECES | st.characters(), max_size=10).map("".join) | _LONG_LINES, st.booleans())
@example("**Reſult:** shipped", False)
@example("Ta\u212aeaways", False)
@example("Exampﬂe question: why?", False)
@example("Pro\u200bmpt: why?", False)
@example("*\\“If you want, I can also add more.", False)
@example("Feel free to ask.", False)
@example("Prompt： why now?", False)
@example("**Result:** the error rate on the recommendation engine fell from 31% to 4%.", False)
@example("Result: the error rate on the recommendation engine fell from 31% to 4%", False)
@example("**Drafted the API contract** — on the engine, agreed with product (Result).", False)
@example("Phase 1: viii) the our follow up questions\nand more", False)
@example("Situation (during Black Friday, checkout failed for 15% of users, costing $50K)", True)
@example("S - During Black Friday, checkout failed for 15% of users, costing $50K an hour", True)
@example("*" * 54 + "Prompt: why now?", False)  # a plain lead of 60 characters
@example("*" * 55 + "Prompt: why now?", False)  # and of 61
@example("*" * 54 + "Result: shipped", False)
@example(" \n" + "_" * 54 + "Prompt\n  ： why now?", False)
def test_lines_without_a_label_word_are_read_as_in_full(text: str, letters: bool) -> None:
    """`label`, `question_line` and `is_trailer` skip lines, or parts of lines, that
    cannot hold what they look for: the same answers as looking at every line in full."""
    from storydeck.parse import labels

    vocab = labels.Vocabulary(CONFIG)
    assert vocab._label(text, letters) == _label_in_full(vocab, text, letters)
    assert vocab._question_line(text) == _question_line_in_full(vocab, text)
    words = labels.strip_markup(text).casefold().lstrip("“\"' ")
    assert vocab.is_trailer(text) == words.startswith(vocab.trailers)


def _section_in_full(vocab: Vocabulary, phrase: str) -> Section | None:
    from storydeck.parse.labels import _keys

    return next((vocab.sections[k] for k in _keys(phrase) if k in vocab.sections), None)


def _label_in_full(vocab: Vocabulary, text: str, letters: bool) -> Label | None:
    """What `label` answers, by its patterns alone: the first line, its bold lead, its
    plain lead, then its letter."""
    from storydeck.parse import labels

    first, _, more = text.partition("\n")
    section = _section_in_full(vocab, first)
    if section is not None:
        return Label(section, more.strip())
    bold = labels._BOLD_LEAD.match(first)
    if bold and (section := _section_in_full(vocab, bold.group("lead"))) is not None:
        rest = labels._SEPARATOR.sub("", bold.group("after"), count=1).strip()
        return Label(section, labels._join(labels._strip_emphasis_edges(rest), more))
    plain = labels._PLAIN_LEAD.match(first)
    if plain and (section := _section_in_full(vocab, plain.group("lead"))) is not None:
        return Label(section, labels._join(plain.group("after").strip(), more))
    letter = labels._LETTER.match(first) if letters else None
    if letter and letter.group("letter") in vocab.letters:
        return Label(
            vocab.letters[letter.group("letter")], labels._join(letter.group("after"), more)
        )
    return None


def _question_line_in_full(vocab: Vocabulary, text: str) -> list[str] | None:
    """What `question_line` answers, by its patterns alone."""
    from storydeck.parse import labels

    lead, after = None, ""
    bold = labels._BOLD_LEAD.match(text)
    if bold and labels._SEPARATOR.match(bold.group("after")):
        lead, after = bold.group("lead"), labels._SEPARATOR.sub("", bold.group("after"), count=1)
    elif plain := labels._PLAIN_LEAD.match(text):
        lead, after = plain.group("lead"), plain.group("after")
    if lead is None or not any(key in vocab.questions for key in labels._keys(lead)):
        return None
    return labels.split_questions(after)


@settings(max_examples=600, deadline=None)
@given(st.lists(_PIECES | st.characters() | st.sampled_from(_BITS), max_size=10).map("".join))
@example("== end ==")
@example("_=_= The End")
def test_a_line_starting_with_a_word_is_no_marker_line(text: str) -> None:
    """`starts_with_word` answers without reducing the text; what the finder then skips
    must hold of the reduced text."""
    from storydeck.parse.labels import starts_with_word, strip_markup
    from storydeck.parse.stories import _END_MARKER, _HTML_ONLY, _NO_WORDS

    if starts_with_word(text):
        words = strip_markup(text)
        assert not _NO_WORDS.match(words)
        assert not _END_MARKER.match(words)
        assert not _HTML_ONLY.match(text)


@settings(max_examples=300, deadline=None)
@given(
    st.sets(st.text(st.sampled_from("abcdeilnorst-&;"), min_size=1, max_size=6), max_size=8),
    st.text(st.sampled_from("abcdeilnorst-&; "), max_size=40),
)
def test_the_hint_pattern_finds_what_its_words_find(keys: set[str], phrase: str) -> None:
    from storydeck.parse.labels import _hint

    longest = {max(key.split(" "), key=len) for key in keys}
    assert (_hint(keys).search(phrase) is not None) == any(w in phrase for w in longest)


def test_no_character_a_reduction_drops_folds_to_ascii() -> None:
    """What the quick test outside ASCII rests on, over every code point of this Python."""
    import unicodedata

    from storydeck.parse.labels import _INVISIBLE, _SYMBOLS

    folding = [
        hex(point)
        for point in range(0x80, 0x110000)
        if (point in _INVISIBLE or unicodedata.category(chr(point)) in _SYMBOLS)
        and chr(point).casefold().encode("ascii", "ignore") != b""
    ]
    assert folding == []


def _strip_markup_by_patterns(text: str) -> str:
    """strip_markup as a chain of substitutions: what the faster one must equal."""
    from storydeck.parse.labels import _INVISIBLE, _NON_ASCII, _TAGS, _keep_letters

    text = text.translate(_INVISIBLE)
    if not text.isascii():
        text = _NON_ASCII.sub(_keep_letters, text)
    text = re.sub(r"\s+", " ", text).strip()
    text = _TAGS.sub(" ", text).replace("\\", "")
    return re.sub(r"\s+", " ", re.sub(r"[*_`~]+", " ", text)).strip()


@settings(max_examples=600, deadline=None)
@given(st.lists(_PIECES | st.characters() | st.sampled_from(_BITS), max_size=12).map("".join))
def test_strip_markup_equals_its_patterns(text: str) -> None:
    from storydeck.parse.labels import strip_markup

    assert strip_markup(text) == _strip_markup_by_patterns(text)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from([*"STARLQX -–—:\n\t\u2028\u00a0", "S: x", "T - y", "a"]), max_size=20)
)
def test_letters_in_a_text_are_those_of_its_lines(pieces: list[str]) -> None:
    from storydeck.parse import vocabulary
    from storydeck.parse.labels import _LETTER

    vocab = vocabulary(CONFIG)
    text = "".join(pieces)
    by_line = {
        match.group("letter")
        for line in text.split("\n")
        if (match := _LETTER.match(line)) and match.group("letter") in vocab.letters
    }
    assert vocab.letters_in(text) == by_line


@settings(max_examples=600, deadline=None)
@given(
    st.lists(st.sampled_from([*"ab \t\n:：*_-", "\u00a0", "Prompt", "x" * 20]), max_size=16).map(
        "".join
    )
)
@example("x" * 60 + ":")
@example("x" * 61 + ":")
@example(" \t" + "x" * 60 + "\u00a0 :")
@example("\n\n  " + "x" * 60 + "\n  ： a")
@example("x：" + "y" * 70 + ":")
@example(":")
@example("  :")
def test_a_plain_lead_is_looked_for_only_before_an_early_colon(text: str) -> None:
    from storydeck.parse.labels import _PLAIN_LEAD, _plain_lead

    quick, full = _plain_lead(text), _PLAIN_LEAD.match(text)
    assert (quick and quick.groupdict()) == (full and full.groupdict())


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from([*"STARLQX -–—:\n\t", "S: x", "T - y", "a"]), max_size=8).map(
            "".join
        ),
        max_size=5,
    )
)
def test_letters_in_texts_joined_are_those_of_each(texts: list[str]) -> None:
    from storydeck.parse import vocabulary

    vocab = vocabulary(CONFIG)
    each = set().union(*(vocab.letters_in(text) for text in texts))
    assert vocab.letters_in("\n".join(texts)) == each


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["<", ">", "/", "b", "script", "div ", " ", "\n", "x", "</script>"])
        | st.characters(),
        max_size=12,
    ).map("".join)
)
@example("  <br/>\n<b>")
@example("<script>alert(1)")
def test_what_is_only_tags_or_a_raw_element_holds_a_tag(text: str) -> None:
    from storydeck.parse.stories import _HTML_ONLY, _RAW_ELEMENT, _holds_tag

    if _HTML_ONLY.match(text) or _RAW_ELEMENT.match(text):
        assert _holds_tag(text)

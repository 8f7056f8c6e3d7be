"""Recognising labels, questions, levels and themes in the text of one line.

Everything here works on the markdown source of a heading or of a paragraph's
first line, so `**Result:** text`, `# ⭐ **TASK**`, `1 · The Situation` and
`* Result:` all reduce to the same question: is this a label, and of what?
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from storydeck.config import Config
from storydeck.model import Section

_INVISIBLE = dict.fromkeys([0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD, 0xFE0E, 0xFE0F, 0x20E3])
_NUMBERING = re.compile(
    r"^(?:\d{1,3}(?:\.\d{1,3})+\.?\s+|(?:\d{1,3}|[a-zA-Z]|[ivxIVX]{1,4})\s*(?:[.)·•:]|\s-)\s*)"
)
_STEP_NUMBER = re.compile(r"^(?:step|part|phase)\s+\d+\s*[.):·\-–—]\s*", re.IGNORECASE)
_ARTICLE = re.compile(r"^(?:the|my|our)\s+", re.IGNORECASE)
_TRAILING = re.compile(r"[\s:：.\-–—]+$")
_PAREN = re.compile(r"^(.*?)\s*[(\[]([^()\[\]]*)[)\]]\s*$")
# Inline HTML that wraps a label (`<summary>Situation</summary>`, `<b>Task</b>`): dropped.
_TAGS = re.compile(
    r"</?(?:details|summary|b|i|u|em|strong|mark|span|div|p|br|h[1-6]|small|big|sup|sub|code)"
    r"(?:\s[^<>]*)?/?>",
    re.IGNORECASE,
)

#: What a reduction drops or blanks at the start of a line, in ASCII: spaces, emphasis
#: markers and backslashes.
_MARKUP_LEAD = " \t\n\r\f\v*_`~\\"
#: The same, with the quotes a trailer may open with.
_TRAILER_LEAD = _MARKUP_LEAD + "\"'“"


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_SYMBOLS = frozenset({"So", "Cs", "Co", "Cn", "Cf"})
#: Emphasis markers, each made a space (spaces are folded after).
_EMPHASIS_SPACES = str.maketrans("*_`~", "    ")
_KEPT: dict[str, str] = {}


def _keep_letters(match: re.Match[str]) -> str:
    run = match.group()
    kept = _KEPT.get(run)
    if kept is None:
        kept = "".join(ch for ch in run if unicodedata.category(ch) not in _SYMBOLS)
        if len(_KEPT) < 4096:  # a note's dashes, quotes and emoji: a few dozen runs
            _KEPT[run] = kept
    return kept


def _clean(text: str) -> str:
    # Every invisible, emoji or pictograph character is outside ASCII.
    if not text.isascii():
        text = _NON_ASCII.sub(_keep_letters, text.translate(_INVISIBLE))
    return " ".join(text.split())


@lru_cache(maxsize=65536)
def clean(text: str) -> str:
    """Text with invisible characters, emoji and pictographs removed, spaces folded."""
    return _clean(text)


@lru_cache(maxsize=65536)
def strip_markup(text: str) -> str:
    """A heading or lead as plain words: emphasis markers and escapes removed."""
    text = _clean(text)
    if "<" in text:
        text = _TAGS.sub(" ", text)
    return " ".join(text.replace("\\", "").translate(_EMPHASIS_SPACES).split())


def starts_with_word(text: str) -> bool:
    """Whether the first character `strip_markup` keeps of `text` is an ASCII letter or
    digit, found without reducing the text.

    Everything before that character is space, emphasis or backslashes, which the
    reduction drops or blanks; the character itself is kept. So the reduced text has
    a word, and starts with it: no end marker, trailer or bare markup line does.
    """
    lead = text.lstrip(_MARKUP_LEAD)[:1]
    return lead.isascii() and lead.isalnum()


def strip_numbering(text: str) -> str:
    text = _STEP_NUMBER.sub("", text)
    return _NUMBERING.sub("", text, count=1).strip()


@lru_cache(maxsize=16384)
def _keys(text: str) -> tuple[str, ...]:
    """The normalised forms a label phrase is looked up by: whole, then in parentheses.

    Cached: every line of a note is asked about several times (label? question?).
    """
    text = strip_markup(text)
    text = strip_numbering(text)
    text = _TRAILING.sub("", text)
    text = _ARTICLE.sub("", text)
    out = [text]
    paren = _PAREN.match(text)
    if paren:
        out = [paren.group(1), paren.group(2)]
    return tuple(
        _TRAILING.sub("", _ARTICLE.sub("", k)).casefold().strip() for k in out if k.strip()
    )


def _hint(keys: Iterable[str]) -> re.Pattern[str]:
    """A quick test that a phrase may reduce to one of `keys` (see `_may_hold`): the
    longest word of some key occurs in it.

    A word that holds another (`results` holds `result`) is left out, since the
    other occurs wherever it does; the rest are one pattern shaped as the tree of
    their letters, so that each place of a phrase costs one step per letter it
    shares with some word, not one try per word.
    """
    longest = {max(key.split(" "), key=len) for key in keys if key}
    words = {w for w in longest if not any(o != w and o in w for o in longest)}
    if not words:
        return re.compile(r"(?!)")
    return re.compile(_letter_tree(sorted(words)))


def _letter_tree(words: list[str]) -> str:
    """A pattern matching exactly `words` (sorted, none a prefix of another), shared
    beginnings written once: `ab|ac` -> `a(?:b|c)`."""
    if len(words) == 1:
        return re.escape(words[0])
    branches = []
    for first, group in itertools.groupby(words, key=lambda w: w[0]):
        rests = [w[1:] for w in group]
        branches.append(re.escape(first) + _letter_tree(rests))
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"


def _may_hold(hint: re.Pattern[str], phrase: str, ascii_hint: bool) -> bool:
    """False only when no key of `hint` can be among `_keys(phrase)`.

    Each word of such a key is a run of the phrase's own characters: reducing a
    phrase only drops markup, numbering, articles, punctuation, invisible characters
    and pictographs, puts spaces where markup was, and removes backslashes (which may
    join letters) and case. So when the phrase, without backslashes and case folded,
    holds none of the hint's words, no key can match. A phrase outside ASCII is
    folded, then loses every character still outside ASCII: with hint words all in
    ASCII (`ascii_hint`), a word the reduction can make is still a run of what is
    left (no character a reduction drops folds to ASCII). Other phrases are always
    looked at in full.
    """
    phrase = phrase.replace("\\", "")
    if phrase.isascii():
        return hint.search(phrase.lower()) is not None
    if not ascii_hint:
        return True
    return hint.search(phrase.casefold().encode("ascii", "ignore").decode("ascii")) is not None


#: How many ASCII letters a reduction may drop from the start of a phrase it makes keys
#: of: a step number's word (`phase`, 5), a numbering's letters (`viii)`, 4) and an
#: article twice (`the`, then `our` once brackets are split off, 3 each). Tags drop
#: any number, so a phrase with `<` in it is always looked at in full.
_DROPPED_LETTERS = 15
_ASCII_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _ascii_letters(text: str) -> int:
    """How many ASCII letters `text` holds."""
    data = text.encode("utf-8", "surrogatepass")
    return len(data) - len(data.translate(None, _ASCII_LETTERS))


class _KeyTest:
    """A quick test that a phrase may reduce to one of `keys` (see `_keys`), which looks
    only where such a key can be: the whole phrase, the part in brackets at its end or
    the part before them.

    Every ASCII letter of a phrase without `<` is kept by the reduction but for at most
    `_DROPPED_LETTERS` at its start, and case folding makes each one letter again (other
    characters may only add to them). So a phrase with more letters than that beyond
    the most any key has reduces to a key only by its brackets: the part in them, or the
    part before them if that has few enough letters. Those are the runs of the phrase
    after and before its last `(` or `[`, which the reduction keeps in its place. Other
    phrases get `_may_hold` over all of their length.
    """

    __slots__ = ("ascii", "hint", "most")

    def __init__(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        self.hint = _hint(keys)
        self.ascii = all(key.isascii() for key in keys)
        #: The most ASCII letters a phrase can hold and still reduce to a key as a whole.
        self.most = max((_ascii_letters(key) for key in keys), default=0) + _DROPPED_LETTERS

    def __call__(self, phrase: str) -> bool:
        """False only when no key of `_keys(phrase)` is one of this test's keys."""
        return self.look(phrase)[0]

    def look(self, phrase: str) -> tuple[bool, bool]:
        """Whether `phrase` may reduce to a key, and whether any run of it may.

        The second is False only for a phrase short enough to be a key that holds no
        word of one; a longer phrase may hold a key in a run of it (a lead), which is
        looked at on its own.
        """
        if len(phrase) <= self.most or "<" in phrase:
            whole = _may_hold(self.hint, phrase, self.ascii)
            return whole, whole
        letters = _ascii_letters(phrase)
        if letters <= self.most:
            whole = _may_hold(self.hint, phrase, self.ascii)
            return whole, whole
        cut = max(phrase.rfind("("), phrase.rfind("["))
        if cut < 0:
            return False, True
        tail = phrase[cut:]
        whole = _may_hold(self.hint, tail, self.ascii) or (
            # (the part before a short tail has too many letters, told without counting)
            letters - len(tail) <= self.most
            and letters - _ascii_letters(tail) <= self.most
            and _may_hold(self.hint, phrase[:cut], self.ascii)
        )
        return whole, True


@dataclass(frozen=True, slots=True)
class Label:
    """A recognised label: its section, and the text that followed it on the line."""

    section: Section
    rest: str


@dataclass(frozen=True, slots=True)
class LevelLabel:
    level: str
    subtitle: str


# A bold lead at the start of a line: `**Result:** text`, `__Task__ - text`.
_BOLD_LEAD = re.compile(r"^\s*(\*\*\*|\*\*|__|\*|_)(?P<lead>[^*_\n]+?)\1(?P<after>.*)$", re.DOTALL)
# A plain lead ending in a colon: `Situation: text`, `question : text`.
_PLAIN_LEAD = re.compile(r"^\s*(?P<lead>[^:：\n]{1,60}?)\s*[:：](?P<after>.*)$", re.DOTALL)
#: The most characters a plain lead holds: the 60 of `_PLAIN_LEAD`.
_PLAIN_LEAD_MOST = 60
_SEPARATOR = re.compile(r"^\s*(?:[:：]|[-–—](?=\s))\s*")
_LETTER = re.compile(r"^\s*(?P<letter>[A-Z])\s*[-–—:]\s+(?P<after>\S.*)$", re.DOTALL)
#: The letter of each line of a text that `_LETTER` matches alone, in the text with a
#: newline put before it: every line then starts after one, and the search skips from
#: newline to newline instead of trying every place for the start of a line.
_LETTER_LINES = re.compile(r"\n[^\S\n]*([A-Z])[^\S\n]*[-–—:][^\S\n]+\S")
_QUOTES = "\"'“”‘’«»"
#: What a bold lead starts with (after spaces).
_BOLD_MARKERS = ("*", "_")
_ALTERNATIVES = re.compile(r"\s*(?:\n\s*|\s)(?:OR|or|/)\s*(?:\n\s*|\s)|\n\s*\n")


def _plain_lead(text: str) -> re.Match[str] | None:
    """`_PLAIN_LEAD.match(text)`, without trying a text whose first colon comes too late.

    The lead ends at the first colon and holds all that stands before it but the spaces
    at either end, so a text with more than `_PLAIN_LEAD_MOST` characters before its
    first colon, spaces at the ends not counted (most sentences with a colon far into
    them), has none.
    """
    head = text.partition(":")[0].partition("：")[0]
    if len(head) == len(text) or len(head.strip()) > _PLAIN_LEAD_MOST:
        return None
    return _PLAIN_LEAD.match(text)


#: How many answers a vocabulary remembers before it starts afresh.
_MEMO_LIMIT = 20_000


class Vocabulary:
    """The label words of one configuration, compiled for lookups."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.sections: dict[str, Section] = {}
        for section, words in config.labels.items():
            for word in words:
                for key in _keys(word):
                    self.sections.setdefault(key, section)
        self.questions = {k for word in config.question_labels for k in _keys(word)}
        self._section_test = _KeyTest(self.sections)
        self._question_test = _KeyTest(self.questions)
        self.letters = dict(config.letters)
        self.trailers = tuple(t.casefold() for t in config.trailers)
        # The first letters trailers start with; a line whose first kept character is
        # another ASCII letter or digit is none (see `starts_with_word`).
        self._trailer_starts: frozenset[str] | None = (
            frozenset(t[0] for t in self.trailers) if all(self.trailers) else None
        )
        self._level_token, self._level_word = _level_patterns(config)
        self._themes = _theme_patterns(config)
        # The finder asks about the same line several times (look-ahead, then the pass).
        self._labels: dict[tuple[str, bool], Label | None] = {}
        self._question_lines: dict[str, list[str] | None] = {}
        # Most notes name the same few themes in their front matter.
        self._theme_ids: dict[str, str | None] = {}

    # --- labels -------------------------------------------------------------------------

    def section_of(self, phrase: str) -> Section | None:
        if not self._section_test(phrase):
            return None
        return self._section_by_keys(phrase)

    def _section_by_keys(self, phrase: str) -> Section | None:
        for key in _keys(phrase):
            section = self.sections.get(key)
            if section is not None:
                return section
        return None

    def label(self, text: str, *, letters: bool = False) -> Label | None:
        """The label at the start of a heading or paragraph, if any.

        `text` is markdown source; `rest` is what follows the label (source too).
        """
        key = (text, letters)
        if key not in self._labels:
            if len(self._labels) > _MEMO_LIMIT:
                self._labels.clear()
            self._labels[key] = self._label(text, letters)
        return self._labels[key]

    def _label(self, text: str, letters: bool) -> Label | None:
        first, _, more = text.partition("\n")
        # Both leads looked at below are runs of the first line: a line short enough to be
        # a label that holds no label word holds no label but a letter. A longer line is
        # a label as a whole only by its brackets, but its leads are looked at all the same.
        whole, leads = self._section_test.look(first)
        if whole:
            section = self._section_by_keys(first)
            if section is not None:
                return Label(section, more.strip())
        if leads:
            bold = _BOLD_LEAD.match(first)
            if bold:
                section = self.section_of(bold.group("lead"))
                after = bold.group("after")
                if section is not None:
                    rest = _SEPARATOR.sub("", after, count=1).strip()
                    rest = _strip_emphasis_edges(rest)
                    return Label(section, _join(rest, more))
            plain = _plain_lead(first)
            if plain:
                section = self.section_of(plain.group("lead"))
                if section is not None:
                    return Label(section, _join(plain.group("after").strip(), more))
        if letters:
            letter = _LETTER.match(first)
            if letter and letter.group("letter") in self.letters:
                return Label(
                    self.letters[letter.group("letter")], _join(letter.group("after"), more)
                )
        return None

    def letters_in(self, text: str) -> set[str]:
        """The letter labels that start lines of `text` (as `_LETTER` reads each line)."""
        return set(_LETTER_LINES.findall("\n" + text)) & self.letters.keys()

    # --- questions ----------------------------------------------------------------------

    def _is_question_label(self, phrase: str) -> bool:
        if not self._question_test(phrase):
            return False
        return any(k in self.questions for k in _keys(phrase))

    def question_line(self, text: str) -> list[str] | None:
        """Questions named by a `Prompt: ...` / `**Example Question**: "..."` line."""
        if text not in self._question_lines:
            if len(self._question_lines) > _MEMO_LIMIT:
                self._question_lines.clear()
            self._question_lines[text] = self._question_line(text)
        found = self._question_lines[text]
        return None if found is None else list(found)

    def _question_line(self, text: str) -> list[str] | None:
        # A lead is bold (the text starts with a marker) or ends in a colon. Whether it
        # names a question is told from the lead alone, not from all of a long text.
        if text.lstrip()[:1] not in _BOLD_MARKERS and ":" not in text and "：" not in text:
            return None
        bold = _BOLD_LEAD.match(text)
        if bold and _SEPARATOR.match(bold.group("after")):
            lead = bold.group("lead")
            if not self._is_question_label(lead):
                return None
            after = _SEPARATOR.sub("", bold.group("after"), count=1)
        else:
            plain = _plain_lead(text)
            if plain is None or not self._is_question_label(plain.group("lead")):
                return None
            after = plain.group("after")
        return split_questions(after)

    def is_question_label(self, text: str) -> bool:
        """Is this phrase (a table header, say) one of the question labels?"""
        return self._is_question_label(text)

    def is_alternate(self, text: str) -> bool:
        """A `alternate prompt: ...` line: its questions rank after the main ones."""
        return bool(re.match(r"^\W*(?:alternat\w*|other|also)\b", strip_markup(text), re.I))

    # --- trailers and ends --------------------------------------------------------------

    def is_trailer(self, text: str) -> bool:
        if self._trailer_starts is not None:
            lead = text.lstrip(_TRAILER_LEAD)[:1]
            if lead.isascii() and lead.isalnum() and lead.lower() not in self._trailer_starts:
                return False
        words = strip_markup(text).casefold().lstrip("“\"' ")
        return words.startswith(self.trailers)

    # --- levels -------------------------------------------------------------------------

    def level_label(self, text: str) -> LevelLabel | None:
        """`L3 Version - Individual Contribution` -> (L3, Individual Contribution)."""
        words = strip_markup(text.partition("\n")[0])
        words = _TRAILING.sub("", words)
        match = self._level_token.match(words) or self._level_word.match(words)
        if not match:
            return None
        level = self.config.level_id(match.group("level"))
        if level is None:
            return None
        rest = words[match.end() :]
        rest = re.sub(r"^\s*(?:version|level|story|example)\b", "", rest, flags=re.IGNORECASE)
        rest = _SEPARATOR.sub("", rest.strip()).strip(" -–—:")
        return LevelLabel(level, rest)

    def levels_in(self, text: str) -> list[str]:
        """Level ids named anywhere in free text (`IC5-level`, `L4`), in order."""
        found: list[str] = []
        for pattern in (self._level_token, self._level_word):
            for match in pattern.finditer(text):
                level = self.config.level_id(match.group("level"))
                if level is not None:
                    found.append(level)
        return found

    # --- themes -------------------------------------------------------------------------

    def theme_id(self, name: str) -> str | None:
        """The configured theme a front matter's theme `name` stands for, if any."""
        if name not in self._theme_ids:
            if len(self._theme_ids) > _MEMO_LIMIT:
                self._theme_ids.clear()
            self._theme_ids[name] = self._theme_id(name)
        return self._theme_ids[name]

    def _theme_id(self, name: str) -> str | None:
        key = name.strip().casefold()
        for theme in self.config.themes:
            names = {theme.id, theme.title.casefold(), *(a.casefold() for a in theme.aliases)}
            if key in names or key.replace(" ", "-") == theme.id:
                return theme.id
        return None

    def themes_in(self, text: str) -> list[tuple[int, str]]:
        """(position, theme id) of every theme a phrase points to, in order of position."""
        words = " " + _theme_words(text) + " "
        hits: dict[str, int] = {}
        for theme_id, patterns in self._themes:
            for pattern in patterns:
                pos = words.find(pattern)
                if pos >= 0 and (theme_id not in hits or pos < hits[theme_id]):
                    hits[theme_id] = pos
        return sorted((pos, theme) for theme, pos in hits.items())


def _strip_emphasis_edges(text: str) -> str:
    """`** text` left behind by `**Result:** text`-style leads loses its stray markers."""
    return re.sub(r"^[*_]+\s+", "", text)


def _join(first: str, more: str) -> str:
    return f"{first}\n{more}".strip() if more.strip() else first.strip()


def split_questions(text: str) -> list[str]:
    """`"A?" OR "B?"` -> ["A?", "B?"], quotes and markup removed, first letter capitalised."""
    out: list[str] = []
    for part in _ALTERNATIVES.split(text):
        question = strip_markup(part).strip().strip(_QUOTES).strip()
        question = question.rstrip(" ,;")
        if len(question) >= 3 and any(ch.isalpha() for ch in question):
            out.append(question[0].upper() + question[1:])
    return out


def _theme_words(text: str) -> str:
    text = strip_markup(text).casefold().replace("/", " ").replace("&", " and ")
    words = re.findall(r"[\w'+-]+", text)
    return " ".join(_singular(w) for w in words)


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _theme_patterns(config: Config) -> list[tuple[str, list[str]]]:
    out = []
    for theme in config.themes:
        phrases = [theme.title, theme.id.replace("-", " "), *theme.aliases]
        patterns = sorted({" " + _theme_words(p) + " " for p in phrases if p.strip()}, key=len)
        out.append((theme.id, [p for p in patterns if p.strip()]))
    return out


def _level_patterns(config: Config) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Patterns for level names: tokens with a digit anywhere, words only as `X level`."""
    tokens: list[str] = []
    words: list[str] = []
    for level in config.levels:
        for name in (level.id, *level.aliases):
            (tokens if any(ch.isdigit() for ch in name) else words).append(name)
    tokens.sort(key=len, reverse=True)
    words.sort(key=len, reverse=True)

    def alternation(names: list[str]) -> str:
        return "|".join(re.escape(n).replace(r"\ ", r"[\s_-]?") for n in names) or "(?!)"

    token = re.compile(rf"(?<![\w-])(?P<level>{alternation(tokens)})(?![\w])(?!-\d)", re.IGNORECASE)
    word = re.compile(
        rf"(?<![\w-])(?P<level>{alternation(words)})[\s-]+(?:level|version)\b", re.IGNORECASE
    )
    return token, word

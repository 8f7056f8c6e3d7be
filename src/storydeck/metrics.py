"""Find measured quantities in story sentences and turn them into Anki cloze text.

A *metric* is a number that measures something: a percentage, an amount of
money, a duration, a multiplier, a data size or throughput, or a count of
things ("250+ enterprise customers").  A from->to change ("from 4 hours to 45
minutes") is one metric with two quantities.  Numbers that only name or order
things are not metrics: versions, identifiers, dates, years, clock times, list
numbering and ranks.

Span rules, in short:

* A comparison qualifier directly before the number belongs to the quantity
  ("under 3 hours", "~3 hours", "at least 8 incidents"); only the nearest one,
  so "within ≈ 3 hours" yields "≈ 3 hours".
* A rate belongs to the quantity ("$1.2M per day", "$50K/hour").
* Money stops after its magnitude ("$200k of licenses" -> "$200k").
* A duration is the number and its unit ("3-day recovery" -> "3-day").
* A count is the number plus a noun phrase of at most three words that ends in
  a plural noun, stopping before prepositions and other function words
  ("250+ enterprise customers across 7 geos" -> "250+ enterprise customers").
  A number marked with "+", "ish" or a magnitude ("250+", "40ish", "10M")
  counts even without a noun.  Hyphenated counts of a known unit take one
  following word ("2,000-line file").
* Bare numbers ("retried 3 times" counts, "was 3" does not), spelled-out
  numbers and plain four-digit years are never counts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Metric", "Quantity", "cloze", "find_metrics"]


@dataclass(frozen=True, slots=True)
class Quantity:
    """One measured quantity: ``text`` is exactly ``source[start:end]``."""

    start: int
    end: int
    text: str

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end or self.end - self.start != len(self.text):
            msg = f"inconsistent quantity span {self.start}:{self.end} for {self.text!r}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class Metric:
    """A single quantity, or the two ends of a from->to change."""

    quantities: tuple[Quantity, ...]

    def __post_init__(self) -> None:
        if len(self.quantities) not in (1, 2):
            msg = f"a metric has 1 or 2 quantities, not {len(self.quantities)}"
            raise ValueError(msg)

    @property
    def value(self) -> str:
        """What the card's back shows: ``"45 minutes"`` or ``"4 hours → 45 minutes"``."""
        return " → ".join(" ".join(q.text.split()) for q in self.quantities)


# --------------------------------------------------------------------------
# Regex pieces.  Everything is compiled with re.IGNORECASE; `(?-i:...)` marks
# the few places where case matters.


def _words(alternatives: str) -> str:
    """Whole-word alternation of the whitespace-separated regex fragments given."""
    return "(?:" + "|".join(alternatives.split()) + r")(?![\w'\u2019-])"


# Numbers: "7", "1,000", "99.9".  A number must not continue into a version,
# a list of digits, a clock time, a fraction or a date ("5.7.1", "4:15",
# "24/7", "2023-04").
_NUMBER = r"(?:[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?)"
_INTEGER = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)"
_NUMBER_END = r"(?![.,:/\-\u2013]?[0-9])"
_DASH = r"\s?[-\u2013]\s?"  # hyphen or en dash
# A number, or a range "20-30", as used by percentages, money and durations.
_AMOUNT = rf"{_NUMBER}(?:{_DASH}{_NUMBER})?{_NUMBER_END}"
# A plain four-digit year; never a count on its own.
_YEAR = r"(?:19|20)[0-9]{2}(?![0-9,.])"

# A quantity never starts inside a word or identifier ("SKU123", "IPv6",
# "Wave-3", "v2.3.1"), after a clock/fraction separator, or after "#".
_START = r"(?<![\w.,/:\-\u2013#@'\u2019])"

_MAGNITUDE = r"(?:\s?(?:thousand|million|billion|trillion)|[kmb](?:n|m)?)(?!\w)"
_MARK = r"(?:\+(?![0-9])|-?ish(?!\w))"  # "250+", "40ish"

_QUALIFIER_WORDS = r"""less\s+than more\s+than fewer\s+than greater\s+than at\s+least at\s+most
    up\s+to as\s+(?:many|much|few|little)\s+as under over below above within nearly almost
    about around roughly approx(?:imately|\.)?"""
_QUALIFIER_WORD = _words(_QUALIFIER_WORDS)
_QUALIFIER = rf"{_QUALIFIER_WORD}\s+|[≈~≤≥]\s?|[<>](?=[0-9$€£])"

# Rates: "per day", "/hour", "a month", "annually".
_RATE_UNIT = _words(
    r"""seconds? secs? s minutes? mins? hours? hrs? h days? weeks? wk months? mo quarters?
    qtr years? yrs? annum sprints? releases? users? seats? customers? requests? engineers?"""
)
_UNIT_RATE = rf"(?:\s*/\s*|\s+(?:per|a|an|each|every)\s+){_RATE_UNIT}"
_RATE = rf"(?:{_UNIT_RATE}|\s+{_words('annually yearly monthly weekly daily ARR MRR')})"

_PERCENT_UNIT = _words(r"percent per\s?cent pct percentage\s+points? pp bps basis\s+points?")
_PERCENT = rf"{_AMOUNT}\s?(?:%|{_PERCENT_UNIT})"

_CURRENCY_SIGN = r"(?:(?:US|[ACS])?\$|[€£¥₹])"
_CURRENCY_CODE = r"(?:USD|EUR|GBP|INR|CAD|AUD|JPY)"
_MONEY = (
    rf"(?:{_CURRENCY_SIGN}|{_CURRENCY_CODE})\s?{_AMOUNT}(?:{_MAGNITUDE})?(?!\w)"
    rf"|{_AMOUNT}(?:{_MAGNITUDE})?\s?{_words(_CURRENCY_CODE + ' dollars euros')}"
)

_MULTIPLIER = rf"{_NUMBER}{_NUMBER_END}(?:\s?\u00d7|x|-?fold)(?!\w)"  # "3x", "10×"

_TIME_UNIT = _words(
    r"""milliseconds? ms seconds? secs? minutes? mins? hours? hrs? h
    (?:business|working|calendar)\s+days? days? weeks? fortnights? months? quarters?
    years? yrs? sprints? weekends? nights?"""
)
_DURATION = rf"{_AMOUNT}{_MARK}?(?:-|\s*){_TIME_UNIT}"  # "45 minutes", "3-day", "10+ years"

_DATA_UNIT = _words(r"[kmgtp]i?b bytes? [kmg]bps qps rps tps iops req/s ops/s")
_MEASURE = rf"{_AMOUNT}(?:{_MAGNITUDE})?\s?{_DATA_UNIT}"  # "4 TB", "10K QPS"

# Function words: they end a count's noun phrase, or keep one from starting.
_STOP = _words(
    """a an the of in on at to for from by with within without across over under per via
    into onto upon than then that which who while during after before since until through
    between among against about around towards? and or nor but vs versus plus is are was
    were be been has have had do does did as so if when where whereas because it its this
    these those their our my his hers her your yours ours theirs each every all any no not
    only also just even still always perhaps sometimes besides afterwards yes"""
)
_WORD = r"[^\W\d_][\w'\u2019-]*"
_MODIFIER = rf"(?!{_STOP}){_WORD}"
# A plural noun: ends in "s" but not "ss", "us" or "is" ("process", "status",
# "analysis"); "APIs" keeps its capital I.  Plus a few irregular plurals.
_PLURAL = (
    rf"(?!{_STOP})"
    rf"(?:{_WORD}(?-i:(?<=[^\W\d_]s)(?<!ss)(?<!us)(?<!is))|people|staff|personnel)"
    r"(?![\w'\u2019-])"
)
_NOUN_PHRASE = rf"(?:\s+{_MODIFIER}){{0,2}}\s+{_PLURAL}"  # at most three words

# Counts: "2,000-line file", "10M+ users", "250+", "7 geos", "3 per week".
_COUNT_UNIT = _words(
    """lines? pages? person people members? engineers? developers? teams? nodes? servers?
    hosts? machines? clusters? regions? zones? users? seats? cores? services? tables?
    columns? rows?"""
)
_COMPOUND_COUNT = rf"{_INTEGER}{_NUMBER_END}-{_COUNT_UNIT}(?:\s+{_MODIFIER})?"
_MARKED_COUNT = rf"{_NUMBER}{_NUMBER_END}(?:{_MAGNITUDE}{_MARK}?|{_MARK})(?:{_NOUN_PHRASE})?"
_PLAIN_COUNT = rf"(?!{_YEAR}){_INTEGER}(?:{_DASH}{_INTEGER})?{_NUMBER_END}{_NOUN_PHRASE}"
_RATED_NUMBER = rf"(?!{_YEAR}){_AMOUNT}(?={_UNIT_RATE})"

_QUANTITY = (
    rf"{_START}(?:{_QUALIFIER})?"
    rf"(?:{_PERCENT}|{_MONEY}|{_MULTIPLIER}|{_DURATION}|{_MEASURE}"
    rf"|{_COMPOUND_COUNT}|{_MARKED_COUNT}|{_PLAIN_COUNT}|{_RATED_NUMBER})"
    rf"(?:{_RATE})?"
)

# Things that look numeric but are not measures.  They are matched (and thrown
# away) before a quantity can start inside them.
_CLOCK = (
    r"(?<![\w.:])[0-9]{1,2}(?::[0-9]{2}){1,2}(?:\s?[ap]\.?m\.?(?!\w))?"  # "4:15 pm", "17:05"
    r"|(?<![\w.:])[0-9]{1,2}\s?[ap]\.?m\.?(?!\w)"  # "9am"
)
_MONTH = (
    r"(?-i:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?(?!\w)"
)
_DAY = r"[0-9]{1,2}(?:st|nd|rd|th)?"
_DATE = (
    r"(?<![\w.,/:\-\u2013#])(?:"
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"  # "2023-04-01"
    r"|[0-9]{1,2}/[0-9]{1,2}(?:/[0-9]{2,4})?"  # "3/14/2024", also "24/7"
    rf"|{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+[0-9]{{4}})?"  # "3 March 2024"
    rf"|{_MONTH}\s+{_DAY}(?![\w%])(?:,?\s+[0-9]{{4}})?"  # "March 3, 2024"
    ")"
)
# A label, rank or product name followed by its number: "Step 3", "Sev 2",
# "top 3", "Python 3", "MySQL 5.7".
_LABEL_WORD = _words(
    r"""steps? phase wave stage sev severity priority pri level tier grade version ver v
    release build patch sprint iteration round milestone gen generation chapter section page
    item number top rank ranked type python java jdk node nodejs php perl ruby rails django
    angular react vue scala kotlin swift windows macos ios android ubuntu debian centos rhel
    fedora mysql postgres(?:ql)? oracle redis kafka elasticsearch mongodb spark hadoop http
    tls ssl html gpt"""
)
_LABELLED = rf"(?<!\w){_LABEL_WORD}\s*(?:#|no\.)?\s*[0-9][0-9.]*(?:{_DASH}[0-9]+)?"

_FOUND = rf"(?P<skip>{_CLOCK}|{_DATE}|{_LABELLED})|(?P<quantity>{_QUANTITY})"

# Where a match of _FOUND may start, as a quick test in front of it: not inside a word
# (every branch looks behind for that), and
# * at a digit, a currency sign or a qualifying symbol;
# * at a word followed by a digit, a currency sign or "#" ("March 3", "Sev #2", "USD 5",
#   "US$5", "about 5"), or by "no." and a digit ("Sev no. 2");
# * at a qualifier followed by one of those, maybe after a currency code ("at least 5",
#   "as many as USD 5"). The qualifiers are too many to try at every word: only words
#   that begin with a letter one of them begins with are tried (each qualifier is
#   written above from a plain letter on).
# Most places in a sentence fail it at once. Only a qualifier is let look past the next
# word: looking four words ahead from every word cost as much as the rest of the scan.
_LEAD = r"(?>[^\W\d_]+\.?\s*)"  # a word, its full stop and the spaces after it
_OPENER = r"[0-9$€£¥₹≈~≤≥<>]"
_LEAD_END = r"[0-9$€£¥₹#]"
_QUALIFIER_INITIALS = "".join(sorted({word[0] for word in _QUALIFIER_WORDS.split()}))
_MAY_START = (
    rf"(?<!\w)(?={_OPENER}"
    rf"|{_LEAD}(?:{_LEAD_END}|no\.\s*[0-9])"
    rf"|(?=[{_QUALIFIER_INITIALS}]){_QUALIFIER_WORD}\s*{_LEAD}?{_LEAD_END})"
)

_SCANNER = re.compile(rf"{_MAY_START}(?:{_FOUND})", re.IGNORECASE)
_DIGIT = re.compile(r"[0-9]")
# Where the quick test of a match ends: the match starts there, or up to four words
# before it (a qualifier of up to three words, then a currency code), with nothing
# but full stops and spaces between them.
_ANCHOR = re.compile(rf"{_OPENER}|{_LEAD_END}", re.IGNORECASE)
# Up to four such words, read backwards from an anchor in the reversed text.
_WORDS_BACKWARDS = re.compile(r"(?:[\s.]*[^\W\d_]+){0,4}", re.IGNORECASE)

# From->to changes: "from A to B", "from A down to B", or "A → B".
_ARROW = r"\s*(?:→|->|⟶|=>)\s*"
_TO = r"\s+(?:down\s+)?to\s+"
_ARROW_GAP = re.compile(_ARROW)
_TO_GAP = re.compile(_TO, re.IGNORECASE)
_FROM_BEFORE = re.compile(r"(?<!\w)from\s+\Z", re.IGNORECASE)
# "from 12 to 3 incidents": the change starts at a bare number.
_BARE_FROM_BEFORE = re.compile(
    rf"(?<!\w)from\s+(?P<amount>{_NUMBER}{_NUMBER_END})(?:{_TO}|{_ARROW})\Z",
    re.IGNORECASE,
)
_LOOKBACK = 80


# --------------------------------------------------------------------------


def _scan(text: str) -> list[Quantity]:
    """Every single quantity in ``text``, in order, non-overlapping."""
    # Every quantity, date, clock time and labelled number has a digit in it. Most
    # sentences of a story have none, and need no scan.
    if _DIGIT.search(text) is None:
        return []
    # What `_SCANNER.finditer` finds, without trying the scanner at every place in the
    # text: each search starts where the next match can start at the earliest, up to
    # four words before the next anchor, and none starts after the last anchor. That
    # skips most of a sentence; finding the anchors costs next to nothing.
    found: list[Quantity] = []
    backwards = text[::-1]
    position = 0
    while (anchor := _ANCHOR.search(text, position)) is not None:
        behind = len(text) - anchor.start()  # where the text before it starts backwards
        words = _WORDS_BACKWARDS.match(backwards, behind)
        assert words is not None  # (it matches no word at all too)
        start = anchor.start() - (words.end() - behind)
        match = _SCANNER.search(text, max(start, position))
        if match is None:
            break
        if match.lastgroup == "quantity":
            found.append(Quantity(match.start(), match.end(), match.group()))
        position = match.end()
    return found


def _is_change(text: str, first: Quantity, second: Quantity) -> bool:
    """Whether ``first`` and ``second`` are the two ends of one change."""
    if _ARROW_GAP.fullmatch(text, first.end, second.start):
        return True
    if not _TO_GAP.fullmatch(text, first.end, second.start):
        return False
    lookback = max(0, first.start - _LOOKBACK)
    return _FROM_BEFORE.search(text, lookback, first.start) is not None


def _bare_start(text: str, after: int, quantity: Quantity) -> Quantity | None:
    """The bare number that starts a change ending in ``quantity``, if any."""
    lookback = max(after, quantity.start - _LOOKBACK)
    match = _BARE_FROM_BEFORE.search(text, lookback, quantity.start)
    if match is None:
        return None
    start, end = match.span("amount")
    return Quantity(start, end, match.group("amount"))


@lru_cache(maxsize=16384)
def find_metrics(text: str) -> tuple[Metric, ...]:
    """Measured quantities in one plain-text sentence or paragraph, in order, non-overlapping."""
    quantities = _scan(text)
    metrics: list[Metric] = []
    previous_end = 0
    index = 0
    while index < len(quantities):
        current = quantities[index]
        following = quantities[index + 1] if index + 1 < len(quantities) else None
        if following is not None and _is_change(text, current, following):
            metrics.append(Metric((current, following)))
            index += 2
        else:
            bare = _bare_start(text, previous_end, current)
            metrics.append(Metric((current,) if bare is None else (bare, current)))
            index += 1
        previous_end = metrics[-1].quantities[-1].end
    return tuple(metrics)


# --------------------------------------------------------------------------
# Cloze rendering.

# Escaping is a chain of replacements, not `html.escape` and `str.translate`: a
# replacement finds nothing to do in most texts at once, where translating with a table
# that maps one character to several looks each character up. No replacement text holds
# a character a later one replaces, so the chain gives what the table would.


def _escape_outside(text: str) -> str:
    """HTML-escape text between clozes; braces become entities so no "{{"/"}}" survives."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("{", "&#123;")
        .replace("}", "&#125;")
    )


def _escape_inside(text: str) -> str:
    """HTML-escape a clozed quantity; braces and colons become entities so no
    "}}" or "::" can end the deletion or start a hint early."""
    return _escape_outside(text).replace(":", "&#58;")


def cloze(text: str, metrics: Sequence[Metric]) -> str:
    """``text`` with metric *i* (1-based) wrapped as ``{{c<i>::...}}``, HTML-escaped.

    Both quantities of a change share one cloze number.  Raises ValueError if a
    quantity does not index ``text`` or two quantities overlap.
    """
    numbered = sorted(
        (
            (quantity, number)
            for number, metric in enumerate(metrics, 1)
            for quantity in metric.quantities
        ),
        key=lambda item: (item[0].start, item[0].end),
    )
    parts: list[str] = []
    position = 0
    for quantity, number in numbered:
        if quantity.end > len(text) or text[quantity.start : quantity.end] != quantity.text:
            msg = f"quantity {quantity.text!r} does not index the text at {quantity.start}"
            raise ValueError(msg)
        if quantity.start < position:
            msg = f"quantity {quantity.text!r} at {quantity.start} overlaps the previous one"
            raise ValueError(msg)
        parts.append(_escape_outside(text[position : quantity.start]))
        parts.append(f"{{{{c{number}::{_escape_inside(quantity.text)}}}}}")
        position = quantity.end
    parts.append(_escape_outside(text[position:]))
    return "".join(parts)

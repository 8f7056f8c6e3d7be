"""Issue #6: storydeck cards read well on a phone, light and dark, as Anki shows them.

Decks are built with the storydeck CLI, imported into a fresh collection with the real
``anki`` package, and every card's question and answer is taken as Anki renders it
(``card_html``: the rendered templates plus the note type's CSS).  Each side is loaded in
headless Chromium wrapped as the reviewer wraps it (``<body class="card cardN">``, plus
``nightMode night_mode`` in the dark) and measured by the harness in ``browser.py``.

Two banks are rendered:

* a stress bank written here: a very long action step with unbreakable tokens, a
  follow-up answer with a list, inline code, a table and a code block, metric sentences
  with two clozes, a question answered by two stories, emoji.  At 390x844 (phone) and
  768x1024 (tablet), light and dark, both sides of every card.
* the shipped bank (``source_notes/``), at phone size, light and dark: every side of
  every card (a Q&A card's question is the first part of its answer, so its answer
  covers both; see ``test_qa_answer_starts_with_its_question``).

Speed: one Chromium for the session, and one page per (viewport, mode) whose body is
swapped card by card (about 50 ms a side).  A side the swapped page finds fault with is
loaded again as a fresh page, and that fresh report is the one judged (up to
``MAX_RELOADS`` sides a batch);
``test_swapped_page_measures_like_a_fresh_page`` checks the two agree.
"""

from __future__ import annotations

import html
import re
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from anki.cards import CardId
from click.testing import CliRunner

from ankitools import card_html, collection, import_apkg
from browser import (
    MAX_DARK_PAGE_LUMINANCE,
    MIN_FONT_PX,
    MIN_TEXT_CONTRAST,
    PHONE,
    TABLET,
    CardBrowser,
    RenderReport,
    TextSample,
    Viewport,
    build_card_page,
    relative_luminance,
)
from storydeck.cli import main
from storydeck.model import CardKind
from storydeck.templates import card_css, note_types

REPO = Path(__file__).resolve().parents[1]
SHIPPED_NOTES = REPO / "source_notes"
#: Build clock for reproducible decks (SOURCE_DATE_EPOCH).
EPOCH = 1_760_000_000
KINDS = tuple(kind.value for kind in CardKind)
#: Sides with a problem are measured again on a fresh page, up to this many per batch
#: (past it the CSS is plainly broken and the reloads would only slow the failure down).
MAX_RELOADS = 40
CLOZE_FRONT = "[...]"

LONG_ID = "a_very_long_identifier_without_breaks_that_goes_on_and_on_and_on_forever_and_ever"
SHORT_URL = f"https://wiki.example.com/config/{LONG_ID}"
LONG_URL = (
    "https://example.com/a/very/long/path/that/does/not/break/anywhere/at/all/because/"
    "it/is/one/token?with=query&and=more_parameters_here"
)

#: The stress bank: every card kind, with everything that is hard to lay out on a phone.
STRESS_NOTES = {
    "stress.md": f"""\
---
id: stress-layout
title: "Shipping the 🚀 supercalifragilisticexpialidocious_release_pipeline_migration"
level: L5
themes: [production-incidents]
questions:
  - Tell me about a time you handled a critical production issue.
tags: [layout]
---

## Situation
Our checkout failed for 15% of users and about $50K/hour of revenue was at risk 🔥.

## Task
I had to fix it fast without breaking checkout for everyone else.

## Action
1. **Moved config into one validated loader** — Documented at {SHORT_URL}.
2. **Moved every one of the forty-seven services in the fleet onto the new loader, one \
owning team at a time, starting with {LONG_ID}, then the payment path, then checkout, \
then the long tail of internal tools nobody had touched in years, which took weeks of \
careful coordination, because each of them read its settings in its own way.** Then I \
deleted {LONG_ID}_legacy_fallback_path.
3. **Added the `retry_with_exponential_backoff_and_jitter_policy` guard** — Retries now \
back off instead of hammering the provider 🔁.
4. **Cut latency** — Latency went from 4 hours to 45 minutes across 250+ enterprise \
customers.

## Result
- Error rate fell from 15% to 0.2% within 45 minutes.
- We saved an estimated $200K 💰.

## Lessons
- Find the pattern before changing code; `grep` the logs first 🧐.

## Follow-ups
- **What exactly did you change?**
  I changed three things:
  - raised `payment_provider_timeout_ms` from `2000` to `8000`
  - added an `idempotency_key` to every retried request
  - wrote a runbook at {LONG_URL}

  ```python
  def charge(order, *, idempotency_key=None):
      return provider.charge(order.total_in_cents, key=idempotency_key or order.{LONG_ID})
  ```
- **How did the numbers move?**
  | metric | before | after |
  |---|---|---|
  | checkout_error_rate_percent_over_a_rolling_window | 15% | 0.2% |
  | revenue_at_risk_per_hour_in_us_dollars | $50K | $0 |
""",
    "second.md": """\
---
id: second-story
title: Connection pool outage 🔌
level: L5
themes: [production-incidents]
questions:
  - Tell me about a time you handled a critical production issue.
---

## Situation
The database connection pool ran dry during peak hours and three services went down.

## Task
Lead the response.

## Action
1. **Opened a war room** — One channel for every update.

## Result
- Restored service in 2 hours.

## Lessons
- Look for the shared dependency first.
""",
}


# --------------------------------------------------------------------------- cards


@dataclass(frozen=True)
class AnkiCard:
    """One card of an imported deck, as Anki renders it."""

    kind: str
    guid: str
    ord: int  # 0-based; the reviewer's body class is card{ord + 1}
    notetype: str
    question: str
    answer: str
    css: str

    @property
    def label(self) -> str:
        return f"{self.kind} {self.guid} c{self.ord + 1}"


@dataclass(frozen=True)
class Rendered:
    """One side of one card, measured at one size and mode."""

    card: AnkiCard
    side: str  # "front" or "back"
    viewport: Viewport
    dark: bool
    report: RenderReport

    @property
    def label(self) -> str:
        mode = "dark" if self.dark else "light"
        size = f"{self.viewport.width}x{self.viewport.height}"
        return f"{self.card.label} {self.side} {size} {mode}"


def build_and_import(notes_dir: Path, work: Path) -> tuple[AnkiCard, ...]:
    """Build ``notes_dir`` with the storydeck CLI, import the all-in-one deck into a new
    collection and render every card."""
    out = work / "decks"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
        result = CliRunner().invoke(
            main, ["build", str(notes_dir), "-o", str(out), "-q"], catch_exceptions=False
        )
    assert result.exit_code == 0, result.output
    (package,) = out.glob("*-all.apkg")
    cards = []
    with collection(work / "collection.anki2") as col:
        summary = import_apkg(col, package)
        assert summary.new == summary.found_notes > 0
        for cid in sorted(col.find_cards("")):
            card = col.get_card(CardId(cid))
            note = card.note()
            rendered = card_html(col, cid)
            notetype = note.note_type()
            assert notetype is not None
            cards.append(
                AnkiCard(
                    kind=note["Kind"],
                    guid=note.guid,
                    ord=rendered.ord,
                    notetype=str(notetype["name"]),
                    question=rendered.question,
                    answer=rendered.answer,
                    css=rendered.css,
                )
            )
    return tuple(sorted(cards, key=lambda c: (KINDS.index(c.kind), c.guid, c.ord)))


def sides(cards: Iterable[AnkiCard], *, all_sides: bool) -> Iterator[tuple[AnkiCard, str, str]]:
    """(card, side, html) to render: every side, or the answers plus the cloze fronts (a
    Q&A answer holds its question, so it shows every element of the front too)."""
    for card in cards:
        if all_sides or card.kind == CardKind.METRIC.value:
            yield card, "front", card.question
        yield card, "back", card.answer


def _body_class(dark: bool, card_ord: int) -> str:
    """The reviewer's body classes, exactly as the harness builds them."""
    match = re.search(r'<body class="([^"]*)">', build_card_page("", "", dark=dark, card_ord=1))
    assert match
    return match.group(1).replace("card1", f"card{card_ord}")


def render_all(
    browser: CardBrowser,
    items: Sequence[tuple[AnkiCard, str, str]],
    viewports: Sequence[Viewport],
) -> list[Rendered]:
    """Measure every item at every viewport, light and dark, on one reused page."""
    (css,) = {card.css for card, _, _ in items}
    rendered: list[Rendered] = []
    reloads = 0
    for viewport in viewports:
        for dark in (False, True):
            loaded = False
            for card, side, body in items:
                size = {"width": viewport.width, "height": viewport.height, "scale": viewport.scale}
                if not loaded:
                    browser.load_card("", css, dark=dark, **size)
                    loaded = True
                browser.driver.execute_script(
                    "document.body.className = arguments[0];"
                    "document.body.innerHTML = arguments[1]; window.scrollTo(0, 0);",
                    _body_class(dark, card.ord + 1),
                    body,
                )
                report = browser.measure(dark=dark, card_ord=card.ord + 1)
                if report.problems() and reloads < MAX_RELOADS:
                    # Judge a fresh page, not one a previous card may have zoomed out.
                    reloads += 1
                    report = browser.render_card(
                        body, css, dark=dark, card_ord=card.ord + 1, **size
                    )
                    loaded = False
                rendered.append(Rendered(card, side, viewport, dark, report))
    return rendered


@pytest.fixture(scope="module")
def stress_cards(tmp_path_factory: pytest.TempPathFactory) -> tuple[AnkiCard, ...]:
    work = tmp_path_factory.mktemp("stress")
    notes = work / "notes"
    notes.mkdir()
    for name, text in STRESS_NOTES.items():
        (notes / name).write_text(text, encoding="utf-8")
    return build_and_import(notes, work)


@pytest.fixture(scope="module")
def shipped_cards(tmp_path_factory: pytest.TempPathFactory) -> tuple[AnkiCard, ...]:
    work = tmp_path_factory.mktemp("shipped")
    notes = work / "source_notes"  # a copy: a build rewrites the notes' lockfile
    shutil.copytree(SHIPPED_NOTES, notes)
    return build_and_import(notes, work)


@pytest.fixture(scope="module")
def stress_renders(card_browser: CardBrowser, stress_cards: tuple[AnkiCard, ...]) -> list[Rendered]:
    return render_all(card_browser, list(sides(stress_cards, all_sides=True)), (PHONE, TABLET))


@pytest.fixture(scope="module")
def shipped_renders(
    card_browser: CardBrowser, shipped_cards: tuple[AnkiCard, ...]
) -> list[Rendered]:
    return render_all(card_browser, list(sides(shipped_cards, all_sides=False)), (PHONE,))


@pytest.fixture(params=["stress", "shipped"])
def renders(request: pytest.FixtureRequest) -> list[Rendered]:
    found: list[Rendered] = request.getfixturevalue(f"{request.param}_renders")
    return found


def expect_none(renders: Iterable[Rendered], problems: Callable[[Rendered], list[str]]) -> None:
    """Fail listing every side (at most 15) for which ``problems`` finds something."""
    blocks = []
    for item in renders:
        found = problems(item)
        if found:
            blocks.append(f"{item.label}:\n" + "\n".join(f"  {p}" for p in found))
    if blocks:
        shown = blocks[:15]
        if len(blocks) > len(shown):
            shown.append(f"... and {len(blocks) - len(shown)} more")
        pytest.fail(f"{len(blocks)} card sides fail:\n" + "\n".join(shown), pytrace=False)


# --------------------------------------------------------------------------- the banks


def test_stress_bank_has_every_kind_and_every_stressor(stress_cards: tuple[AnkiCard, ...]) -> None:
    by_kind = {kind: [c for c in stress_cards if c.kind == kind] for kind in KINDS}
    assert all(by_kind.values()), {k: len(v) for k, v in by_kind.items()}
    backs = {kind: "\n".join(c.answer for c in cards) for kind, cards in by_kind.items()}
    assert LONG_ID in backs["action"]
    assert SHORT_URL in backs["action"]
    assert "…</div>" in backs["action"]  # a headline too long for the front, clipped
    assert html.escape(LONG_URL, quote=False) in backs["followup"]
    assert "<ul>" in backs["followup"]
    assert "<code>" in backs["followup"]
    assert "<pre>" in backs["followup"]
    assert "<table>" in backs["followup"]
    assert any(c.question.count('class="cloze-inactive"') >= 1 for c in by_kind["metric"])
    assert backs["prompt"].count('<li class="sd-answer">') == 2
    assert "🚀" in backs["action"]
    assert {c.notetype for c in stress_cards} == {t.name for t in note_types()}


def test_shipped_bank_has_every_kind(shipped_cards: tuple[AnkiCard, ...]) -> None:
    assert {c.kind for c in shipped_cards} == set(KINDS)
    assert len(shipped_cards) > 100


def test_cards_carry_the_packaged_css(shipped_cards: tuple[AnkiCard, ...]) -> None:
    assert {c.css for c in shipped_cards} == {card_css()}


def test_qa_answer_starts_with_its_question(shipped_cards: tuple[AnkiCard, ...]) -> None:
    for card in shipped_cards:
        if card.kind != CardKind.METRIC.value:
            assert card.answer.startswith(card.question), card.label


# --------------------------------------------------------------------------- criteria


def test_every_kind_is_rendered_at_both_sizes_light_and_dark(
    stress_renders: list[Rendered],
) -> None:
    seen = {(r.card.kind, r.side, r.viewport.width, r.dark) for r in stress_renders}
    expected = {
        (kind, side, viewport.width, dark)
        for kind in KINDS
        for side in ("front", "back")
        for viewport in (PHONE, TABLET)
        for dark in (False, True)
    }
    assert seen == expected


def test_no_horizontal_overflow(renders: list[Rendered]) -> None:
    def problems(item: Rendered) -> list[str]:
        r = item.report
        if not r.overflows and r.document_scroll_width <= r.inner_width <= r.width:
            return []
        return [
            f"scrollWidth {r.document_scroll_width}/{r.body_scroll_width},"
            f" innerWidth {r.inner_width}, viewport {r.width}",
            *(f"sticks out [{o.left:.0f}, {o.right:.0f}]: {o.text!r}" for o in r.offenders),
        ]

    expect_none(renders, problems)


def test_text_is_at_least_16px(renders: list[Rendered]) -> None:
    def problems(item: Rendered) -> list[str]:
        if not item.report.texts:
            return ["no visible text"]
        return [f"{t.font_px:g}px {t.selector} {t.text!r}" for t in item.report.small_text()]

    expect_none(renders, problems)
    assert min(r.report.min_font_px for r in renders) >= MIN_FONT_PX


def test_text_contrast_is_at_least_4_5(renders: list[Rendered]) -> None:
    def problems(item: Rendered) -> list[str]:
        return [
            f"{t.contrast:.2f} ({t.color} on {t.background}) {t.selector} {t.text!r}"
            for t in item.report.low_contrast()
        ]

    expect_none(renders, problems)
    assert min(r.report.min_contrast for r in renders) >= MIN_TEXT_CONTRAST


def test_night_mode_darkens_the_page(renders: list[Rendered]) -> None:
    def problems(item: Rendered) -> list[str]:
        luminance = relative_luminance(item.report.page_background)
        dark_enough = luminance <= MAX_DARK_PAGE_LUMINANCE
        if item.dark == dark_enough:
            return []
        return [f"page background {item.report.page_background} (luminance {luminance:.2f})"]

    expect_none(renders, problems)


def test_clozes_hidden_on_the_front_and_revealed_on_the_back(renders: list[Rendered]) -> None:
    def problems(item: Rendered) -> list[str]:
        card, report = item.card, item.report
        if card.kind != CardKind.METRIC.value:
            return [f"cloze outside a metric card: {c.text!r}" for c in report.clozes]
        found = [f"hidden: {c.text!r} ({c.contrast:.2f})" for c in report.hidden_clozes]
        texts = [c.text for c in report.clozes]
        # The active deletion's text, as Anki stores it on the front's [...] for its JS.
        hidden = [html.unescape(v) for v in re.findall(r'data-cloze="([^"]*)"', card.question)]
        if not hidden:
            found.append("the front carries no cloze deletion")
        if item.side == "front" and texts != [CLOZE_FRONT] * len(hidden):
            found.append(f"front clozes {texts}, want {len(hidden)} x {CLOZE_FRONT}")
        if item.side == "back" and texts != hidden:
            found.append(f"back clozes {texts}, want the revealed {hidden}")
        return found

    expect_none(renders, problems)
    metric_sides = {r.side for r in renders if r.card.kind == CardKind.METRIC.value}
    assert metric_sides == {"front", "back"}


def _within(sample: TextSample, cls: str) -> bool:
    return re.search(rf"\.{re.escape(cls)}(\.|\s|$)", sample.selector) is not None


def test_context_is_quieter_than_the_prompt(renders: list[Rendered]) -> None:
    def problems(item: Rendered) -> list[str]:
        texts = item.report.texts
        context = [t for t in texts if _within(t, "sd-context")]
        prompt = [t for t in texts if _within(t, "sd-front") and not _within(t, "sd-cue")]
        if not context or not prompt:
            return [f"context {len(context)} / prompt {len(prompt)} text elements"]
        loudest = max(prompt, key=lambda t: (t.font_px, t.contrast))
        return [
            f"{t.selector} {t.font_px:g}px {t.contrast:.2f} is not quieter than"
            f" {loudest.selector} {loudest.font_px:g}px {loudest.contrast:.2f}"
            for t in context
            for p in prompt
            if not (t.font_px < p.font_px or t.contrast < p.contrast)
        ][:3]

    expect_none(renders, problems)


def test_no_script_and_no_network(renders: list[Rendered]) -> None:
    def problems(item: Rendered) -> list[str]:
        return [*item.report.scripts, *item.report.requests]

    expect_none(renders, problems)


def test_css_and_templates_load_nothing() -> None:
    css = card_css()
    for banned in ("@import", "url(", "@font-face", "<script", "expression("):
        assert banned not in css.lower(), banned
    for note_type in note_types():
        for _, front, back in note_type.templates:
            for template in (front, back):
                assert "<script" not in template.lower()
                assert not re.search(r"\b(src|href)\s*=", template), template


# --------------------------------------------------------------------------- night classes


@pytest.mark.parametrize(
    "night_class", ["nightMode", "night_mode"], ids=["desktop-ankimobile", "ankidroid"]
)
def test_each_night_class_alone_turns_the_card_dark(
    card_browser: CardBrowser, stress_cards: tuple[AnkiCard, ...], night_class: str
) -> None:
    """AnkiDroid sets only ``night_mode``; Anki desktop and AnkiMobile set ``nightMode``."""
    card = next(c for c in stress_cards if c.kind == CardKind.METRIC.value)
    page = build_card_page(card.answer, card.css, dark=True, card_ord=card.ord + 1)
    page = page.replace("nightMode night_mode", night_class)
    assert f'class="card card{card.ord + 1} {night_class}"' in page
    card_browser.emulate(PHONE, dark=True)
    card_browser.load_html(page)
    report = card_browser.measure(dark=True, card_ord=card.ord + 1)
    assert not report.problems(), report.summary()
    assert relative_luminance(report.page_background) <= MAX_DARK_PAGE_LUMINANCE
    body_px = card_browser.driver.execute_script("return getComputedStyle(document.body).fontSize")
    assert float(body_px.removesuffix("px")) >= MIN_FONT_PX


def test_light_page_without_night_class_even_if_the_system_is_dark(
    card_browser: CardBrowser, stress_cards: tuple[AnkiCard, ...]
) -> None:
    """Anki decides night mode: a dark OS with night mode off in Anki stays light."""
    card = next(c for c in stress_cards if c.kind == CardKind.ACTION.value)
    card_browser.emulate(PHONE, dark=True)
    card_browser.load_html(build_card_page(card.answer, card.css, dark=False))
    report = card_browser.measure(dark=False)
    assert not report.problems(), report.summary()
    assert relative_luminance(report.page_background) > 0.8


# --------------------------------------------------------------------------- the fast path


def test_swapped_page_measures_like_a_fresh_page(
    card_browser: CardBrowser, stress_cards: tuple[AnkiCard, ...]
) -> None:
    items = [next((c, "back", c.answer) for c in stress_cards if c.kind == k) for k in KINDS]
    swapped = render_all(card_browser, items, (PHONE,))
    for item in swapped:
        fresh = card_browser.render_card(
            item.card.answer,
            item.card.css,
            width=PHONE.width,
            height=PHONE.height,
            dark=item.dark,
            card_ord=item.card.ord + 1,
        )
        assert item.report.texts == fresh.texts, item.label
        assert item.report.clozes == fresh.clozes, item.label
        assert item.report.page_background == fresh.page_background, item.label
        assert item.report.document_scroll_width == fresh.document_scroll_width, item.label


# --------------------------------------------------------------------------- screenshots


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    assert data[12:16] == b"IHDR", path
    return struct.unpack(">II", data[16:24])


def test_make_screenshots_writes_every_kind_light_and_dark(tmp_path: Path) -> None:
    """``make screenshots`` runs ``python -m tests.screenshots`` from the repository root."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.screenshots", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    expected = {f"{kind}-{mode}.png" for kind in KINDS for mode in ("light", "dark")}
    assert {p.name for p in tmp_path.iterdir()} == expected
    for name in expected:
        assert _png_size(tmp_path / name) == (PHONE.width * 2, PHONE.height * 2), name
        assert f"{tmp_path / name} (" in result.stdout

"""Tests for the phone-rendering harness in ``tests/browser.py``.

The cards here are small hand-written snippets, not storydeck's templates: each proves the
harness passes a well-made card or catches one specific defect.  One Chromium serves the
whole session; a missing Chromium fails (never skips) with install instructions.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from browser import (  # tests/ is on sys.path (rootdir-relative, no __init__.py)
    PHONE,
    RGBA,
    TABLET,
    BrowserUnavailable,
    CardBrowser,
    Layer,
    RenderReport,
    Viewport,
    _network_urls,
    browser_session,
    build_card_page,
    card_browser_fixture,  # noqa: F401  registers the session-scoped ``card_browser``
    contrast_ratio,
    effective_colors,
    parse_css_color,
    relative_luminance,
)

WHITE = RGBA(255, 255, 255)
BLACK = RGBA(0, 0, 0)

# --------------------------------------------------------------------------- colour maths


def test_black_on_white_is_21() -> None:
    assert contrast_ratio(BLACK, WHITE) == pytest.approx(21.0)
    assert contrast_ratio(WHITE, BLACK) == pytest.approx(21.0)


@pytest.mark.parametrize("color", ["#000", "#fff", "#777", "#0645ad", "rgb(12, 200, 7)"])
def test_same_colour_is_1(color: str) -> None:
    assert contrast_ratio(parse_css_color(color), parse_css_color(color)) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("fg", "bg", "expected"),
    [
        ("#777", "#fff", 4.48),  # the classic "just fails AA" grey
        ("#767676", "#fff", 4.54),  # the lightest grey that passes AA on white
        ("#aaa", "#fff", 2.32),
        ("#0645ad", "#fff", 8.53),
        ("#eee", "#1e1e1e", 14.37),
    ],
)
def test_known_pairs(fg: str, bg: str, expected: float) -> None:
    ratio = contrast_ratio(parse_css_color(fg), parse_css_color(bg))
    assert ratio == pytest.approx(expected, abs=0.01)
    assert contrast_ratio(parse_css_color(bg), parse_css_color(fg)) == pytest.approx(ratio)


def test_relative_luminance_endpoints() -> None:
    assert relative_luminance(BLACK) == 0.0
    assert relative_luminance(WHITE) == pytest.approx(1.0)
    assert relative_luminance(RGBA(255, 0, 0)) == pytest.approx(0.2126)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#abc", RGBA(0xAA, 0xBB, 0xCC)),
        ("#AABBCC80", RGBA(0xAA, 0xBB, 0xCC, 0x80 / 255)),
        ("rgb(1, 2, 3)", RGBA(1, 2, 3)),
        ("rgba(1, 2, 3, 0.25)", RGBA(1, 2, 3, 0.25)),
        ("rgb(1 2 3 / 50%)", RGBA(1, 2, 3, 0.5)),
        ("rgba(0, 0, 0, 0)", RGBA(0, 0, 0, 0)),
        ("transparent", RGBA(0, 0, 0, 0)),
    ],
)
def test_parse_css_color(text: str, expected: RGBA) -> None:
    assert parse_css_color(text) == expected


@pytest.mark.parametrize("text", ["red", "oklch(0.5 0.1 20)", "rgb(1, 2)", "#12345"])
def test_parse_css_color_rejects_unknown_forms(text: str) -> None:
    with pytest.raises(ValueError, match="unsupported CSS colour"):
        parse_css_color(text)


def test_translucent_colours_must_be_composited_first() -> None:
    with pytest.raises(ValueError, match="composite"):
        contrast_ratio(RGBA(0, 0, 0, 0.5), WHITE)


def test_effective_colors_composite_alpha_and_opacity() -> None:
    # Half-transparent black text on the white canvas reads as mid grey.
    fg, bg = effective_colors(RGBA(0, 0, 0, 0.5), [Layer(RGBA(0, 0, 0, 0))], WHITE)
    assert fg.r == pytest.approx(127.5)
    assert (fg.a, bg) == (1.0, WHITE)
    # A translucent black panel over white: background is grey, not "transparent".
    _, bg = effective_colors(BLACK, [Layer(RGBA(0, 0, 0, 0.5))], WHITE)
    assert bg.r == pytest.approx(127.5)
    # opacity fades text *and* background of the group over what is beneath it.
    layers = [Layer(RGBA(0, 0, 0)), Layer(RGBA(255, 255, 255), opacity=0.5)]
    fg, bg = effective_colors(BLACK, layers, WHITE)
    assert fg.r == pytest.approx(0.0)
    assert bg.r == pytest.approx(127.5)
    # With no background anywhere, the canvas shows through.
    _, bg = effective_colors(BLACK, [Layer(RGBA(0, 0, 0, 0))] * 3, RGBA(18, 18, 18))
    assert bg == RGBA(18, 18, 18)


def test_requests_of_the_browsers_own_pages_are_not_the_cards() -> None:
    def sent(url: str, document: str) -> dict[str, str]:
        params = {"request": {"url": url}, "documentURL": document}
        return {"message": json.dumps({"message": {"method": _SENT, "params": params}})}

    page = "file:///tmp/card.html"
    log = [
        sent(page, page),
        sent("https://example.com/pixel.png", page),
        sent("chrome://resources/images/add.svg", "chrome://new-tab-page/"),
        sent("https://www.gstatic.com/x.js", "chrome-untrusted://new-tab-page/one-google-bar"),
        sent("data:image/png;base64,AAAA", page),
        sent("chrome://favicon2/?size=24", ""),
    ]
    assert _network_urls(log, page) == ["https://example.com/pixel.png"]


_SENT = "Network.requestWillBeSent"


def test_page_is_wrapped_like_anki_reviewer() -> None:
    page = build_card_page("<p>x</p>", "p{}", dark=True, card_ord=3)
    assert page.startswith("<!doctype html><html><head>")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "<style>p{}</style>" in page
    assert '<body class="card card3 nightMode night_mode"><p>x</p></body>' in page
    assert '<body class="card card1">' in build_card_page("", "", dark=False)


def test_missing_chromium_fails_with_install_hint(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-chromium")
    with (
        pytest.raises(BrowserUnavailable, match="chromium chromium-driver"),
        browser_session(chromium=missing),
    ):
        pass  # pragma: no cover


# --------------------------------------------------------------------------- cards

# A card styled the way storydeck's should be: readable size, AA contrast in both modes,
# long code and URLs kept inside the screen.  It doubles as the no-false-positive check.
GOOD_CSS = """
.card { font-family: sans-serif; font-size: 18px; line-height: 1.5; margin: 0;
        padding: 16px; color: #1a1a1a; background: #ffffff; }
.card.nightMode, .card.night_mode { color: #e8e8e8; background: #1e1e1e; }
.hint { font-size: 16px; color: #595959; }
.nightMode .hint { color: #b0b0b0; }
.cloze { font-weight: bold; color: #0645ad; }
.nightMode .cloze { color: #8ab4f8; }
pre { font-size: 16px; overflow-x: auto; background: #f3f3f3; padding: 8px; }
.nightMode pre { background: #2b2b2b; }
a { color: #0645ad; overflow-wrap: anywhere; }
.nightMode a { color: #8ab4f8; }
img { max-width: 100%; }
"""
LONG_URL = "https://example.com/" + "a" * 120
GOOD_HTML = f"""
<div class="front">
  <h2>Conflict with a teammate</h2>
  <p>Tell me about a time you <span class="cloze">disagreed with your manager</span>.</p>
  <p class="hint">Situation, task, action, result.</p>
  <pre><code>def long_function_name(argument_one, argument_two, argument_three): ...</code></pre>
  <p>Source: <a href="#">{LONG_URL}</a></p>
</div>
"""

DEVICES = [pytest.param(PHONE, id="phone"), pytest.param(TABLET, id="tablet")]
MODES = [pytest.param(False, id="light"), pytest.param(True, id="dark")]


def render(
    browser: CardBrowser,
    html: str,
    css: str = GOOD_CSS,
    *,
    device: Viewport = PHONE,
    dark: bool = False,
    card_ord: int = 1,
) -> RenderReport:
    return browser.render_card(
        html,
        css,
        width=device.width,
        height=device.height,
        dark=dark,
        card_ord=card_ord,
        scale=device.scale,
    )


def test_inner_width_really_is_390(card_browser: CardBrowser) -> None:
    report = render(card_browser, GOOD_HTML)
    assert (report.inner_width, report.viewport_width) == (390, 390)
    assert report.device_pixel_ratio == 3
    metrics = card_browser.window_metrics()
    assert metrics["innerWidth"] == 390
    assert metrics["innerHeight"] == 844
    tablet = render(card_browser, GOOD_HTML, device=TABLET)
    assert (tablet.inner_width, tablet.device_pixel_ratio) == (768, 2)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dark", MODES)
def test_well_styled_card_passes(card_browser: CardBrowser, device: Viewport, dark: bool) -> None:
    report = render(card_browser, GOOD_HTML, device=device, dark=dark)
    assert report.problems() == [], report.summary()
    assert report.min_font_px >= 16
    assert report.min_contrast >= 4.5
    assert not report.overflows
    assert report.inner_width == device.width
    assert len(report.texts) >= 6  # h2, p, cloze, hint, code, p, a
    assert [c.visible for c in report.clozes] == [True]
    page_luminance = relative_luminance(report.page_background)
    assert page_luminance < 0.05 if dark else page_luminance == pytest.approx(1.0)
    assert not report.scripts
    assert not report.requests


@pytest.mark.parametrize(
    ("html", "css", "culprit"),
    [
        pytest.param("<pre>x</pre>", "pre { width: 600px; }", "pre", id="600px-pre"),
        pytest.param("<pre>" + "x = 1; " * 30 + "</pre>", "", "pre", id="long-code-line-in-pre"),
        pytest.param(f"<p>See {LONG_URL}</p>", "", LONG_URL[:40], id="unbreakable-url"),
        pytest.param(
            "<table><tr><td>" + "wide&nbsp;" * 60 + "</td></tr></table>", "", "td", id="table"
        ),
    ],
)
@pytest.mark.parametrize("device", DEVICES[:1])
def test_horizontal_overflow_is_caught(
    card_browser: CardBrowser, html: str, css: str, culprit: str, device: Viewport
) -> None:
    report = render(card_browser, html, GOOD_CSS.replace("overflow-x: auto;", "") + css)
    assert report.overflows, report.summary()
    assert report.document_scroll_width > device.width
    # Chromium's mobile emulation zooms out to fit: innerWidth grows with the content.
    assert report.inner_width > device.width
    assert any(culprit in o.selector or culprit in o.text for o in report.offenders), (
        report.summary()
    )
    assert any("horizontal overflow" in p for p in report.problems())


def test_overflow_inside_a_scroll_box_is_fine(card_browser: CardBrowser) -> None:
    html = '<div style="overflow-x:auto"><pre style="width:600px">wide but scrollable</pre></div>'
    report = render(card_browser, html)
    assert not report.overflows, report.summary()


def test_small_font_is_reported(card_browser: CardBrowser) -> None:
    html = '<p>Main text</p><p class="tiny">fine print</p>'
    report = render(card_browser, html, GOOD_CSS + ".tiny { font-size: 12px; }")
    assert report.min_font_px == 12
    [small] = report.small_text()
    assert (small.selector.endswith("p.tiny"), small.text) == (True, "fine print")
    assert any("font 12px" in p for p in report.problems())


def test_grey_on_white_fails_contrast(card_browser: CardBrowser) -> None:
    html = '<p>Main text</p><p class="grey">faint</p>'
    report = render(card_browser, html, GOOD_CSS + ".grey { color: #aaa; }")
    assert report.min_contrast == pytest.approx(2.32, abs=0.01)
    [faint] = report.low_contrast()
    assert (faint.text, faint.color, faint.background) == ("faint", RGBA(170, 170, 170), WHITE)
    assert any("contrast 2.32" in p for p in report.problems())


def test_translucent_and_non_srgb_colours_are_measured(card_browser: CardBrowser) -> None:
    css = "p { color: rgba(0, 0, 0, 0.5); } .ok { color: oklch(0.25 0 0); }"
    report = render(card_browser, '<p>half</p><p class="ok">oklch</p>', css)
    by_text = {t.text: t for t in report.texts}
    expected = contrast_ratio(RGBA(127.5, 127.5, 127.5), WHITE)
    assert by_text["half"].contrast == pytest.approx(expected, abs=0.05)
    assert by_text["oklch"].contrast > 10


def test_dark_mode_without_dark_background_is_caught(card_browser: CardBrowser) -> None:
    # Dark text, no background at all: fine in light mode, but in night mode the page
    # stays white instead of dark.
    css = ".card { font-size: 18px; color: #222; }"
    light = render(card_browser, "<p>Answer</p>", css, dark=False)
    assert light.problems() == [], light.summary()
    dark = render(card_browser, "<p>Answer</p>", css, dark=True)
    assert dark.page_background == WHITE
    assert dark.light_page_in_dark_mode
    assert any("dark mode, but the page background is #ffffff" in p for p in dark.problems())


def test_dark_mode_light_text_on_missing_background_fails_contrast(
    card_browser: CardBrowser,
) -> None:
    css = ".card { font-size: 18px; color: #222; } .nightMode { color: #eee; }"
    report = render(card_browser, "<p>Answer</p>", css, dark=True)
    [text] = report.texts
    assert (text.color, text.background) == (RGBA(238, 238, 238), WHITE)
    assert report.min_contrast < 1.2
    assert report.light_page_in_dark_mode


def test_dark_mode_also_emulates_prefers_color_scheme(card_browser: CardBrowser) -> None:
    css = (
        ".card { font-size: 18px; color: #111; background: #fff; }"
        "@media (prefers-color-scheme: dark) { .card { color: #eee; background: #121212; } }"
    )
    assert render(card_browser, "<p>x</p>", css, dark=True).problems() == []
    assert render(card_browser, "<p>x</p>", css, dark=False).page_background == WHITE


@pytest.mark.parametrize(
    "hiding_css",
    [
        pytest.param("display: none", id="display-none"),
        pytest.param("visibility: hidden", id="visibility-hidden"),
        pytest.param("opacity: 0", id="opacity-0"),
        pytest.param("color: #fff", id="white-on-white"),
        pytest.param("color: #f0f0f0; background: #fff", id="too-faint"),
    ],
)
def test_hidden_cloze_is_reported(card_browser: CardBrowser, hiding_css: str) -> None:
    html = '<p>I <span class="cloze">led</span> the <span class="cloze gone">migration</span>.</p>'
    report = render(card_browser, html, GOOD_CSS + f".gone {{ {hiding_css}; }}")
    assert [(c.text, c.visible) for c in report.clozes] == [("led", True), ("migration", False)]
    assert [c.text for c in report.hidden_clozes] == ["migration"]
    assert any("hidden cloze" in p and "migration" in p for p in report.problems())


def test_card_ord_selects_card_class(card_browser: CardBrowser) -> None:
    css = GOOD_CSS + ".card2 .only-back { color: #aaa; }"
    html = '<p class="only-back">back side</p>'
    assert render(card_browser, html, css, card_ord=1).min_contrast > 4.5
    report = render(card_browser, html, css, card_ord=2)
    assert report.body_class == "card card2"
    assert report.min_contrast < 4.5


def test_scripts_and_network_requests_are_reported(card_browser: CardBrowser) -> None:
    html = (
        '<p>x</p><img src="missing-media.png" alt="">'
        "<script>document.body.dataset.ran = '1';</script>"
    )
    css = "@import url('https://fonts.example.invalid/font.css');" + GOOD_CSS
    report = render(card_browser, html, css)
    assert report.scripts == ("inline: document.body.dataset.ran = '1';",)
    assert any(r.endswith("/missing-media.png") for r in report.requests), report.requests
    assert "https://fonts.example.invalid/font.css" in report.requests
    problems = report.problems()
    assert any(p.startswith("script element") for p in problems)
    assert any(p.startswith("network request") for p in problems)


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


@pytest.mark.parametrize("device", DEVICES)
def test_screenshot_at_emulated_size(
    card_browser: CardBrowser, tmp_path: Path, device: Viewport
) -> None:
    render(card_browser, GOOD_HTML, device=device, dark=True)
    shot = card_browser.screenshot(tmp_path / "shots" / "card.png")
    expected = (round(device.width * device.scale), round(device.height * device.scale))
    assert png_size(shot) == expected

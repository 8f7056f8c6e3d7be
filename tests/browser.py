"""Headless-Chromium harness that renders storydeck cards the way a phone shows them.

AnkiDroid reviews cards in an Android WebView (Chromium), so a headless Chromium with
device emulation is a faithful stand-in.  The harness wraps a card's HTML the way Anki's
reviewer does, loads it at a phone or tablet viewport, and measures what a reader would
see: horizontal overflow, font sizes, text/background contrast (WCAG 2.x), cloze
visibility, ``<script>`` elements and network requests.

Usage from a test module or a conftest::

    from browser import card_browser_fixture  # noqa: F401  registers ``card_browser``

    def test_card(card_browser: CardBrowser) -> None:
        report = card_browser.render_card(html, css, width=390, height=844, dark=False)
        assert not report.problems(), report.summary()

(pytest puts ``tests/`` on ``sys.path``, as there is no ``tests/__init__.py``) and from a
script such as ``python -m tests.screenshots``, which imports it as ``tests.browser``::

    with browser_session() as browser:
        browser.render_card(html, css, width=390, height=844, dark=True)
        browser.screenshot(Path("out.png"))

Chromium comes from Debian (``apt-get install chromium chromium-driver``); Selenium is
pointed at ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` explicitly so Selenium
Manager never tries to download a browser.  ``STORYDECK_CHROMIUM`` and
``STORYDECK_CHROMEDRIVER`` override the two paths (for a developer on another OS).

Gotcha: under mobile emulation ``window.innerWidth`` is only the emulated width while
nothing overflows; Chromium zooms out to fit wide content, and ``innerWidth`` grows with
it (a 600 px ``<pre>`` makes it ~612).  The harness therefore judges overflow against the
emulated width and ``documentElement.clientWidth``, and reports ``innerWidth`` alongside.

The colour maths (:func:`parse_css_color`, :func:`relative_luminance`,
:func:`contrast_ratio`, :func:`effective_colors`) is pure Python and needs no browser.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

__all__ = [
    "CHROMIUM_FLAGS",
    "PHONE",
    "RGBA",
    "TABLET",
    "BrowserUnavailable",
    "CardBrowser",
    "ClozeSample",
    "Layer",
    "Offender",
    "RenderReport",
    "TextSample",
    "Viewport",
    "acquire_shared_browser",
    "browser_session",
    "build_card_page",
    "card_browser_fixture",
    "contrast_ratio",
    "effective_colors",
    "make_browser_fixture",
    "parse_css_color",
    "relative_luminance",
    "release_shared_browser",
    "start_browser",
]

DEFAULT_CHROMIUM: Final = "/usr/bin/chromium"
DEFAULT_CHROMEDRIVER: Final = "/usr/bin/chromedriver"
INSTALL_HINT: Final = (
    "install Debian's Chromium with `apt-get install -y --no-install-recommends "
    "chromium chromium-driver` (CI does this in .ci/run when CI=true), or point "
    "STORYDECK_CHROMIUM / STORYDECK_CHROMEDRIVER at a matching browser and driver"
)

#: Flags every harness Chromium starts with.  The machine has no network: without the
#: background-networking/component/sync flags Chromium keeps retrying refused connections.
CHROMIUM_FLAGS: Final[tuple[str, ...]] = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Screenshots in plain sRGB, independent of the host's colour profile.
    "--force-color-profile=srgb",
)

#: WCAG 2.x thresholds: body text (AA), and the lower bar used for "is a cloze visible".
MIN_TEXT_CONTRAST: Final = 4.5
MIN_CLOZE_CONTRAST: Final = 3.0
#: storydeck's readability floor for body text on a phone.
MIN_FONT_PX: Final = 16.0
#: In dark mode the page background must be at least this dark (relative luminance;
#: #595959 is ~0.10, Anki's night grey #2f2f31 ~0.03, white 1.0).
MAX_DARK_PAGE_LUMINANCE: Final = 0.1


# --------------------------------------------------------------------------- colours


@dataclass(frozen=True)
class RGBA:
    """An sRGB colour: channels 0-255 (floats, so compositing does not round), alpha 0-1."""

    r: float
    g: float
    b: float
    a: float = 1.0

    @property
    def opaque(self) -> bool:
        """True when alpha is 1 (within rounding)."""
        return self.a >= 1.0 - 1e-9

    def to_hex(self) -> str:
        """``#rrggbb`` (or ``#rrggbbaa`` when translucent), rounded to 8 bits."""
        channels = [self.r, self.g, self.b] + ([] if self.opaque else [self.a * 255])
        return "#" + "".join(f"{round(min(max(c, 0.0), 255.0)):02x}" for c in channels)

    def __str__(self) -> str:
        return self.to_hex()


WHITE: Final = RGBA(255, 255, 255)
BLACK: Final = RGBA(0, 0, 0)
TRANSPARENT: Final = RGBA(0, 0, 0, 0.0)

_FUNC_RE: Final = re.compile(r"^(rgba?)\(\s*([^)]*)\)$", re.IGNORECASE)
_HEX_RE: Final = re.compile(r"^#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$", re.IGNORECASE)


def _channel(token: str) -> float:
    if token.endswith("%"):
        return float(token[:-1]) * 255 / 100
    return float(token)


def _alpha(token: str) -> float:
    value = float(token[:-1]) / 100 if token.endswith("%") else float(token)
    return min(max(value, 0.0), 1.0)


def parse_css_color(value: str) -> RGBA:
    """Parse the colour forms Chromium's computed styles (and the tests) use.

    Accepts ``transparent``, ``#rgb``/``#rgba``/``#rrggbb``/``#rrggbbaa``, and ``rgb()``/
    ``rgba()`` in comma or space syntax (``rgb(1 2 3 / 50%)``).  Anything else (``oklch()``,
    ``color(...)``) is converted to ``rgba()`` inside the page before it gets here.
    """
    text = value.strip().lower()
    if text == "transparent":
        return TRANSPARENT
    if hex_match := _HEX_RE.match(text):
        digits = hex_match.group(1)
        if len(digits) <= 4:
            digits = "".join(d * 2 for d in digits)
        nums = [int(digits[i : i + 2], 16) for i in range(0, len(digits), 2)]
        alpha = nums[3] / 255 if len(nums) == 4 else 1.0
        return RGBA(nums[0], nums[1], nums[2], alpha)
    if func_match := _FUNC_RE.match(text):
        body = func_match.group(2).replace("/", " / ")
        if "," in body:
            parts = [p.strip() for p in body.split(",")]
        else:
            parts = [p for p in body.split() if p != "/"]
        if len(parts) in (3, 4):
            try:
                r, g, b = (_channel(p) for p in parts[:3])
                a = _alpha(parts[3]) if len(parts) == 4 else 1.0
            except ValueError:
                pass
            else:
                return RGBA(r, g, b, a)
    msg = f"unsupported CSS colour {value!r}"
    raise ValueError(msg)


def blend(top: RGBA, bottom: RGBA) -> RGBA:
    """Composite ``top`` over ``bottom`` (Porter-Duff source-over, straight alpha)."""
    out_a = top.a + bottom.a * (1.0 - top.a)
    if out_a <= 0.0:
        return TRANSPARENT

    def mix(t: float, b: float) -> float:
        return (t * top.a + b * bottom.a * (1.0 - top.a)) / out_a

    return RGBA(mix(top.r, bottom.r), mix(top.g, bottom.g), mix(top.b, bottom.b), out_a)


def _fade(under: RGBA, inner: RGBA, opacity: float) -> RGBA:
    """CSS ``opacity``: show a group's rendering ``inner`` at ``opacity`` over ``under``."""
    if opacity >= 1.0:
        return inner
    return blend(RGBA(inner.r, inner.g, inner.b, inner.a * opacity), under)


def _linear(channel: float) -> float:
    c = min(max(channel, 0.0), 255.0) / 255.0
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(color: RGBA) -> float:
    """WCAG 2.1 relative luminance of an opaque sRGB colour (alpha is ignored).

    Uses the sRGB breakpoint 0.04045 (WCAG 2.1's text says 0.03928; no 8-bit value falls
    between the two, so the results are identical).
    """
    return 0.2126 * _linear(color.r) + 0.7152 * _linear(color.g) + 0.0722 * _linear(color.b)


def contrast_ratio(first: RGBA, second: RGBA) -> float:
    """WCAG 2.x contrast ratio (1-21) of two opaque colours; order does not matter.

    Translucent colours must be composited first (see :func:`blend` /
    :func:`effective_colors`): a ratio of a colour with alpha < 1 is undefined.
    """
    if not (first.opaque and second.opaque):
        msg = f"contrast needs opaque colours, got {first} and {second}; composite them first"
        raise ValueError(msg)
    high, low = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@dataclass(frozen=True)
class Layer:
    """One element between the canvas and a piece of text: its background and opacity."""

    background: RGBA
    opacity: float = 1.0


def effective_colors(text: RGBA, layers: Sequence[Layer], canvas: RGBA) -> tuple[RGBA, RGBA]:
    """On-screen (text, background) colours for text nested in ``layers`` (root first).

    Paints like the browser does for a pixel of the text and a pixel next to it: the canvas,
    then each ancestor's background, the text colour on top, and each ancestor's
    ``opacity`` fading its whole subtree over what is beneath it.  Only the ancestor chain
    is considered; positioned siblings painted underneath are not.
    """
    if not canvas.opaque:
        canvas = blend(canvas, WHITE)

    def paint(index: int, under: RGBA, with_text: bool) -> RGBA:
        layer = layers[index]
        painted = blend(layer.background, under)
        if index == len(layers) - 1:
            inner = blend(text, painted) if with_text else painted
        else:
            inner = paint(index + 1, painted, with_text)
        return _fade(under, inner, layer.opacity)

    if not layers:
        return blend(text, canvas), canvas
    return paint(0, canvas, True), paint(0, canvas, False)


# --------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class Viewport:
    """An emulated device: CSS-pixel size, device pixel ratio, mobile (viewport meta on)."""

    width: int
    height: int
    scale: float = 3.0
    mobile: bool = True


PHONE: Final = Viewport(390, 844, 3.0)  # iPhone 12-15 / a typical Android phone
TABLET: Final = Viewport(768, 1024, 2.0)  # iPad portrait


@dataclass(frozen=True)
class TextSample:
    """An element that directly contains visible text, as rendered."""

    selector: str
    text: str
    font_px: float
    color: RGBA  # computed text colour (may be translucent)
    background: RGBA  # effective opaque background behind the text
    contrast: float  # WCAG ratio of the composited text colour against ``background``


@dataclass(frozen=True)
class ClozeSample:
    """An element with class ``cloze``."""

    selector: str
    text: str
    rendered: bool  # has a box and is not display:none / visibility:hidden / opacity:0
    contrast: float
    font_px: float

    @property
    def visible(self) -> bool:
        """Rendered, and distinguishable from its background (contrast >= 3)."""
        return self.rendered and self.contrast >= MIN_CLOZE_CONTRAST


@dataclass(frozen=True)
class Offender:
    """An element or text run that sticks out of the viewport horizontally."""

    selector: str
    text: str
    left: float
    right: float
    kind: str  # "element" or "text"


@dataclass(frozen=True)
class RenderReport:
    """Everything measured on one rendered card.  All lengths are CSS pixels."""

    width: int
    height: int
    dark: bool
    card_ord: int
    body_class: str
    inner_width: float  # NB grows past ``width`` when content overflows (mobile emulation)
    inner_height: float
    viewport_width: float  # documentElement.clientWidth: the layout viewport
    device_pixel_ratio: float
    document_scroll_width: int
    body_scroll_width: int
    canvas: RGBA  # what shows where no element paints a background
    page_background: RGBA  # effective background of <body>: canvas + html + body
    texts: tuple[TextSample, ...]
    clozes: tuple[ClozeSample, ...]
    offenders: tuple[Offender, ...]
    scripts: tuple[str, ...]
    requests: tuple[str, ...]

    @property
    def min_font_px(self) -> float:
        """Smallest computed font size of any visible text (ValueError when there is none)."""
        return min(t.font_px for t in self._visible_texts())

    @property
    def min_contrast(self) -> float:
        """Lowest text/background contrast of any visible text (ValueError when none)."""
        return min(t.contrast for t in self._visible_texts())

    def _visible_texts(self) -> tuple[TextSample, ...]:
        if not self.texts:
            msg = "the card rendered no visible text"
            raise ValueError(msg)
        return self.texts

    @property
    def overflows(self) -> bool:
        """True when the page scrolls sideways or anything sticks out of the viewport."""
        limit = self.width + 0.5
        return (
            self.document_scroll_width > limit
            or self.body_scroll_width > limit
            or self.inner_width > limit
            or bool(self.offenders)
        )

    @property
    def light_page_in_dark_mode(self) -> bool:
        """Dark mode, but the page background is not dark (e.g. the CSS never set one)."""
        return self.dark and relative_luminance(self.page_background) > MAX_DARK_PAGE_LUMINANCE

    @property
    def hidden_clozes(self) -> tuple[ClozeSample, ...]:
        """Cloze elements a reader cannot see."""
        return tuple(c for c in self.clozes if not c.visible)

    def small_text(self, min_px: float = MIN_FONT_PX) -> tuple[TextSample, ...]:
        """Text samples whose font is smaller than ``min_px``."""
        return tuple(t for t in self.texts if t.font_px < min_px - 1e-6)

    def low_contrast(self, min_ratio: float = MIN_TEXT_CONTRAST) -> tuple[TextSample, ...]:
        """Text samples whose contrast is below ``min_ratio``."""
        return tuple(t for t in self.texts if t.contrast < min_ratio)

    def problems(
        self, *, min_font_px: float = MIN_FONT_PX, min_contrast: float = MIN_TEXT_CONTRAST
    ) -> list[str]:
        """Human-readable list of everything wrong with the card (empty when it is fine)."""
        found: list[str] = []
        if not self.texts:
            found.append("no visible text")
        if self.overflows:
            found.append(
                f"horizontal overflow: scrollWidth {self.document_scroll_width}/"
                f"{self.body_scroll_width}, innerWidth {self.inner_width} > {self.width}"
            )
            found.extend(
                f"  sticks out [{o.left:.0f}, {o.right:.0f}]: {o.selector} {o.text!r}"
                for o in self.offenders
            )
        if self.light_page_in_dark_mode:
            found.append(f"dark mode, but the page background is {self.page_background}")
        found.extend(
            f"font {t.font_px:g}px < {min_font_px:g}px: {t.selector} {t.text!r}"
            for t in self.small_text(min_font_px)
        )
        found.extend(
            f"contrast {t.contrast:.2f} < {min_contrast:g} ({t.color} on {t.background}): "
            f"{t.selector} {t.text!r}"
            for t in self.low_contrast(min_contrast)
        )
        found.extend(
            f"hidden cloze (rendered={c.rendered}, contrast {c.contrast:.2f}): {c.text!r}"
            for c in self.hidden_clozes
        )
        found.extend(f"script element: {s}" for s in self.scripts)
        found.extend(f"network request: {r}" for r in self.requests)
        return found

    def summary(self) -> str:
        """Multi-line description for assertion messages."""
        head = (
            f"{self.width}x{self.height} {'dark' if self.dark else 'light'} card{self.card_ord}"
            f" on {self.page_background}"
            f" (innerWidth {self.inner_width}, clientWidth {self.viewport_width})"
        )
        lines = [head, *(f"  {p}" for p in self.problems())]
        lines.extend(
            f"  text {t.font_px:g}px {t.contrast:.2f} {t.color}/{t.background} {t.selector}"
            f" {t.text!r}"
            for t in self.texts
        )
        return "\n".join(lines)


# --------------------------------------------------------------------------- page


def build_card_page(html_body: str, css: str, *, dark: bool, card_ord: int = 1) -> str:
    """The document Anki's reviewer builds around a card's rendered HTML and note-type CSS.

    Dark mode adds both night classes: ``nightMode`` (Anki desktop / AnkiMobile) and
    ``night_mode`` (AnkiDroid).  No reviewer default styles are injected, so a card that
    wants a dark background in night mode has to set one itself.
    """
    classes = f"card card{card_ord}" + (" nightMode night_mode" if dark else "")
    return (
        "<!doctype html><html><head>"
        '<meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{css}</style></head>"
        f'<body class="{classes}">{html_body}</body></html>'
    )


# Runs inside the page (execute_async_script).  Collects raw facts; Python does the maths.
_MEASURE_JS: Final = r"""
const done = arguments[arguments.length - 1];
const root = document.documentElement;
const body = document.body;
const canvasEl = document.createElement('canvas');
canvasEl.width = canvasEl.height = 1;
const ctx = canvasEl.getContext('2d', {willReadFrequently: true});

function norm(color) {
  if (/^rgba?\(/.test(color)) return color;
  // oklch(), color(srgb ...), lab() ... : let the 2D canvas convert to 8-bit sRGB.
  ctx.clearRect(0, 0, 1, 1);
  ctx.fillStyle = '#000';
  ctx.fillStyle = color;
  ctx.fillRect(0, 0, 1, 1);
  const d = ctx.getImageData(0, 0, 1, 1).data;
  return `rgba(${d[0]}, ${d[1]}, ${d[2]}, ${d[3] / 255})`;
}

function describe(el) {
  const parts = [];
  for (let n = el; n && n.nodeType === 1 && parts.length < 4; n = n.parentElement) {
    let part = n.tagName.toLowerCase();
    if (n.id) part += '#' + n.id;
    const classes = Array.from(n.classList).slice(0, 3);
    if (classes.length) part += '.' + classes.join('.');
    parts.unshift(part);
    if (n === body) break;
  }
  return parts.join(' > ');
}

function short(text) {
  const t = (text || '').replace(/\s+/g, ' ').trim();
  return t.length > 80 ? t.slice(0, 77) + '...' : t;
}

function chain(el) {
  const layers = [];
  for (let n = el; n; n = n.parentElement) {
    const cs = getComputedStyle(n);
    layers.push({bg: norm(cs.backgroundColor), opacity: parseFloat(cs.opacity)});
  }
  return layers.reverse();
}

function shown(el, opacity) {
  const cs = getComputedStyle(el);
  if (cs.visibility !== 'visible') return false;
  if (typeof el.checkVisibility === 'function') {
    return el.checkVisibility({
      opacityProperty: opacity, visibilityProperty: true, contentVisibilityAuto: true,
      checkOpacity: opacity, checkVisibilityCSS: true,
    });
  }
  for (let n = el; n; n = n.parentElement) {
    const s = getComputedStyle(n);
    if (s.display === 'none' || (opacity && parseFloat(s.opacity) === 0)) return false;
  }
  return true;
}

function textColor(cs) {
  return norm(cs.webkitTextFillColor || cs.color);
}

// Nearest ancestor (html/body excluded: their overflow belongs to the viewport) that
// clips or scrolls horizontally: whatever sticks out of it does not widen the page.
function clippedBy(el) {
  for (let n = el; n && n !== body && n !== root; n = n.parentElement) {
    if (getComputedStyle(n).overflowX !== 'visible') return n;
  }
  return null;
}

function measure() {
  const vw = root.clientWidth;
  const sx = window.scrollX;
  const range = document.createRange();
  const skip = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'TITLE']);

  const byElement = new Map();
  const offenders = [];
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || skip.has(el.tagName) || !node.data.trim()) continue;
    range.selectNodeContents(node);
    const rect = range.getBoundingClientRect();
    if (rect.width <= 0 || rect.height <= 0) continue;
    if (!shown(el, true)) continue;
    const left = rect.left + sx, right = rect.right + sx;
    if ((right > vw + 0.5 || left < -0.5) && !clippedBy(el)) {
      offenders.push({selector: describe(el), text: short(node.data), left, right,
                      kind: 'text'});
    }
    const entry = byElement.get(el);
    if (entry) { entry.text += ' ' + node.data; continue; }
    const cs = getComputedStyle(el);
    byElement.set(el, {selector: describe(el), text: node.data, fontSize: cs.fontSize,
                       color: textColor(cs), chain: chain(el)});
  }
  const texts = Array.from(byElement.values()).map(t => ({...t, text: short(t.text)}));

  for (const el of [body, ...body.querySelectorAll('*')]) {
    if (skip.has(el.tagName) || !shown(el, false)) continue;
    const rect = el.getBoundingClientRect();
    if (rect.width <= 0 && rect.height <= 0) continue;
    const left = rect.left + sx, right = rect.right + sx;
    if ((right > vw + 0.5 || left < -0.5) && !(el.parentElement && clippedBy(el.parentElement))) {
      offenders.push({selector: describe(el), text: short(el.textContent), left, right,
                      kind: 'element'});
    }
  }

  const clozes = Array.from(document.querySelectorAll('.cloze')).map(el => {
    const rect = el.getBoundingClientRect();
    const cs = getComputedStyle(el);
    return {selector: describe(el), text: short(el.textContent),
            rendered: rect.width > 0 && rect.height > 0 && shown(el, true),
            fontSize: cs.fontSize, color: textColor(cs), chain: chain(el)};
  });

  const scripts = Array.from(document.scripts).map(
    s => s.src ? s.src : 'inline: ' + short(s.textContent));

  const result = {
    innerWidth: window.innerWidth, innerHeight: window.innerHeight,
    clientWidth: vw, devicePixelRatio: window.devicePixelRatio,
    docScrollWidth: root.scrollWidth, bodyScrollWidth: body.scrollWidth,
    bodyClass: body.className,
    pageChain: chain(body), texts, clozes, offenders: offenders.slice(0, 50), scripts,
    resources: performance.getEntriesByType('resource').map(e => e.name),
  };
  // The canvas colour: the Canvas system colour under the root's color-scheme.
  const probe = document.createElement('div');
  probe.style.cssText = 'position:absolute;width:0;height:0;background-color:Canvas';
  root.appendChild(probe);
  result.canvas = norm(getComputedStyle(probe).backgroundColor);
  probe.remove();
  return result;
}

let finished = false;
function finish() {
  if (finished) return;
  finished = true;
  try { done({ok: true, data: measure()}); }
  catch (e) { done({ok: false, error: String((e && e.stack) || e)}); }
}
const settle = () => requestAnimationFrame(() => requestAnimationFrame(finish));
(document.fonts ? document.fonts.ready : Promise.resolve()).then(settle, settle);
setTimeout(finish, 3000);
"""


def _layers(raw: Sequence[Mapping[str, Any]]) -> tuple[Layer, ...]:
    return tuple(Layer(parse_css_color(str(layer["bg"])), float(layer["opacity"])) for layer in raw)


def _px(value: str) -> float:
    if not value.endswith("px"):
        msg = f"computed font-size is not in px: {value!r}"
        raise ValueError(msg)
    return float(value[:-2])


def _contrast(raw: Mapping[str, Any], canvas: RGBA) -> tuple[RGBA, RGBA, float]:
    color = parse_css_color(str(raw["color"]))
    fg, bg = effective_colors(color, _layers(raw["chain"]), canvas)
    return color, bg, contrast_ratio(fg, bg)


# --------------------------------------------------------------------------- browser


class BrowserUnavailable(RuntimeError):
    """Chromium or chromedriver is missing or would not start."""


#: Pages of the browser's own (its new-tab page, loading as it starts): their requests
#: are not the card's.
_BROWSER_PAGES = ("chrome://", "chrome-untrusted://", "devtools://")


def _network_urls(log_entries: Sequence[Mapping[str, Any]], page_url: str) -> list[str]:
    """URLs of requests in a ChromeDriver performance log, other than the page itself
    and those of the browser's own pages."""
    urls: list[str] = []
    for entry in log_entries:
        try:
            message = json.loads(entry["message"])["message"]
        except (KeyError, TypeError, ValueError):
            continue
        if message.get("method") != "Network.requestWillBeSent":
            continue
        if str(message.get("params", {}).get("documentURL", "")).startswith(_BROWSER_PAGES):
            continue
        url = str(message.get("params", {}).get("request", {}).get("url", ""))
        # A card's page cannot load the browser's own resources: those come from its
        # own pages too.
        if url.startswith(_BROWSER_PAGES):
            continue
        if url and url != page_url and not url.startswith(("data:", "blob:", "about:")):
            urls.append(url)
    return urls


class CardBrowser:
    """One headless Chromium, emulating a phone or tablet, that renders and measures cards.

    Not thread-safe; create it with :func:`start_browser` / :func:`browser_session`, or
    take the session-scoped ``card_browser`` pytest fixture.
    """

    def __init__(
        self, driver: Any, workdir: Path, on_close: Callable[[], None] | None = None
    ) -> None:
        self.driver = driver
        self.workdir = workdir
        self._on_close = on_close
        self._closed = False
        self._pages = 0
        self._viewport: Viewport | None = None
        self._dark: bool | None = None
        self.page_url: str | None = None

    # -- emulation ----------------------------------------------------------------

    def emulate(self, viewport: Viewport, *, dark: bool = False) -> None:
        """Emulate ``viewport`` through the DevTools protocol, and the colour scheme.

        A headless window cannot be made narrower than ~500 px, so the size comes from
        ``Emulation.setDeviceMetricsOverride`` (``mobile`` turns on viewport-meta handling
        and overlay scrollbars), plus touch input so ``(hover: none)`` /
        ``(pointer: coarse)`` queries match a phone.  Dark mode also sets
        ``prefers-color-scheme: dark``.  Overrides persist across navigations.
        """
        if viewport != self._viewport:
            self.driver.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {
                    "width": viewport.width,
                    "height": viewport.height,
                    "deviceScaleFactor": viewport.scale,
                    "mobile": viewport.mobile,
                    "screenWidth": viewport.width,
                    "screenHeight": viewport.height,
                },
            )
            self.driver.execute_cdp_cmd(
                "Emulation.setTouchEmulationEnabled",
                {"enabled": viewport.mobile, "maxTouchPoints": 5 if viewport.mobile else 1},
            )
            self._viewport = viewport
        if dark != self._dark:
            self.driver.execute_cdp_cmd(
                "Emulation.setEmulatedMedia",
                {
                    "media": "",
                    "features": [
                        {"name": "prefers-color-scheme", "value": "dark" if dark else "light"}
                    ],
                },
            )
            self._dark = dark

    def window_metrics(self) -> dict[str, float]:
        """``innerWidth``/``innerHeight``/``clientWidth``/``devicePixelRatio`` of the page."""
        result = self.driver.execute_script(
            "return {innerWidth: innerWidth, innerHeight: innerHeight,"
            " clientWidth: document.documentElement.clientWidth,"
            " devicePixelRatio: devicePixelRatio};"
        )
        return {str(k): float(v) for k, v in result.items()}

    # -- loading and measuring ----------------------------------------------------

    def load_html(self, document: str) -> str:
        """Write ``document`` to a fresh file in the work dir, load it, return its URL.

        A file (not a data: URL) keeps large cards working and gives relative media
        references a real base, so a missing ``<img src="x.png">`` shows up as a request.
        """
        self._pages += 1
        path = self.workdir / f"card-{self._pages:04d}.html"
        path.write_text(document, encoding="utf-8")
        self.driver.get_log("performance")  # drop entries from earlier pages
        url = path.as_uri()
        self.driver.get(url)
        self.page_url = url
        return url

    def load_card(
        self,
        html_body: str,
        css: str,
        *,
        width: int,
        height: int,
        dark: bool,
        card_ord: int = 1,
        scale: float = 3.0,
    ) -> str:
        """Emulate the device, then load the card wrapped like Anki's reviewer does."""
        self.emulate(Viewport(width, height, scale), dark=dark)
        return self.load_html(build_card_page(html_body, css, dark=dark, card_ord=card_ord))

    def measure(self, *, dark: bool | None = None, card_ord: int = 1) -> RenderReport:
        """Measure the currently loaded page (see :class:`RenderReport`)."""
        outcome = self.driver.execute_async_script(_MEASURE_JS)
        if not outcome or not outcome.get("ok"):
            msg = f"in-page measurement failed: {outcome and outcome.get('error')}"
            raise RuntimeError(msg)
        data: dict[str, Any] = outcome["data"]
        requests = _network_urls(self.driver.get_log("performance"), self.page_url or "")
        requests.extend(data["resources"])
        canvas = parse_css_color(data["canvas"])
        texts = []
        for raw in data["texts"]:
            color, background, ratio = _contrast(raw, canvas)
            texts.append(
                TextSample(
                    selector=raw["selector"],
                    text=raw["text"],
                    font_px=_px(raw["fontSize"]),
                    color=color,
                    background=background,
                    contrast=ratio,
                )
            )
        clozes = []
        for raw in data["clozes"]:
            _, _, ratio = _contrast(raw, canvas)
            clozes.append(
                ClozeSample(
                    selector=raw["selector"],
                    text=raw["text"],
                    rendered=bool(raw["rendered"]),
                    contrast=ratio,
                    font_px=_px(raw["fontSize"]),
                )
            )
        viewport = self._viewport or Viewport(int(data["clientWidth"]), int(data["innerHeight"]))
        return RenderReport(
            width=viewport.width,
            height=viewport.height,
            dark=bool(self._dark) if dark is None else dark,
            card_ord=card_ord,
            body_class=str(data["bodyClass"]),
            inner_width=float(data["innerWidth"]),
            inner_height=float(data["innerHeight"]),
            viewport_width=float(data["clientWidth"]),
            device_pixel_ratio=float(data["devicePixelRatio"]),
            document_scroll_width=int(data["docScrollWidth"]),
            body_scroll_width=int(data["bodyScrollWidth"]),
            canvas=canvas,
            page_background=effective_colors(TRANSPARENT, _layers(data["pageChain"]), canvas)[1],
            texts=tuple(texts),
            clozes=tuple(clozes),
            offenders=tuple(
                Offender(o["selector"], o["text"], float(o["left"]), float(o["right"]), o["kind"])
                for o in data["offenders"]
            ),
            scripts=tuple(str(s) for s in data["scripts"]),
            requests=tuple(dict.fromkeys(requests)),
        )

    def render_card(
        self,
        html_body: str,
        css: str,
        *,
        width: int,
        height: int,
        dark: bool,
        card_ord: int = 1,
        scale: float = 3.0,
    ) -> RenderReport:
        """Load a card as Anki's reviewer would show it on a ``width``x``height`` device and
        measure it.  The page stays loaded, so :meth:`screenshot` can follow."""
        self.load_card(
            html_body, css, width=width, height=height, dark=dark, card_ord=card_ord, scale=scale
        )
        return self.measure(dark=dark, card_ord=card_ord)

    def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        """Save the current page as PNG at the emulated size, in device pixels.

        A 390x844 phone at scale 3 gives a 1170x2532 image.  ``full_page`` captures the
        whole scrollable height instead of the viewport.
        """
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        result = self.driver.execute_cdp_cmd("Page.captureScreenshot", params)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(result["data"]))
        return path

    def close(self) -> None:
        """Quit Chromium and chromedriver (and remove the temp dir); safe to call twice."""
        on_close, self._on_close = self._on_close, None
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):
                self.driver.quit()
        if on_close is not None:
            on_close()


# --------------------------------------------------------------------------- lifecycle


def _executable(given: str | None, env_var: str, default: str, what: str) -> str:
    path = given or os.environ.get(env_var) or default
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        msg = f"{what} not found at {path}: {INSTALL_HINT}"
        raise BrowserUnavailable(msg)
    return path


@contextlib.contextmanager
def browser_session(
    *, chromium: str | None = None, chromedriver: str | None = None
) -> Iterator[CardBrowser]:
    """Start Chromium with a fresh profile in a temp dir; quit it and clean up on exit."""
    chromium_path = _executable(chromium, "STORYDECK_CHROMIUM", DEFAULT_CHROMIUM, "Chromium")
    driver_path = _executable(
        chromedriver, "STORYDECK_CHROMEDRIVER", DEFAULT_CHROMEDRIVER, "chromedriver"
    )
    # Belt and braces: explicit paths already keep Selenium Manager out of the way.
    os.environ.setdefault("SE_OFFLINE", "true")
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:  # pragma: no cover - selenium is a test extra
        msg = "selenium is not installed: pip install -e '.[test]'"
        raise BrowserUnavailable(msg) from exc

    with tempfile.TemporaryDirectory(
        prefix="storydeck-browser-", ignore_cleanup_errors=True
    ) as tmp:
        workdir = Path(tmp)
        options = webdriver.ChromeOptions()
        options.binary_location = chromium_path
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={workdir / 'profile'}")
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        pages = workdir / "pages"
        pages.mkdir()
        try:
            driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
        except WebDriverException as exc:
            msg = f"could not start {chromium_path} via {driver_path}: {exc.msg}\n{INSTALL_HINT}"
            raise BrowserUnavailable(msg) from exc
        browser = CardBrowser(driver, pages)
        try:
            driver.set_page_load_timeout(20)
            driver.set_script_timeout(10)
            browser.emulate(PHONE)
            yield browser
        finally:
            browser.close()


def start_browser(*, chromium: str | None = None, chromedriver: str | None = None) -> CardBrowser:
    """Start a browser that lives until :meth:`CardBrowser.close` (which also removes its
    temp dir).  Prefer :func:`browser_session` or the fixture where a ``with`` fits."""
    stack = contextlib.ExitStack()
    browser = stack.enter_context(browser_session(chromium=chromium, chromedriver=chromedriver))
    browser._on_close = stack.close
    return browser


class _Shared:
    lock = threading.Lock()
    browser: CardBrowser | None = None
    users = 0


def acquire_shared_browser() -> CardBrowser:
    """The process-wide browser, started on first use and reference-counted, so a conftest
    and a test module that both register the fixture still share one Chromium."""
    with _Shared.lock:
        if _Shared.browser is None:
            _Shared.browser = start_browser()
        _Shared.users += 1
        return _Shared.browser


def release_shared_browser() -> None:
    """Drop one reference; the last one quits Chromium."""
    with _Shared.lock:
        _Shared.users -= 1
        if _Shared.users <= 0 and _Shared.browser is not None:
            browser, _Shared.browser, _Shared.users = _Shared.browser, None, 0
            browser.close()


def make_browser_fixture(name: str = "card_browser") -> Any:
    """A session-scoped pytest fixture called ``name`` that yields the shared browser.

    If Chromium is missing the fixture *fails* (never skips) with install instructions.
    """

    def _fixture() -> Iterator[CardBrowser]:
        problem = ""
        try:
            browser = acquire_shared_browser()
        except BrowserUnavailable as exc:
            problem = str(exc)
        if problem:  # failed outside the except block, so no chained traceback
            pytest.fail(f"browser tests need headless Chromium: {problem}", pytrace=False)
        try:
            yield browser
        finally:
            release_shared_browser()

    return pytest.fixture(scope="session", name=name)(_fixture)


#: The ready-made ``card_browser`` fixture: import it into a conftest or test module.
card_browser_fixture = make_browser_fixture()

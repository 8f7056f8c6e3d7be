"""`storydeck preview`: one self-contained HTML page with every card, front and back.

Cards are rendered with the note types' own templates and CSS, the way Anki fills
them in: `{{Field}}`, `{{#Field}}...{{/Field}}`, `{{FrontSide}}` and `{{cloze:Field}}`.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence

from storydeck.cards import Card
from storydeck.templates import NoteType, card_css, note_types

_SECTION = re.compile(r"\{\{([#^])([^}]+)\}\}(.*?)\{\{/\2\}\}", re.DOTALL)
_FIELD = re.compile(r"\{\{([^}#^/]+)\}\}")
_CLOZE = re.compile(r"\{\{c(\d+)::(.*?)(?:::(.*?))?\}\}", re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")


def cloze_numbers(text: str) -> list[int]:
    return sorted({int(n) for n in re.findall(r"\{\{c(\d+)::", text)})


def render_cloze(text: str, number: int, *, answer: bool) -> str:
    """Anki's cloze rendering: the active deletion hidden (front) or marked (back)."""

    def one(match: re.Match[str]) -> str:
        if int(match.group(1)) != number:
            return match.group(2)
        if answer:
            return f'<span class="cloze">{match.group(2)}</span>'
        hint = match.group(3) or "..."
        return f'<span class="cloze">[{hint}]</span>'

    return _CLOZE.sub(one, text)


def render(
    template: str,
    fields: Mapping[str, str],
    *,
    front_side: str = "",
    cloze: int | None = None,
    answer: bool = False,
) -> str:
    """Fill a card template as Anki does (the subset storydeck's templates use)."""

    def section(match: re.Match[str]) -> str:
        value = fields.get(match.group(2).strip(), "")
        present = bool(_TAGS.sub("", value).strip())
        return match.group(3) if present == (match.group(1) == "#") else ""

    text = _SECTION.sub(section, template)

    def field(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name == "FrontSide":
            return front_side
        if name.startswith("cloze:"):
            return render_cloze(fields.get(name[6:], ""), cloze or 1, answer=answer)
        return fields.get(name, "")

    return _FIELD.sub(field, text)


def card_sides(card: Card) -> list[tuple[str, str]]:
    """(front HTML, back HTML) of each Anki card the note makes."""
    qa, cloze = note_types()
    note_type: NoteType = cloze if card.is_cloze else qa
    _, front_template, back_template = note_type.templates[0]
    numbers = cloze_numbers(card.fields["Front"]) if card.is_cloze else [0]
    sides = []
    for number in numbers or [1]:
        front = render(front_template, card.fields, cloze=number)
        back = render(back_template, card.fields, front_side=front, cloze=number, answer=True)
        sides.append((front, back))
    return sides


_PAGE_CSS = """
body.preview { margin: 0; padding: 16px; background: #eef0f3; color: #1d1f23;
  font-family: -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
body.preview.dark { background: #111214; color: #e8eaed; }
.preview h1 { font-size: 22px; } .preview h2 { font-size: 18px; margin-top: 32px; }
.preview-card { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0; }
.preview-side { flex: 1 1 320px; max-width: 430px; border-radius: 8px; overflow: hidden;
  box-shadow: 0 1px 3px rgba(0,0,0,.25); }
.preview-side > .card { min-height: 100%; box-sizing: border-box; }
.preview-meta { font-size: 14px; opacity: .8; }
"""


def preview_page(cards: Sequence[Card], *, dark: bool = False, title: str = "") -> str:
    """The whole preview page for a build's cards, grouped by deck."""
    by_deck: dict[str, list[Card]] = defaultdict(list)
    for card in cards:
        by_deck[card.deck].append(card)
    night = " nightMode night_mode" if dark else ""
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title or 'storydeck preview')}</title>",
        f"<style>{card_css()}\n{_PAGE_CSS}</style></head>",
        f'<body class="preview{" dark" if dark else ""}">',
        f"<h1>{html.escape(title or 'storydeck preview')}</h1>",
        f'<p class="preview-meta">{len(cards)} notes in {len(by_deck)} decks.</p>',
    ]
    for deck in sorted(by_deck):
        parts.append(f"<section><h2>{html.escape(deck)}</h2>")
        for card in by_deck[deck]:
            for number, (front, back) in enumerate(card_sides(card), start=1):
                meta = f"{card.kind.value} · {card.source.at_line()}"
                parts.append(
                    f'<div class="preview-card" id="{html.escape(card.guid)}-{number}">'
                    f'<div class="preview-side"><div class="card card{number}{night}">{front}'
                    f'</div></div><div class="preview-side"><div class="card card{number}{night}">'
                    f"{back}</div></div></div>"
                    f'<div class="preview-meta">{html.escape(meta)}</div>'
                )
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"

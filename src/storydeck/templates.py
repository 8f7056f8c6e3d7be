"""The two note types' public schema: ids, field list, card templates and CSS.

The field list and the template list are a public schema. Anki treats a note type
whose fields or templates differ from the one in the collection as a new note
type and never updates the old notes again, so they are designed once and only
ever extended by a migration. Template text and CSS may change freely: Anki
updates them in place when the note type's modification time is newer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from storydeck.cards import FIELDS, fingerprint

#: Hard-coded note type ids: never change them.
QA_ID = 1_736_410_311
CLOZE_ID = 1_736_410_312


_QA_FRONT = """\
<div class="sd sd-{{Kind}}">
{{#Context}}<div class="sd-context">{{Context}}</div>{{/Context}}
<div class="sd-front">{{Front}}</div>
</div>"""

_QA_BACK = """\
{{FrontSide}}
<hr id="answer">
<div class="sd sd-{{Kind}} sd-reveal">
<div class="sd-back">{{Back}}</div>
{{#Detail}}<div class="sd-detail">{{Detail}}</div>{{/Detail}}
{{#Source}}<div class="sd-source">{{Source}}</div>{{/Source}}
</div>"""

_CLOZE_FRONT = """\
<div class="sd sd-{{Kind}}">
{{#Context}}<div class="sd-context">{{Context}}</div>{{/Context}}
<div class="sd-front sd-cloze-text">{{cloze:Front}}</div>
</div>"""

_CLOZE_BACK = """\
<div class="sd sd-{{Kind}}">
{{#Context}}<div class="sd-context">{{Context}}</div>{{/Context}}
<div class="sd-front sd-cloze-text">{{cloze:Front}}</div>
</div>
<hr id="answer">
<div class="sd sd-{{Kind}} sd-reveal">
{{#Back}}<div class="sd-back">{{Back}}</div>{{/Back}}
{{#Detail}}<div class="sd-detail">{{Detail}}</div>{{/Detail}}
{{#Source}}<div class="sd-source">{{Source}}</div>{{/Source}}
</div>"""


@dataclass(frozen=True, slots=True)
class NoteType:
    key: str
    id: int
    name: str
    cloze: bool
    fields: tuple[str, ...]
    templates: tuple[tuple[str, str, str], ...]  # (name, front, back)
    css: str

    @property
    def fingerprint(self) -> str:
        parts = [self.name, str(self.cloze), *self.fields]
        for name, front, back in self.templates:
            parts += [name, front, back]
        return fingerprint([*parts, self.css])


@cache
def card_css() -> str:
    return files("storydeck").joinpath("card.css").read_text(encoding="utf-8")


def note_types() -> tuple[NoteType, NoteType]:
    css = card_css()
    return (
        NoteType(
            "qa", QA_ID, "storydeck Q&A", False, FIELDS, (("Card", _QA_FRONT, _QA_BACK),), css
        ),
        NoteType(
            "cloze",
            CLOZE_ID,
            "storydeck Cloze",
            True,
            FIELDS,
            (("Cloze", _CLOZE_FRONT, _CLOZE_BACK),),
            css,
        ),
    )


def note_type_fingerprints() -> dict[str, str]:
    return {t.key: t.fingerprint for t in note_types()}

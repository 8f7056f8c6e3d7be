"""`storydeck new`: a canonical note to fill in, never written over an existing file."""

from __future__ import annotations

import json
import re
from pathlib import Path

from storydeck.config import Config
from storydeck.errors import StorydeckError
from storydeck.model import Location

#: Guidance lines are markdown link definitions: they render as nothing and make no card.
_SECTIONS = (
    ("Situation", "Where and when, what was at stake, and one number that shows how big it was."),
    ("Task", "What you were responsible for, in a sentence or two."),
    ("Action", "One numbered step per thing you did: 1. **Headline** — one line of detail."),
    ("Result", "One outcome per bullet, each with its number."),
    ("Lessons", "What you would tell yourself before the next one, one per bullet."),
    ("Follow-ups", "A ### heading per follow-up question, your prepared answer under it."),
)


def slugify(title: str) -> str:
    words = re.findall(r"[a-z0-9]+", title.casefold())
    return "-".join(words)[:60].strip("-") or "story"


def note_text(title: str, level: str, theme: str | None, config: Config) -> str:
    theme_entry = config.theme(theme) if theme else None
    question = theme_entry.question if theme_entry else ""
    lines = [
        "---",
        f"id: {slugify(title)}",
        f"title: {json.dumps(title, ensure_ascii=False)}",
        f"level: {level}",
        f"themes: [{theme}]" if theme else "themes: []",
        "questions:",
        f"  - {json.dumps(question, ensure_ascii=False)}" if question else "  []",
        "tags: []",
        "---",
    ]
    if not question:
        lines[lines.index("questions:")] = "questions: []"
        lines.remove("  []")
    for name, guide in _SECTIONS:
        lines += ["", f"## {name}", f"[//]: # ({guide})"]
    return "\n".join(lines) + "\n"


def new_note(notes_dir: Path, title: str, level: str, theme: str | None, config: Config) -> Path:
    """Write a note skeleton under `notes_dir/<theme>/`; refuse to overwrite anything."""
    if not title.strip():
        raise StorydeckError("the title is empty", hint='e.g. storydeck new "Payment outage"')
    level_id = config.level_id(level)
    if level_id is None:
        known = ", ".join(lv.id for lv in config.levels)
        raise StorydeckError(f"unknown level {level!r}", hint=f"use one of {known}")
    if theme is not None and config.theme(theme) is None:
        known = ", ".join(t.id for t in config.themes)
        raise StorydeckError(f"unknown theme {theme!r}", hint=f"use one of {known}")
    folder = notes_dir / theme if theme else notes_dir
    path = folder / f"{slugify(title)}.md"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(note_text(title.strip(), level_id, theme, config))
    except FileExistsError:
        raise StorydeckError(
            "a note with this name already exists",
            Location(str(path)),
            "choose another title, or edit the existing note",
        ) from None
    return path

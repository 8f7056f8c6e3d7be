"""Front matter: what it reads, and where it says each value and each mistake is.

The places of values are worked out only for the values a story keeps (level, themes,
id); these pin them down, with those of every error, line by line and column by column.
"""

from __future__ import annotations

import pytest

from storydeck.errors import NotesError
from storydeck.model import Location
from storydeck.parse.frontmatter import parse_front_matter


@pytest.mark.parametrize(
    ("content", "level_at", "themes_at", "themes"),
    [
        ("title: A\nlevel: L4\nthemes: [conflict, ownership]\n", (3, 8), (4, 9), 2),
        ("level:   IC5\ntheme: leadership\n", (2, 10), (3, 8), 1),
        # `themes` is where the themes are said even when empty and `theme` names some.
        ("themes: []\ntheme:\n  - conflict\n", None, (2, 9), 1),
        ("id: ok-id\nlevel: ~\nthemes: ~\n", (3, 8), (4, 9), 0),
        ("notes: {anything: [goes]}\ndescription: x\n", None, None, 0),
    ],
)
def test_values_are_placed_where_they_are_written(
    content: str,
    level_at: tuple[int, int] | None,
    themes_at: tuple[int, int] | None,
    themes: int,
) -> None:
    front = parse_front_matter(content, 2, "n.md", 9)
    assert front.level_at == (level_at and Location("n.md", *level_at))
    assert front.themes_at == (themes_at and Location("n.md", *themes_at))
    assert len(front.themes) == themes
    assert front.body_line == 9


@pytest.mark.parametrize(
    ("content", "at", "message"),
    [
        ("titel: Checkout\n", (2, 1), "unknown front-matter key 'titel'"),
        ("? [a, b]\n: c\n", (2, 3), "unknown front-matter key"),
        ("title: A\ntitle: B\n", (3, 1), "duplicate front-matter key 'title'"),
        ("id: has space\n", (2, 5), "invalid story id 'has space'"),
        ("themes: [conflict, ~]\n", (2, 20), "'themes' must be a list of strings"),
        ("tags:\n  - a\n  - {b: c}\n", (4, 5), "'tags' must be a list of strings"),
        ("level: [L4, L5]\n", (2, 8), "'level' must be a single value, not a list"),
        ("summary: {a: b}\n", (2, 10), "'summary' must be a single value, not a mapping"),
    ],
)
def test_mistakes_are_placed_where_they_are_made(
    content: str, at: tuple[int, int], message: str
) -> None:
    with pytest.raises(NotesError) as caught:
        parse_front_matter(content, 2, "n.md", 9)
    diagnostic = caught.value.diagnostic("front-matter")
    assert diagnostic.location == Location("n.md", *at)
    assert diagnostic.message.startswith(message)


def test_values_are_read_as_written() -> None:
    front = parse_front_matter(
        "id: ok-id\ntitle: '  Spaced  '\nquestions:\n  - Why?\n  - '  '\ntags: [a, '', b]\n",
        2,
        "n.md",
        9,
    )
    assert (front.id, front.title) == ("ok-id", "Spaced")
    assert front.questions == ("Why?",)
    assert front.tags == ("a", "b")

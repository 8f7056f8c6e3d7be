"""Bad input, faults and hostile notes: nothing crashes, nothing is lost.

Every case starts from a built project (notes, decks, lockfile), adds the bad
input, builds again and checks the exact message, the exit code, and that decks
and lockfile are byte-identical to before.
"""

from __future__ import annotations

import json
import os
import sqlite3
import zipfile
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import Result

from test_roundtrip import outage, refactor


@pytest.fixture
def project(
    tmp_path: Path, cli: Callable[..., Result], fixed_time: Callable[[int], None]
) -> tuple[Path, Path]:
    notes = tmp_path / "notes"
    notes.mkdir()
    outage().write(notes)
    assert cli("build", notes, "-o", tmp_path / "decks").exit_code == 0
    fixed_time(1_800_000_000)  # a later build would stamp any change with a new time
    return notes, tmp_path / "decks"


def outputs(notes: Path, decks: Path) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in sorted(decks.iterdir())}
    files["lock"] = (notes / "storydeck.lock").read_bytes()
    return files


def failed_build(cli: Callable[..., Result], notes: Path, decks: Path, lines: list[str]) -> None:
    """The build exits 1 with exactly `lines` on stderr and leaves decks and lock alone."""
    before = outputs(notes, decks)
    result = cli("build", notes, "-o", decks)
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == lines
    assert outputs(notes, decks) == before
    assert not any(p.name.endswith(".tmp") for p in (*decks.iterdir(), *notes.iterdir()))


def note(notes: Path, name: str, text: str | bytes) -> Path:
    path = notes / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


BODY = "\n## Situation\nA thing broke.\n\n## Result\n- Fixed in 2 hours.\n"
DONE = "Error: 1 error in the notes; nothing was written."


def test_invalid_yaml(project: tuple[Path, Path], cli: Callable[..., Result]) -> None:
    notes, decks = project
    bad = note(notes, "bad.md", "---\nid: bad\ntitle: **Bold** title: here\n---" + BODY)
    failed_build(
        cli,
        notes,
        decks,
        [
            f"{bad}:3:8: error: invalid YAML in front matter: did not find expected "
            "alphabetic or numeric character [front-matter]",
            """  hint: put the value of 'title' in quotes: title: "**Bold** title: here\"""",
            DONE,
        ],
    )


def test_unknown_key(project: tuple[Path, Path], cli: Callable[..., Result]) -> None:
    notes, decks = project
    bad = note(notes, "bad.md", "---\nid: bad\ntitel: Typo\n---" + BODY)
    failed_build(
        cli,
        notes,
        decks,
        [
            f"{bad}:3:1: error: unknown front-matter key 'titel' [front-matter]",
            "  hint: did you mean 'title'?",
            DONE,
        ],
    )


def test_wrong_type(project: tuple[Path, Path], cli: Callable[..., Result]) -> None:
    notes, decks = project
    bad = note(notes, "bad.md", "---\nid: bad\nlevel: [L4, L5]\n---" + BODY)
    failed_build(
        cli,
        notes,
        decks,
        [
            f"{bad}:3:8: error: 'level' must be a single value, not a list [front-matter]",
            "  hint: e.g. `level: some text`",
            DONE,
        ],
    )


def test_duplicate_story_ids_across_files(
    project: tuple[Path, Path], cli: Callable[..., Result]
) -> None:
    notes, decks = project
    (notes / "team").mkdir()
    copy = note(notes / "team", "copy.md", "---\nid: queue-outage\n---" + BODY)
    failed_build(
        cli,
        notes,
        decks,
        [
            f"{copy}:4:1: error: story id 'queue-outage' is already used by "
            f"{notes / 'queue-outage.md'}:10 [duplicate-id]",
            "  hint: give one of them another `id:` in its front matter; ids are never reused",
            DONE,
        ],
    )


def test_non_utf8_bytes(project: tuple[Path, Path], cli: Callable[..., Result]) -> None:
    notes, decks = project
    bad = note(
        notes, "latin1.md", b"## Situation\nCaf\xe9 on fire.\n\n## Result\n- Out in 1 hour.\n"
    )
    failed_build(
        cli,
        notes,
        decks,
        [
            f"{bad}:2:4: error: not valid UTF-8 (byte 0xe9) [bad-input]",
            "  hint: save the file as UTF-8",
            DONE,
        ],
    )


def test_a_ten_megabyte_file(project: tuple[Path, Path], cli: Callable[..., Result]) -> None:
    notes, decks = project
    big = note(notes, "big.md", "## Situation\n" + "word " * 2_100_000)
    size = big.stat().st_size / 1_000_000
    failed_build(
        cli,
        notes,
        decks,
        [
            f"{big}:1:1: error: note is too large ({size:.1f} MB; the limit is 1 MB) [bad-input]",
            "  hint: split it into several notes",
            DONE,
        ],
    )


def test_symlink_loops(project: tuple[Path, Path], cli: Callable[..., Result]) -> None:
    notes, decks = project
    (notes / "again").symlink_to(notes, target_is_directory=True)
    failed_build(
        cli,
        notes,
        decks,
        [
            f"{notes / 'again'}: error: symbolic link loop: this directory is already part of "
            "the notes [symlink-loop]",
            "  hint: remove the link or point it outside the notes directory",
            DONE,
        ],
    )
    (notes / "again").unlink()
    (notes / "self.md").symlink_to(notes / "self.md")
    failed_build(
        cli,
        notes,
        decks,
        [
            f"{notes / 'self.md'}: error: symbolic link loop [symlink-loop]",
            "  hint: remove the link or point it at a real file",
            DONE,
        ],
    )


def test_unreadable_file(
    project: tuple[Path, Path], cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    notes, decks = project
    secret = note(notes, "secret.md", "## Situation\nx\n## Result\n- y in 2 days\n")
    secret.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the read fail the way it would
        real_open = Path.open

        def refuse(self: Path, *args: object, **kwargs: object) -> object:
            if self.name == "secret.md":
                raise PermissionError(13, "Permission denied", str(self))
            return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

        monkeypatch.setattr(Path, "open", refuse)
    failed_build(
        cli,
        notes,
        decks,
        [
            f"{secret}: error: cannot read: Permission denied [unreadable]",
            "  hint: check that the file exists and that you may read it",
            DONE,
        ],
    )
    secret.chmod(0o644)


def test_missing_notes_directory(tmp_path: Path, cli: Callable[..., Result]) -> None:
    result = cli("build", tmp_path / "missing", "-o", tmp_path / "decks")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {tmp_path / 'missing'}: notes directory does not exist "
        "(create it, or name the directory that holds your notes)\n"
    )
    assert not (tmp_path / "decks").exists()


@pytest.mark.usefixtures("fixed_time")
def test_bom_crlf_and_empty_files_are_read_not_refused(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    """A byte-order mark and Windows line endings are part of real notes: read them as is."""
    plain, windows = tmp_path / "plain", tmp_path / "windows"
    plain.mkdir()
    windows.mkdir()
    story = outage()
    story.write(plain)
    text = story.text()
    (windows / "queue-outage.md").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    (windows / "empty.md").write_bytes(b"")
    one = json.loads(cli("dump", plain, "--json").stdout)
    two = json.loads(cli("dump", windows, "--json").stdout)
    for card in (*one["cards"], *two["cards"]):
        card.pop("source"), card["fields"].pop("Source")
    assert two["cards"] == one["cards"]
    assert [d["code"] for d in two["diagnostics"]] == ["empty-note"]
    assert cli("build", windows, "-o", tmp_path / "decks").exit_code == 0


def _apkg_fields(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        data = archive.read("collection.anki2")
    db = path.with_suffix(".anki2")
    db.write_bytes(data)
    with sqlite3.connect(db) as connection:
        rows = [r[0] for r in connection.execute("SELECT flds FROM notes")]
    db.unlink()
    return rows


def test_no_script_from_a_note_reaches_a_card(tmp_path: Path, cli: Callable[..., Result]) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    story = outage()
    story.title = f"Outage {evil}"
    story.questions = [f"Why {evil}?"]
    story.situation = f"It broke {evil} for 30% of users."
    story.task = f"Fix {evil}."
    story.steps = [f"**Step {evil}** — detail {evil}", "Plain step <iframe src=//x></iframe>"]
    story.results = [f"Recovered in 40 minutes {evil}."]
    story.lessons = [f"Lesson {evil}"]
    story.followups = [(f"What {evil}?", f"Answer {evil} [link](javascript:alert(1))")]
    story.write(notes)
    (notes / "html.md").write_text(
        "## Situation\n<script>steal()</script>\n\n<div onclick=x>div</div>\n\n"
        "## Result\n- <b onmouseover=x>bold</b> in 2 days\n",
        encoding="utf-8",
    )
    assert cli("build", notes, "-o", tmp_path / "decks").exit_code == 0
    fields = _apkg_fields(tmp_path / "decks" / "storydeck-all.apkg")
    assert len(fields) > 5
    for text in fields:
        elements = _elements(text)
        assert {tag for tag, _ in elements} <= {
            "div",
            "span",
            "p",
            "strong",
            "em",
            "ul",
            "li",
            "ol",
            "code",
            "a",
            "br",
        }, text
        for _, attributes in elements:
            for name, value in attributes:
                assert not name.startswith("on"), text
                assert not (value or "").strip().lower().startswith("javascript:"), text
    assert any("&lt;script&gt;" in text for text in fields)


def _elements(text: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every element a browser would create from `text`: tag and attributes."""
    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, attrs))

    Collect().feed(text)
    return found


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            '{\n "version": 1,\n "cards": {\n',
            4,
            "lockfile is not valid JSON: Expecting property name",
        ),
        ('{"version": 1, "cards": {"a": 1}}\n', 1, "a card entry must be an object"),
        ('{"version": 7, "cards": {}}\n', 1, "lockfile version is not 1"),
    ],
    ids=["invalid-json", "mistyped-entry", "other-version"],
)
def test_a_corrupt_lockfile_is_an_error(
    project: tuple[Path, Path], cli: Callable[..., Result], text: str, line: int, message: str
) -> None:
    notes, decks = project
    (notes / "storydeck.lock").write_text(text, encoding="utf-8")
    before = outputs(notes, decks)
    result = cli("build", notes, "-o", decks)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {notes / 'storydeck.lock'}:{line}:")
    assert message in result.stderr
    assert outputs(notes, decks) == before


def test_duplicate_guids_in_the_lockfile_are_an_error(
    project: tuple[Path, Path], cli: Callable[..., Result]
) -> None:
    notes, decks = project
    lock = notes / "storydeck.lock"
    lines = lock.read_text(encoding="utf-8").splitlines()
    first_card = next(i for i, line in enumerate(lines) if line.startswith('  "') and i > 5)
    lines.insert(first_card, lines[first_card].rstrip(",") + ",")
    lock.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = cli("build", notes, "-o", decks)
    assert result.exit_code == 1
    guid = json.loads("{" + lines[first_card].rstrip(",") + "}").popitem()[0]
    assert result.stderr.startswith(
        f"Error: {lock}:{first_card + 2}:1: lockfile lists {guid!r} twice ("
    )


def test_lock_entries_of_unknown_stories_become_removed_cards(
    project: tuple[Path, Path], cli: Callable[..., Result]
) -> None:
    """A story deleted from the notes (or a hand-made entry) is reported, never churned."""
    notes, decks = project
    refactor().write(notes)
    cli("build", notes, "-o", decks)
    before = json.loads(cli("dump", notes, "--json").stdout)
    (notes / "billing-refactor.md").unlink()
    summary = json.loads(cli("build", notes, "-o", decks, "--json").stdout)
    after = json.loads(cli("dump", notes, "--json").stdout)
    gone = {c["guid"] for c in before["cards"] if c["story"] == "billing-refactor"}
    assert summary["newly_removed"] == len(gone) > 0
    kept = [c["guid"] for c in after["cards"]]
    assert kept == [c["guid"] for c in before["cards"] if c["guid"] not in gone]

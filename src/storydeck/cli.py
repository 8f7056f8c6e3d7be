"""The command line: a thin click layer over the library. The only module that prints."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from storydeck import __version__
from storydeck.errors import InputErrors, NotesError, StorydeckError
from storydeck.model import Diagnostic, Location, Severity

EXAMPLES = {
    "build": "storydeck build source_notes -o decks",
    "dump": "storydeck dump source_notes/production-incidents --json",
    "forget-removed": "storydeck forget-removed source_notes",
    "forget-moved": "storydeck forget-moved source_notes",
}


def _epilog(name: str) -> str:
    return f"Example:\n\n    {EXAMPLES[name]}"


def _fail(error: StorydeckError) -> NoReturn:
    """Report a library error the one way the CLI does, and exit 1."""
    if isinstance(error, InputErrors):
        _print_diagnostics(error.diagnostics, warnings=True)
        count = sum(1 for d in error.diagnostics if d.severity is Severity.ERROR)
        click.echo(
            f"Error: {count} error{'s' if count != 1 else ''} in the notes; nothing was written.",
            err=True,
        )
    else:
        click.echo(f"Error: {error}", err=True)
    sys.exit(1)


def _print_diagnostics(diagnostics: Sequence[Diagnostic], *, warnings: bool) -> None:
    for diagnostic in diagnostics:
        if diagnostic.severity is Severity.WARNING and not warnings:
            continue
        label = "error" if diagnostic.severity is Severity.ERROR else "warning"
        click.echo(f"{diagnostic}: {label} [{diagnostic.code}]", err=True)


def _require_dir(path: Path) -> None:
    if not path.is_dir():
        reason = "is not a directory" if path.exists() else "notes directory does not exist"
        raise NotesError(
            reason, Location(str(path)), "create it, or name the directory that holds your notes"
        )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="storydeck")
def main() -> None:
    """Turn behavioral-interview story notes into Anki decks that survive editing.

    Keep your stories as markdown notes, run `storydeck build`, import the
    decks into Anki; edit a note, build and import again: edited cards update
    in place and no review history is lost.
    """


NOTES_DIR = click.argument(
    "notes_dir", default="source_notes", type=click.Path(path_type=Path), required=False
)


@main.command(epilog=_epilog("build"))
@NOTES_DIR
@click.option(
    "-o",
    "--out",
    "out_dir",
    default="decks",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory the .apkg files are written to.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("--json", "as_json", is_flag=True, help="Print the build summary as JSON.")
def build(notes_dir: Path, out_dir: Path, quiet: bool, as_json: bool) -> None:
    """Build the notes in NOTES_DIR into Anki decks (default: source_notes)."""
    from storydeck.build import build as run_build
    from storydeck.build import open_project

    try:
        _require_dir(notes_dir)
        project = open_project([notes_dir])
        report = run_build(project, out_dir)
    except StorydeckError as error:
        _fail(error)
    identified = report.analysis.identified
    summary: dict[str, Any] = {
        "stories": len(report.analysis.notes.stories),
        "notes": len(report.analysis.notes.files),
        "cards": dict(sorted(report.kinds.items())),
        "new": identified.new,
        "updated": identified.updated,
        "unchanged": identified.unchanged,
        "removed": len(identified.removed),
        "newly_removed": identified.newly_removed,
        "moved": [
            {
                "story": m.anchor,
                "from": m.old_deck,
                "to": m.new_deck,
                "cards": m.count,
                "search": m.search,
            }
            for m in identified.moved
        ],
        "files": [
            {"path": str(path), "notes": count, "written": written}
            for path, count, written in report.files
        ],
        "warnings": sum(1 for d in report.diagnostics if d.severity is Severity.WARNING),
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    if quiet:
        return
    _print_diagnostics(report.diagnostics, warnings=True)
    total = sum(report.kinds.values())
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(report.kinds.items()))
    click.echo(
        f"Read {_plural(summary['stories'], 'story').replace('storys', 'stories')} "
        f"from {_plural(summary['notes'], 'note')}."
    )
    click.echo(f"Cards: {total} ({kinds}).")
    click.echo(
        f"Since the last build: {identified.new} new, {identified.updated} updated, "
        f"{identified.unchanged} unchanged, {identified.newly_removed} removed."
    )
    if identified.removed:
        click.echo(
            f"{_plural(len(identified.removed), 'removed card')} kept in the decks, tagged "
            "storydeck::removed: search `tag:storydeck::removed` in Anki to delete them, "
            "then run `storydeck forget-removed`."
        )
    for moved in identified.moved:
        click.echo(
            f"Moved: {_plural(moved.count, 'card')} of {moved.anchor} now belong in "
            f"{moved.new_deck!r}; Anki keeps them in {moved.old_deck!r}. In the Browser, "
            f"search {moved.search} and use Change Deck, then run `storydeck forget-moved`."
        )
    written = [f for f in report.files if f[2]]
    for path, count, _ in written:
        click.echo(f"Wrote {path} ({_plural(count, 'note')}).")
    if not written:
        click.echo(f"Decks in {out_dir} are up to date.")


@main.command(epilog=_epilog("dump"))
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--json", "as_json", is_flag=True, help="Print the stories, cards and diagnostics as JSON."
)
def dump(paths: tuple[Path, ...], as_json: bool) -> None:
    """Show what storydeck recognised in PATHS: stories, cards and problems."""
    from storydeck.build import analyse, open_project
    from storydeck.dump import dump as dump_data
    from storydeck.notes import read_notes

    try:
        project = open_project(list(paths))
        try:
            analysis = analyse(project)
            stories, cards = analysis.notes.stories, analysis.identified.cards
            diagnostics = analysis.notes.diagnostics
        except InputErrors:
            notes = read_notes(list(paths), project.config)
            stories, cards, diagnostics = notes.stories, (), notes.diagnostics
    except StorydeckError as error:
        _fail(error)
    failed = any(d.severity is Severity.ERROR for d in diagnostics)
    if as_json:
        click.echo(json.dumps(dump_data(stories, cards, diagnostics), indent=2, ensure_ascii=False))
    else:
        for story in stories:
            click.echo(f"{story.source.at_line()}: {story.id}")
            click.echo(f"  {story.title}")
            themes = ", ".join(story.themes) or "no theme"
            click.echo(f"  level {story.level or 'unknown'}; {themes}")
            click.echo(
                f"  {_plural(len(story.actions), 'step')}, "
                f"{_plural(len(story.results), 'result')}, "
                f"{_plural(len(story.lessons), 'lesson')}, "
                f"{_plural(len(story.followups), 'follow-up')}"
            )
        click.echo(
            f"{_plural(len(stories), 'story').replace('storys', 'stories')}, "
            f"{_plural(len(cards), 'card')}."
        )
        _print_diagnostics(diagnostics, warnings=True)
    if failed:
        sys.exit(1)


def _rewrite_lock(notes_dir: Path, what: str) -> None:
    from storydeck.build import analyse, open_project
    from storydeck.identity import forget_moved, forget_removed, read_lock
    from storydeck.package import write_atomic

    try:
        _require_dir(notes_dir)
        project = open_project([notes_dir])
        path = project.lock_path
        if path is None or not path.exists():
            click.echo(f"No lockfile in {notes_dir}: nothing to forget.")
            return
        lock = read_lock(path)
        if what == "removed":
            new_lock, count = forget_removed(lock)
        else:
            analysis = analyse(project)
            decks = {card.guid: card.deck for card in analysis.identified.cards}
            new_lock, count = forget_moved(lock, decks)
        write_atomic(path, new_lock.to_text().encode("utf-8"))
    except StorydeckError as error:
        _fail(error)
    click.echo(f"Forgot {_plural(count, f'{what} card')} in {path}.")


@main.command("forget-removed", epilog=_epilog("forget-removed"))
@NOTES_DIR
def forget_removed_command(notes_dir: Path) -> None:
    """Stop carrying cards removed from the notes (after deleting them in Anki)."""
    _rewrite_lock(notes_dir, "removed")


@main.command("forget-moved", epilog=_epilog("forget-moved"))
@NOTES_DIR
def forget_moved_command(notes_dir: Path) -> None:
    """Stop reporting cards whose deck changed (after moving them in Anki)."""
    _rewrite_lock(notes_dir, "moved")

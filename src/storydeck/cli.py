"""The command line: a thin click layer over the library. The only module that prints.

Each command validates its arguments, makes one library call and reports; library
errors are caught in one place (`_fail`) and exit 1. Usage errors exit 2 (click).
Heavy modules are imported inside the commands so `storydeck --help` starts fast.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from storydeck.errors import InputErrors, NotesError, StorydeckError
from storydeck.model import Diagnostic, Location, Severity

#: One example per command, shown at the end of its --help (and checked by the tests).
EXAMPLES = {
    "build": "storydeck build source_notes -o decks",
    "lint": "storydeck lint source_notes",
    "stats": "storydeck stats source_notes",
    "new": 'storydeck new "Payment outage" --level L5 --theme production-incidents',
    "preview": "storydeck preview source_notes -o decks/preview.html",
    "dump": "storydeck dump source_notes/production-incidents --json",
    "config": "storydeck config source_notes",
    "forget-removed": "storydeck forget-removed source_notes",
    "forget-moved": "storydeck forget-moved source_notes",
}

#: Above this many note files, `build` shows a progress bar on a terminal.
PROGRESS_FILES = 200

F = TypeVar("F", bound=Callable[..., Any])


def _epilog(name: str) -> str:
    return f"\b\nExample:\n  {EXAMPLES[name]}"


def _color() -> bool | None:
    """No colour when NO_COLOR is set; otherwise click decides (only on a terminal)."""
    return False if os.environ.get("NO_COLOR") else None


def _echo(text: str = "", *, err: bool = False) -> None:
    click.echo(text, err=err, color=_color())


def _style(text: str, color: str, *, bold: bool = False) -> str:
    return click.style(text, fg=color, bold=bold)


def _fail(error: StorydeckError) -> NoReturn:
    """Report a library error the one way the CLI does, and exit 1."""
    if isinstance(error, InputErrors):
        _print_diagnostics(error.diagnostics)
        count = sum(1 for d in error.diagnostics if d.severity is Severity.ERROR)
        _echo(
            f"{_style('Error:', 'red', bold=True)} {_plural(count, 'error')} in the notes; "
            "nothing was written.",
            err=True,
        )
    else:
        _echo(f"{_style('Error:', 'red', bold=True)} {error}", err=True)
    sys.exit(1)


def _print_diagnostics(diagnostics: Sequence[Diagnostic], *, err: bool = True) -> None:
    for d in diagnostics:
        label = (
            _style("error", "red") if d.severity is Severity.ERROR else _style("warning", "yellow")
        )
        _echo(f"{d.location}: {label}: {d.message} [{d.code}]", err=err)
        if d.hint:
            _echo(f"  hint: {d.hint}", err=err)


def _plural(count: int, word: str) -> str:
    if count == 1:
        return f"1 {word}"
    plural = word[:-1] + "ies" if word.endswith("y") and word[-2] not in "aeiou" else word + "s"
    return f"{count} {plural}"


def _require_dir(path: Path) -> None:
    if not path.is_dir():
        reason = "is not a directory" if path.exists() else "notes directory does not exist"
        raise NotesError(
            reason, Location(str(path)), "create it, or name the directory that holds your notes"
        )


def _stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


class _Bar:
    """A progress bar on stderr for large banks, shown only on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None

    def start(self, total: int) -> None:
        if self.enabled and total > PROGRESS_FILES and _stderr_is_terminal():
            self.bar = click.progressbar(length=total, label="Reading notes", file=sys.stderr)
            self.bar.__enter__()

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@contextmanager
def _library_errors() -> Iterator[None]:
    try:
        yield
    except StorydeckError as error:
        _fail(error)


# --- the group ----------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(None, "-V", "--version", package_name="storydeck", prog_name="storydeck")
def main() -> None:
    """Turn behavioral-interview story notes into Anki decks that survive editing.

    Keep your stories as markdown notes, run `storydeck build`, import the decks
    into Anki; edit a note, build and import again: edited cards update in place
    and no review history is lost.
    """


def notes_dir_argument(func: F) -> F:
    return click.argument(
        "notes_dir", default="source_notes", required=False, type=click.Path(path_type=Path)
    )(func)


# --- build --------------------------------------------------------------------------------


@main.command(epilog=_epilog("build"))
@notes_dir_argument
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
    """Build the notes in NOTES_DIR (default: source_notes) into Anki decks."""
    from storydeck.build import build as run_build
    from storydeck.build import open_project

    bar = _Bar(enabled=not (quiet or as_json))
    with _library_errors():
        _require_dir(notes_dir)
        try:
            report = run_build(open_project([notes_dir]), out_dir, progress=bar)
        finally:
            bar.close()
    identified = report.analysis.identified
    warnings = [d for d in report.diagnostics if d.severity is Severity.WARNING]
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
                "story": m.story,
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
        "lock": str(report.analysis.project.lock_path),
        "warnings": len(warnings),
    }
    if as_json:
        _echo(json.dumps(summary, indent=2))
        return
    if quiet:
        return
    _print_diagnostics(warnings)
    total = sum(report.kinds.values())
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(report.kinds.items()))
    _echo(f"Read {_plural(summary['stories'], 'story')} from {_plural(summary['notes'], 'note')}.")
    _echo(f"Cards: {total} ({kinds}).")
    _echo(
        f"Since the last build: {identified.new} new, {identified.updated} updated, "
        f"{identified.unchanged} unchanged, {identified.newly_removed} removed."
    )
    if identified.removed:
        _echo(
            f"{_plural(len(identified.removed), 'removed card')} kept in the decks, tagged "
            "storydeck::removed: search `tag:storydeck::removed` in Anki to delete them, "
            "then run `storydeck forget-removed`."
        )
    for moved in identified.moved:
        _echo(
            f"Moved: {_plural(moved.count, 'card')} of {moved.story or 'the prompt cards'} "
            f"now belong in {moved.new_deck!r}; Anki keeps them in {moved.old_deck!r}. In the "
            f"Browser, search {moved.search} and use Change Deck, then run "
            "`storydeck forget-moved`."
        )
    written = [f for f in report.files if f[2]]
    for path, count, _ in written:
        _echo(f"Wrote {path} ({_plural(count, 'note')}).")
    if not written:
        _echo(f"Decks in {out_dir} are up to date.")


# --- lint ---------------------------------------------------------------------------------


@main.command(epilog=_epilog("lint"))
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--rules", "list_rules", is_flag=True, help="List the rules and exit.")
def lint(paths: tuple[Path, ...], list_rules: bool) -> None:
    """Check stories the way an interviewer would listen to them.

    PATHS are notes directories or files (default: source_notes). Exits 1 when
    there are errors, 0 when there are only warnings. Rules are turned off with
    `lint.disable` in storydeck.yaml and made errors with `lint.error`.
    """
    from storydeck.build import open_project
    from storydeck.lint import RULES
    from storydeck.lint import lint as run_lint
    from storydeck.notes import read_notes

    if list_rules:
        for code, text in RULES.items():
            _echo(f"{code:22} {text}")
        return
    targets = list(paths) or [Path("source_notes")]
    with _library_errors():
        project = open_project(targets)
        notes = read_notes(targets, project.config)
        findings = (*notes.diagnostics, *run_lint(notes.stories, project.config))
    _print_diagnostics(findings, err=False)
    errors = sum(1 for d in findings if d.severity is Severity.ERROR)
    warnings = len(findings) - errors
    _echo(
        f"{_plural(len(notes.stories), 'story')} checked: "
        f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}."
    )
    if errors:
        sys.exit(1)


# --- stats --------------------------------------------------------------------------------


@main.command(epilog=_epilog("stats"))
@notes_dir_argument
@click.option("--json", "as_json", is_flag=True, help="Print the matrix as JSON.")
def stats(notes_dir: Path, as_json: bool) -> None:
    """Show stories and cards per theme and level, and the gaps still to prepare."""
    from storydeck.build import open_project
    from storydeck.cards import build_cards
    from storydeck.notes import read_notes
    from storydeck.stats import coverage

    with _library_errors():
        _require_dir(notes_dir)
        project = open_project([notes_dir])
        notes = read_notes([notes_dir], project.config)
        if notes.errors:
            raise InputErrors(notes.diagnostics)
        cards = build_cards(
            notes.stories, project.config, made=notes.story_cards, answers=notes.story_answers
        )
    matrix = coverage(notes.stories, cards, project.config)
    if as_json:
        data = {
            "levels": list(matrix.levels),
            "themes": list(matrix.themes),
            "cells": [
                {
                    "level": level,
                    "theme": theme,
                    "stories": matrix.stories.get((level, theme), 0),
                    "cards": matrix.cards.get((level, theme), 0),
                }
                for theme in matrix.themes
                for level in matrix.levels
            ],
            "empty": len(matrix.empty),
        }
        _echo(json.dumps(data, indent=2))
        return
    config = project.config
    names = {t: config.theme_title(t) for t in matrix.themes}
    width = max(len(n) for n in names.values())
    cell = max(9, *(len(level) + 1 for level in matrix.levels))
    _echo("Stories (cards) per theme and level; '-' is a gap to prepare.")
    _echo("")
    _echo(f"{'':{width}}" + "".join(f"{level:>{cell}}" for level in matrix.levels))
    for theme in matrix.themes:
        row = ""
        for level in matrix.levels:
            count = matrix.stories.get((level, theme), 0)
            text = f"{count} ({matrix.cards.get((level, theme), 0)})" if count else "-"
            row += f"{text:>{cell}}"
        _echo(f"{names[theme]:{width}}{row}")
    total = len(matrix.levels) * len(matrix.themes)
    _echo("")
    _echo(
        f"{_plural(len(notes.stories), 'story')}, {_plural(len(cards), 'card')}; "
        f"{len(matrix.empty)} of {total} cells empty."
    )


# --- new ----------------------------------------------------------------------------------


@main.command(epilog=_epilog("new"))
@click.argument("title")
@click.option("--level", "-l", required=True, help="Level id or alias (L5, IC5, Senior...).")
@click.option("--theme", "-t", default=None, help="Theme id (production-incidents...).")
@click.option(
    "--dir",
    "notes_dir",
    default="source_notes",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Notes directory to write into.",
)
def new(title: str, level: str, theme: str | None, notes_dir: Path) -> None:
    """Write a note skeleton for a new story (never overwrites a file)."""
    from storydeck.config import load_config
    from storydeck.skeleton import new_note

    with _library_errors():
        config = load_config(notes_dir if notes_dir.is_dir() else None)
        path = new_note(notes_dir, title, level, theme, config)
    _echo(f"Wrote {path}: fill in each section, then run `storydeck build`.")


# --- preview ------------------------------------------------------------------------------


@main.command(epilog=_epilog("preview"))
@notes_dir_argument
@click.option(
    "-o",
    "--out",
    "out_file",
    default="decks/preview.html",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The HTML file to write.",
)
@click.option("--dark", is_flag=True, help="Show the cards in night mode.")
def preview(notes_dir: Path, out_file: Path, dark: bool) -> None:
    """Write one HTML page showing every card, front and back, grouped by deck."""
    from storydeck.build import analyse, open_project
    from storydeck.package import write_atomic
    from storydeck.preview import preview_page

    with _library_errors():
        _require_dir(notes_dir)
        analysis = analyse(open_project([notes_dir]))
        page = preview_page(
            analysis.identified.cards, dark=dark, title=f"storydeck preview: {notes_dir}"
        )
        write_atomic(out_file, page.encode("utf-8"))
    _echo(f"Wrote {out_file} ({_plural(len(analysis.identified.cards), 'note')}).")


# --- dump ---------------------------------------------------------------------------------


@main.command(epilog=_epilog("dump"))
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--json", "as_json", is_flag=True, help="Print the stories, cards and diagnostics as JSON."
)
def dump(paths: tuple[Path, ...], as_json: bool) -> None:
    """Show what storydeck recognised in PATHS: stories, cards and problems.

    Reads the lockfile to show each card's guid but never writes anything.
    """
    from storydeck.build import analyse, open_project
    from storydeck.dump import dump as dump_data
    from storydeck.notes import read_notes

    with _library_errors():
        project = open_project(list(paths))
        try:
            analysis = analyse(project)
            stories, cards = analysis.notes.stories, analysis.identified.cards
            diagnostics = analysis.notes.diagnostics
        except InputErrors:
            notes = read_notes(list(paths), project.config)
            stories, cards, diagnostics = notes.stories, (), notes.diagnostics
    failed = any(d.severity is Severity.ERROR for d in diagnostics)
    if as_json:
        _echo(json.dumps(dump_data(stories, cards, diagnostics), indent=2, ensure_ascii=False))
        if failed:
            _print_diagnostics([d for d in diagnostics if d.severity is Severity.ERROR])
    else:
        for story in stories:
            _echo(f"{story.source.at_line()}: {story.id}")
            _echo(f"  {story.title}")
            themes = ", ".join(story.themes) or "no theme"
            _echo(f"  level {story.level or 'unknown'}; {themes}")
            _echo(
                f"  {_plural(len(story.actions), 'step')}, "
                f"{_plural(len(story.results), 'result')}, "
                f"{_plural(len(story.lessons), 'lesson')}, "
                f"{_plural(len(story.followups), 'follow-up')}"
            )
        _echo(f"{_plural(len(stories), 'story')}, {_plural(len(cards), 'card')}.")
        _print_diagnostics(diagnostics)
    if failed:
        sys.exit(1)


# --- config -------------------------------------------------------------------------------


@main.command("config", epilog=_epilog("config"))
@notes_dir_argument
def config_command(notes_dir: Path) -> None:
    """Print the configuration in effect: storydeck.yaml over the built-in defaults."""
    import yaml

    from storydeck.config import config_data, load_config

    with _library_errors():
        config = load_config(notes_dir if notes_dir.is_dir() else None)
    _echo(f"# storydeck configuration ({config.source})")
    data = config_data(config)
    _echo(
        yaml.safe_dump(
            data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100
        ).rstrip()
    )


# --- lockfile maintenance -----------------------------------------------------------------


def _rewrite_lock(notes_dir: Path, what: str) -> None:
    from storydeck.build import analyse, open_project
    from storydeck.identity import forget_moved, forget_removed, read_lock
    from storydeck.package import write_atomic

    with _library_errors():
        _require_dir(notes_dir)
        project = open_project([notes_dir])
        path = project.lock_path
        if path is None or not path.exists():
            _echo(f"No lockfile in {notes_dir}: nothing to forget.")
            return
        lock = read_lock(path)
        if what == "removed":
            new_lock, count = forget_removed(lock)
        else:
            analysis = analyse(project)
            decks = {card.guid: card.deck for card in analysis.identified.cards}
            new_lock, count = forget_moved(lock, decks)
        write_atomic(path, new_lock.to_text().encode("utf-8"))
    _echo(f"Forgot {_plural(count, f'{what} card')} in {path}.")


@main.command("forget-removed", epilog=_epilog("forget-removed"))
@notes_dir_argument
def forget_removed_command(notes_dir: Path) -> None:
    """Stop carrying cards removed from the notes (after deleting them in Anki)."""
    _rewrite_lock(notes_dir, "removed")


@main.command("forget-moved", epilog=_epilog("forget-moved"))
@notes_dir_argument
def forget_moved_command(notes_dir: Path) -> None:
    """Stop reporting cards whose deck changed (after moving them in Anki)."""
    _rewrite_lock(notes_dir, "moved")


def run() -> NoReturn:
    """The `storydeck` command: `main`, then an exit that does not tear the interpreter
    down. A large bank's build leaves hundreds of thousands of objects behind, and
    freeing them one by one only delays the exit (by about a tenth of a second).
    Everything a command writes is closed before `main` returns.

    The cyclic garbage collector stays off for the whole command: a build makes next
    to no reference cycles, and the objects a build leaves would otherwise be walked
    once more after it (a build turns collection off only while it runs: see
    build.py).
    """
    gc.disable()
    try:
        main()
        status = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            status = exc.code or 0
        else:
            sys.stderr.write(f"{exc.code}\n")
            status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            status = status or 1
    os._exit(status)

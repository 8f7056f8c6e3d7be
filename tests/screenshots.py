"""Write the README's card screenshots: one card of each kind, light and dark, on a phone.

Run from the repository root (``make screenshots``)::

    python -m tests.screenshots [--out docs/screenshots]

Builds the shipped bank (a copy of ``source_notes/``, so its lockfile is left alone) with
the storydeck CLI at a fixed SOURCE_DATE_EPOCH, imports the all-in-one deck into a new
collection with the ``anki`` package, picks one representative card per kind, and loads
each card's answer side (which shows the front above the answer) in headless Chromium
at 390x844, wrapped as Anki's reviewer wraps it, light and dark, through the same
harness the rendering tests use.  Writes ``<kind>-light.png`` and ``<kind>-dark.png``
(780x1688: 390x844 CSS px at 2 device pixels per px), and prints each path.  A card
that breaks a rendering rule (overflow, text under 16 px, contrast under 4.5:1, a hidden
cloze, a script or a network request) stops the run with exit status 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import anki.collection  # noqa: F401  (imports anki in the order its modules expect)
from anki.cards import CardId
from tests.ankitools import card_html, collection, import_apkg
from tests.browser import PHONE, Viewport, browser_session

REPO = Path(__file__).resolve().parents[1]
NOTES = REPO / "source_notes"
OUT = REPO / "docs" / "screenshots"
#: Build clock, so the decks (and so the screenshots) do not depend on the day.
EPOCH = 1_760_000_000
#: The harness's phone (390x844 CSS px) at 2 device pixels per px: 780x1688 PNGs, sharp
#: in a README at phone width without weighing down the repository.
SCREEN = Viewport(PHONE.width, PHONE.height, 2.0)


@dataclass(frozen=True)
class Pick:
    """Which card shows a kind: the first card of that kind whose note is tagged with
    ``story::<story>`` and whose Front field contains ``front`` (``""``: any), taking the
    note's cloze/template number ``ord`` (0-based)."""

    kind: str
    story: str
    front: str = ""
    ord: int = 0


#: One story for every kind, so the screenshots read as one card deck.
PICKS = (
    Pick("prompt", "cascading-failure-incident-command", "critical production issue"),
    Pick("metric", "checkout-timeout-hotfix", "Black Friday"),
    Pick("action", "checkout-timeout-hotfix", "Step 3 of"),
    Pick("lesson", "checkout-timeout-hotfix", "Lesson 2 of"),
    Pick("followup", "checkout-timeout-hotfix", "differently"),
)


@dataclass(frozen=True)
class Shot:
    kind: str
    guid: str
    ord: int
    answer: str
    css: str


def build_bank(notes: Path, work: Path) -> Path:
    """Build a copy of ``notes`` with the storydeck CLI; return the all-in-one package."""
    shutil.copytree(notes, work / "source_notes")
    out = work / "decks"
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH)}
    # Run where the copy is, so cards cite `source_notes/...` as a user's build would.
    command = [sys.executable, "-m", "storydeck", "build", "source_notes", "-o", "decks", "-q"]
    subprocess.run(command, check=True, env=env, cwd=work)
    (package,) = out.glob("*-all.apkg")
    return package


def pick_cards(package: Path, work: Path) -> list[Shot]:
    """Import ``package`` into a new collection and render the card of every pick."""
    shots: list[Shot] = []
    with collection(work / "collection.anki2") as col:
        import_apkg(col, package)
        for pick in PICKS:
            query = f'"Kind:{pick.kind}" "tag:story::{pick.story}" card:{pick.ord + 1}'
            found = []
            for cid in col.find_cards(query):
                card = col.get_card(CardId(cid))
                note = card.note()
                if pick.front.casefold() in note["Front"].casefold():
                    found.append((note.guid, int(card.ord), int(cid)))
            if not found:
                msg = f"no {pick.kind} card matches {pick}: update PICKS in {__file__}"
                raise SystemExit(msg)
            guid, ord_, cid = min(found)
            rendered = card_html(col, cid)
            shots.append(Shot(pick.kind, guid, ord_, rendered.answer, rendered.css))
    return shots


def write_screenshots(out: Path, notes: Path = NOTES) -> list[Path]:
    """Write ``<kind>-light.png`` and ``<kind>-dark.png`` for every pick into ``out``."""
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="storydeck-screenshots-") as tmp:
        work = Path(tmp)
        shots = pick_cards(build_bank(notes, work), work)
        with browser_session() as browser:
            for shot in shots:
                for mode, dark in (("light", False), ("dark", True)):
                    report = browser.render_card(
                        shot.answer,
                        shot.css,
                        width=SCREEN.width,
                        height=SCREEN.height,
                        scale=SCREEN.scale,
                        dark=dark,
                        card_ord=shot.ord + 1,
                    )
                    if report.problems():
                        msg = f"{shot.kind} card {shot.guid} breaks the rules:\n{report.summary()}"
                        raise SystemExit(msg)
                    path = browser.screenshot(out / f"{shot.kind}-{mode}.png")
                    written.append(path)
                    shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
                    print(f"wrote {shown} ({shot.kind} card {shot.guid}, {mode})")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.screenshots", description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT, help="directory for the PNG files")
    args = parser.parse_args(argv)
    write_screenshots(args.out.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())

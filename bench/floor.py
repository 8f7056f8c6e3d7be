"""The genanki floor: the bank's notes, prepared in memory, written by genanki alone.

Run in a fresh process: `python -m bench.floor NOTES_JSONL OUT.apkg` (one note a
line: [guid, cloze, deck, fields, tags]). Loading the prepared notes is not timed;
building genanki's objects and `write_to_file` are.

`python -m bench.floor prepare PACKAGE.apkg NOTES_JSONL` writes that input from a
package storydeck built: the same notes, fields, tags, decks and note types.
Prints one JSON object: {"seconds": ..., "notes": ...}.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
import zipfile
from pathlib import Path


def prepare(package: Path, target: Path) -> int:
    """The notes of a built package as the floor's input, one JSON line per note."""
    with zipfile.ZipFile(package) as archive:
        data = archive.read("collection.anki2")
    db = sqlite3.connect(":memory:")
    db.deserialize(data)
    del data
    (decks_json, models_json) = db.execute("SELECT decks, models FROM col").fetchone()
    decks = {int(k): v["name"] for k, v in json.loads(decks_json).items()}
    models = {int(k): v["type"] == 1 for k, v in json.loads(models_json).items()}
    rows = db.execute(
        "SELECT n.guid, n.mid, c.did, n.flds, n.tags FROM notes n "
        "JOIN cards c ON c.nid = n.id AND c.ord = 0 ORDER BY n.id"
    )
    count = 0
    with target.open("w", encoding="utf-8") as out:
        for guid, mid, did, flds, tags in rows:
            note = [guid, models[mid], decks[did], flds.split("\x1f"), tags.split()]
            out.write(json.dumps(note) + "\n")
            count += 1
    db.close()
    return count


def main(argv: list[str]) -> int:
    if argv[0] == "prepare":
        print(json.dumps({"notes": prepare(Path(argv[1]), Path(argv[2]))}))
        return 0
    source, out = Path(argv[0]), Path(argv[1])
    import genanki

    from storydeck.package import deck_id, genanki_model
    from storydeck.templates import note_types

    with source.open(encoding="utf-8") as lines:
        notes = [json.loads(line) for line in lines]
    start = time.perf_counter()
    models = {}
    for note_type in note_types():
        models[note_type.cloze] = genanki_model(note_type)
    decks: dict[str, genanki.Deck] = {}
    for guid, cloze, deck_name, fields, tags in notes:
        deck = decks.get(deck_name)
        if deck is None:
            deck = decks[deck_name] = genanki.Deck(deck_id(deck_name), deck_name)
        deck.add_note(genanki.Note(model=models[cloze], fields=fields, tags=tags, guid=guid))
    genanki.Package(list(decks.values())).write_to_file(str(out), timestamp=1_760_000_000)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "notes": len(notes)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

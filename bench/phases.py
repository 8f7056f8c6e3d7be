"""Where a build's time and memory go: `python -m bench.phases NOTES_DIR OUT_DIR`.

Runs the stages of `storydeck build` one by one in this process (the same library
calls, in the same order) and prints, after each, its wall time and the process's
resident memory. Uses the parse cache like the CLI does ($STORYDECK_CACHE_DIR).
With `--json`, prints the same as one JSON object instead.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss_mb() -> float:
    statm = Path("/proc/self/statm").read_text(encoding="ascii")
    return int(statm.split()[1]) * _PAGE / 2**20


def main(argv: list[str]) -> int:
    as_json = "--json" in argv
    notes_dir, out_dir = (Path(a) for a in argv if a != "--json")
    started = last = time.perf_counter()
    rows: list[tuple[str, float, float]] = []

    def lap(name: str) -> None:
        nonlocal last
        now = time.perf_counter()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows.append((name, now - last, peak))
        if not as_json:
            print(
                f"{name:36} {now - last:7.3f} s  {_rss_mb():6.0f} MB (peak so far {peak:.0f} MB)",
                flush=True,
            )
        last = now

    from storydeck import build as build_module
    from storydeck.cache import LockSnapshot, ParseCache, cache_file
    from storydeck.cards import FIELDS, build_cards
    from storydeck.carry import CarryFile, outcomes
    from storydeck.identity import Lock, identify, lock_file_digest, read_lock
    from storydeck.notes import display_path, read_notes
    from storydeck.package import Staged, planned_packages, prepare_constants, stage_packages
    from storydeck.templates import note_type_fingerprints

    lap("imports")
    with build_module._no_collections():
        project = build_module.open_project([notes_dir])
        cache = ParseCache.for_notes(notes_dir, project.config, hollow=True)
        carry = CarryFile.for_notes(notes_dir, cache.key)
        store = cache_file(notes_dir, "rows", ".sqlite")
        constants = prepare_constants if store is None or not store.exists() else None
        lap("config + cache load")
        kept = carry.usable(lock_file_digest(project.lock_path) if project.lock_path else None)
        notes = read_notes(
            [notes_dir], project.config, cache=cache, carry=kept, hollow=True, meanwhile=constants
        )
        carried = build_module._carried(notes)
        lap(f"read + parse ({cache.misses} parsed, {len(carried.stories)} carried)")
        cache.save()
        cache.close()
        lap("save cache")
        cards = build_cards(
            notes.stories,
            project.config,
            root=display_path(notes_dir),
            made=notes.story_cards,
            answers=notes.story_answers,
        )
        lap(f"cards ({len(cards)})")
        snapshot = LockSnapshot.for_notes(notes_dir)
        lock = read_lock(project.lock_path, snapshot) if project.lock_path else None
        lap("read lock")
        identified = identify(
            cards,
            lock or Lock(),
            build_module.build_time(),
            FIELDS,
            note_type_fingerprints(),
            carried=carried,
        )
        lap("identify")
        notetype_mod = max((e.changed for e in identified.lock.notetypes.values()), default=0)
        lock_now, lock_path = identified.lock, project.lock_path
        assert lock_path is not None
        with (
            Staged() as staged,
            Staged() as staged_lock,
            planned_packages(identified, project.config, notetype_mod, out_dir, store) as packages,
        ):
            rendered = sum(1 for p in packages if p.write is not None)
            lap(f"plan {len(packages)} packages, fill the row store")
            outcomes_now = list(
                outcomes(
                    notes.sources,
                    notes.stories,
                    notes.story_answers,
                    identified.cards,
                    identified.mods,
                )
            )
            lap("work out the outcomes to carry over")

            def meanwhile() -> None:
                digest = build_module.stage_lockfile(staged_lock, lock_path, lock_now, snapshot)[1]
                if not carry.holds(digest, notes.sources):
                    carry.save(digest, outcomes_now)

            stage_packages(staged, out_dir, packages, meanwhile=meanwhile)
            lap(f"render {rendered} packages (skip {len(packages) - rendered}), lock, outcomes")
            staged.commit()
            staged_lock.commit()
        lap("commit packages and lock")
    total = time.perf_counter() - started
    if as_json:
        stages = [{"stage": n, "seconds": round(t, 4), "peak_mb": round(m)} for n, t, m in rows]
        print(json.dumps({"stages": stages, "total_s": round(total, 4)}))
    else:
        print(f"{'total':36} {total:7.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

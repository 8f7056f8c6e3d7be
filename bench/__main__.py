"""`make bench` (`python -m bench`): time storydeck against the genanki floor.

In one run, on seeded synthetic banks of canonical notes (about 20 cards per
story), each measurement in a fresh process of its own:

(a) `storydeck build` on 100, 1,000 and 10,000 stories, cold: no lockfile, no
    decks, no parse cache (the notes themselves are in the OS page cache);
(b) `storydeck build` again after editing one story of the 1,000-story bank;
(c) the genanki floor: the same notes (read back from the built package)
    written by genanki alone from memory (`bench/floor.py`);
(d) `storydeck --help` start-up.

Builds and floor runs take turns, so that each build's time is compared with a
floor measured next to it. Prints wall time and peak memory of each, the ratio of
(a) and (b) to (c), and writes every figure to bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.synth import edit_story, write_bank

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = REPO / "bench" / "results.json"
EPOCH = "1760000000"
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Run:
    """One process: wall seconds, peak RSS of its largest process, peak RSS of its tree,
    and the CPU seconds (user and system) of it and every process it waited for."""

    wall: float
    peak_mb: float
    tree_peak_mb: float
    out: str = ""
    cpu: float = 0.0


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and all its descendants (shared pages counted in each)."""
    tree = _children()
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            statm = Path(f"/proc/{current}/statm").read_text(encoding="ascii")
            total += int(statm.split()[1]) * _PAGE
        except OSError:
            continue
        todo.extend(tree.get(current, ()))
    return total


def run(args: list[str], env: dict[str, str] | None = None) -> Run:
    """Run a command to completion in a fresh process and measure it.

    Wall time is taken around the process; its CPU time and peak RSS come from its
    own rusage (wait4: its CPU time with that of the children it waited for, such as
    parsing workers; the largest peak of them), and a watcher samples the RSS summed
    over its process tree every 50 ms (parallel parsing workers; shared pages are
    counted once per process, so this is an upper bound).
    """
    full_env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH, **(env or {})}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(args, env=full_env, stdout=out, stderr=err)
        peak = [0]
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], _tree_rss(process.pid))
                done.wait(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        watcher.join()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{stdout}\n{stderr}")
    return Run(
        wall,
        usage.ru_maxrss / 1024,
        max(peak[0], usage.ru_maxrss * 1024) / 2**20,
        stdout,
        usage.ru_utime + usage.ru_stime,
    )


def build_cmd(notes: Path, out: Path) -> list[str]:
    return [str(BIN / "storydeck"), "build", str(notes), "-o", str(out), "-q"]


def cold_build(bank: Path, work: Path) -> Run:
    """A first build: no lockfile, no decks, an empty parse cache."""
    notes, out, cache = bank / "notes", work / "decks", work / "cache"
    (notes / "storydeck.lock").unlink(missing_ok=True)
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    return run(build_cmd(notes, out), {"STORYDECK_CACHE_DIR": str(cache)})


def rebuild(bank: Path, work: Path) -> Run:
    notes, out, cache = bank / "notes", work / "decks", work / "cache"
    return run(build_cmd(notes, out), {"STORYDECK_CACHE_DIR": str(cache)})


def floor_input(package: Path, target: Path) -> int:
    """Write the floor's input from a built package, in a process of its own: a child
    process starts with its parent's resident memory as its peak (Linux carries the
    high-water mark across exec), so this process stays small."""
    result = run([sys.executable, "-m", "bench.floor", "prepare", str(package), str(target)])
    count: int = json.loads(result.out)["notes"]
    return count


def floor(source: Path, out: Path) -> tuple[Run, float]:
    result = run([sys.executable, "-m", "bench.floor", str(source), str(out)])
    return result, json.loads(result.out)["seconds"]


#: Modules `storydeck --help` must not load.
HEAVY = ("genanki", "markdown_it", "mdit_py_plugins", "yaml", "sqlite3", "storydeck.parse")


def help_startup(repeat: int) -> dict[str, object]:
    command = [str(BIN / "storydeck"), "--help"]
    run(command)  # warm the page cache and __pycache__
    walls = [run(command).wall for _ in range(repeat)]
    probe = (
        "import sys\nfrom storydeck.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"heavy = {list(HEAVY)!r}\n"
        "sys.stderr.write(','.join(m for m in heavy if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stderr.strip()
    return {
        "median_s": statistics.median(walls),
        "min_s": min(walls),
        "runs": len(walls),
        "heavy_modules_loaded": [m for m in loaded.split(",") if m],
    }


def machine() -> dict[str, object]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 2**20:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def _median(runs: list[Run]) -> dict[str, object]:
    """The median and best wall time of some runs, their largest peaks, every wall time."""
    return {
        "wall_s": statistics.median(r.wall for r in runs),
        "best_s": min(r.wall for r in runs),
        "peak_mb": max(r.peak_mb for r in runs),
        "tree_peak_mb": max(r.tree_peak_mb for r in runs),
        "runs_s": [round(r.wall, 3) for r in runs],
        "cpu_s": statistics.median(r.cpu for r in runs),
    }


def _paired(runs: list[float], floors: list[float]) -> float:
    """The median ratio of each run to the floor measured next to it."""
    return statistics.median(run / ground for run, ground in zip(runs, floors, strict=False))


def phases(bank: Path, work: Path) -> dict[str, object]:
    """Where one build's time goes, stage by stage (bench/phases.py), with its cache."""
    result = run(
        [sys.executable, "-m", "bench.phases", str(bank / "notes"), str(work / "decks"), "--json"],
        {"STORYDECK_CACHE_DIR": str(work / "cache")},
    )
    data: dict[str, object] = json.loads(result.out)
    return data


#: The issue's targets: ratios to the genanki floor, and start-up in seconds.
TARGETS = {"cold_1000": 3.0, "rebuild_1000": 1.5, "memory_10000": 1.2, "help_s": 0.150}


def measure_size(size: int, root: Path, repeat: int) -> dict[str, object]:
    """(a) and (c) for one bank size.

    Ratios are given median to median and best to best (this is a shared machine);
    memory compares our largest peak with the floor's smallest.
    """
    bank, work = root / f"bank-{size}", root / f"work-{size}"
    write_bank(bank / "notes", size)
    builds = max(1, repeat - (size >= 10_000))
    colds = [cold_build(bank, work)]
    notes_json = work / "floor.jsonl"
    count = floor_input(work / "decks" / "storydeck-all.apkg", notes_json)
    # Builds and floors take turns, so that each build has a floor measured next to it
    # (this shared machine drifts by a third within minutes).
    floors = []
    for _ in range(repeat):
        floors.append(floor(notes_json, work / "floor.apkg"))
        if len(colds) < builds:
            colds.append(cold_build(bank, work))
    cold = _median(colds)
    seconds = [s for _, s in floors]
    floor_write, floor_best = statistics.median(seconds), min(seconds)
    floor_peak = min(r.peak_mb for r, _ in floors)
    floor_cpu = statistics.median(r.cpu for r, _ in floors)
    # The most CPU a build within the cold target's wall time could spend, with every
    # core busy from its first moment to its last.
    cores = os.cpu_count() or 1
    cpu_budget = TARGETS["cold_1000"] * floor_write * cores
    entry: dict[str, object] = {
        "stories": size,
        "cards": count,
        "cold_build": cold,
        "floor": {
            "write_s": floor_write,
            "best_s": floor_best,
            "process_wall_s": statistics.median(r.wall for r, _ in floors),
            "process_cpu_s": floor_cpu,
            "peak_mb": floor_peak,
            "runs_s": [round(s, 3) for s in seconds],
        },
        "cold_ratio": float(cold["wall_s"]) / floor_write,  # type: ignore[arg-type]
        "cold_ratio_best": float(cold["best_s"]) / floor_best,  # type: ignore[arg-type]
        "cold_ratio_paired": _paired([r.wall for r in colds], seconds),
        "memory_ratio": float(cold["peak_mb"]) / floor_peak,  # type: ignore[arg-type]
        "per_story_ms": float(cold["wall_s"]) / size * 1000,  # type: ignore[arg-type]
        "cpu_budget_s": cpu_budget,
    }
    print(
        f"(a) build {size:>6} stories ({count} notes), cold: {cold['wall_s']:7.2f} s "
        f"(best {cold['best_s']:.2f} s of {len(colds)}), peak {cold['peak_mb']:5.0f} MB "
        f"(process tree {cold['tree_peak_mb']:.0f} MB)\n"
        f"(c) genanki floor, same notes:    {floor_write:7.2f} s (best {floor_best:.2f} s of "
        f"{len(floors)}), peak {floor_peak:5.0f} MB "
        f"(whole process {entry['floor']['process_wall_s']:.2f} s)\n"  # type: ignore[index]
        f"    ratio to the floor: {entry['cold_ratio_paired']:.2f}x time, median of each build "
        f"to the floor next to it (median to median {entry['cold_ratio']:.2f}x, best to best "
        f"{entry['cold_ratio_best']:.2f}x), "
        f"{entry['memory_ratio']:.2f}x peak memory\n"
        f"    CPU (user and system, every process): build {cold['cpu_s']:.2f} s, floor process "
        f"{floor_cpu:.2f} s; a build within {TARGETS['cold_1000']:g}x of the floor on {cores} "
        f"cores spends at most {cpu_budget:.2f} s",
        flush=True,
    )
    return entry


def measure_rebuild(
    size: int, root: Path, edits: int, floor_write: float, floor_best: float
) -> dict[str, object]:
    """(b): after the cold builds of `size`, rebuild unchanged, then after one-story edits,
    each edit's rebuild followed by a floor run of its own."""
    bank, work = root / f"bank-{size}", root / f"work-{size}"
    notes = sorted((bank / "notes").rglob("story-*.md"))
    unchanged = [rebuild(bank, work) for _ in range(3)]
    runs, floors = [], []
    for round_ in range(edits):
        edit_story(notes[(round_ * 397 + 7) % len(notes)], round_)
        runs.append(rebuild(bank, work))
        floors.append(floor(work / "floor.jsonl", work / "floor.apkg")[1])
    edit = _median(runs)
    entry = {
        "rebuild_one_edit": edit,
        "rebuild_unchanged": _median(unchanged),
        "rebuild_floors_s": [round(s, 3) for s in floors],
        "rebuild_ratio": float(edit["wall_s"]) / floor_write,  # type: ignore[arg-type]
        "rebuild_ratio_best": float(edit["best_s"]) / floor_best,  # type: ignore[arg-type]
        "rebuild_ratio_paired": _paired([r.wall for r in runs], floors),
    }
    print(
        f"(b) rebuild {size} stories after editing one: {edit['wall_s']:.2f} s "
        f"(best {edit['best_s']:.2f} s of {edits}), peak {edit['peak_mb']:.0f} MB; ratio to the "
        f"floor {entry['rebuild_ratio_paired']:.2f}x, median of each rebuild to the floor run "
        f"after it (median to median {entry['rebuild_ratio']:.2f}x, best to best "
        f"{entry['rebuild_ratio_best']:.2f}x) "
        f"(nothing edited: {entry['rebuild_unchanged']['wall_s']:.2f} s)",  # type: ignore[index]
        flush=True,
    )
    edit_story(notes[7], edits)
    entry["phases_one_edit"] = phases(bank, work)
    return entry


def byte_compile() -> None:
    """Byte-compile storydeck's modules before timing it, as they are in an installed
    package (pip compiles them at install time). In an editable install, with
    PYTHONDONTWRITEBYTECODE set, every process would compile them again from source:
    tens of milliseconds of each build that no user's build spends."""
    import compileall

    import storydeck

    compileall.compile_dir(Path(storydeck.__file__).parent, quiet=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="bank sizes (stories)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--edits", type=int, default=5, help="one-story edits to time")
    parser.add_argument("--keep", action="store_true", help="keep the temporary banks")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    options = parser.parse_args(argv)
    sizes = [int(s) for s in options.sizes.split(",")]
    rebuild_size = 1000 if 1000 in sizes else sizes[0]

    byte_compile()
    root = Path(tempfile.mkdtemp(prefix="storydeck-bench-"))
    results: dict[str, object] = {"machine": machine()}
    try:
        print(f"machine: {results['machine']}", flush=True)
        startup = help_startup(max(options.repeat * 3, 10))
        results["help"] = startup
        heavy = ", ".join(startup["heavy_modules_loaded"]) or "none"  # type: ignore[arg-type]
        print(
            f"(d) storydeck --help: {float(startup['median_s']) * 1000:.0f} ms median "  # type: ignore[arg-type]
            f"of {startup['runs']}; heavy modules loaded: {heavy}",
            flush=True,
        )
        table: dict[str, dict[str, object]] = {}
        for size in sizes:
            table[str(size)] = entry = measure_size(size, root, options.repeat)
            if size == rebuild_size:
                floor_ = entry["floor"]
                entry.update(
                    measure_rebuild(
                        size,
                        root,
                        options.edits,
                        float(floor_["write_s"]),  # type: ignore[index]
                        float(floor_["best_s"]),  # type: ignore[index]
                    )
                )
                bank, work = root / f"bank-{size}", root / f"work-{size}"
                cold_build(bank, work)
                shutil.rmtree(work / "cache", ignore_errors=True)
                (bank / "notes" / "storydeck.lock").unlink()
                shutil.rmtree(work / "decks")
                entry["phases_cold"] = phases(bank, work)
            shutil.rmtree(root / f"work-{size}", ignore_errors=True)
            shutil.rmtree(root / f"bank-{size}", ignore_errors=True)
        results["sizes"] = table
        if len(sizes) > 1:
            per_story = {s: table[str(s)]["per_story_ms"] for s in sizes}
            first, last = float(per_story[sizes[0]]), float(per_story[sizes[-1]])  # type: ignore[arg-type]
            results["linearity"] = {"per_story_ms": per_story, "growth_vs_linear": last / first}
            print(
                "linearity: cold build per story "
                + ", ".join(f"{s}: {float(v):.2f} ms" for s, v in per_story.items())  # type: ignore[arg-type]
                + f"; {sizes[0]} -> {sizes[-1]}: {last / first:.2f}x a linear cost",
                flush=True,
            )
        results["targets"] = targets(results)
        for name, verdict in results["targets"].items():  # type: ignore[attr-defined]
            print(f"target {name}: {verdict}")
        options.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {options.out}")
    finally:
        if options.keep:
            print(f"banks kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


def targets(results: dict[str, object]) -> dict[str, str]:
    """Each target of the issue that this run measured: the figure, the limit, met or not.

    Time ratios are judged paired: the median of each run's ratio to the floor run
    measured next to it (a shared machine's speed drifts within minutes, so runs far
    apart in time compare badly); the best-to-best ratio is shown beside.
    """
    out: dict[str, str] = {}
    sizes: dict[str, dict[str, Any]] = results.get("sizes", {})  # type: ignore[assignment]

    def verdict(value: float, limit: float, unit: str = "x", also: str = "") -> str:
        met = "met" if value <= limit else "NOT met"
        return f"{value:.2f}{unit}{also} (limit {limit:g}{unit}): {met}"

    if "1000" in sizes:
        one = sizes["1000"]
        out["cold_1000"] = verdict(
            one["cold_ratio_paired"],
            TARGETS["cold_1000"],
            also=f" paired (best to best {one['cold_ratio_best']:.2f}x)",
        )
        if "rebuild_ratio_paired" in one:
            out["rebuild_1000"] = verdict(
                one["rebuild_ratio_paired"],
                TARGETS["rebuild_1000"],
                also=f" paired (best to best {one['rebuild_ratio_best']:.2f}x)",
            )
    if "10000" in sizes:
        out["memory_10000"] = verdict(sizes["10000"]["memory_ratio"], TARGETS["memory_10000"])
    linearity = results.get("linearity")
    if isinstance(linearity, dict):
        out["linear"] = f"{linearity['growth_vs_linear']:.2f}x a linear cost per story"
    help_ = results.get("help")
    if isinstance(help_, dict):
        out["help_s"] = verdict(float(help_["median_s"]), TARGETS["help_s"], " s")
    return out


if __name__ == "__main__":
    sys.exit(main())

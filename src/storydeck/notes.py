"""Finding and reading note files: the `read` stage in front of the parser.

Files are opened read-only and decoded strictly; what cannot be read becomes an
error diagnostic naming the file, never an exception that stops the others.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from storydeck.cache import ParseCache, Parsed, pack, text_digest, unpack
from storydeck.cards import Card
from storydeck.carry import CarriedFile, CarriedNote, NoteSource, hollow, unpack_file
from storydeck.config import CONFIG_NAME, Config
from storydeck.errors import NotesError
from storydeck.model import Diagnostic, Location, Severity, Story

if TYPE_CHECKING:
    from concurrent.futures import Future

#: Larger notes are refused: a story bank file is kilobytes, not megabytes.
MAX_NOTE_BYTES = 1024 * 1024
LOCK_NAME = "storydeck.lock"
_SKIP_DIRS = {"node_modules", "__pycache__"}


@dataclass(frozen=True, slots=True)
class Notes:
    """Every story found under the given paths, and everything worth saying about them."""

    stories: tuple[Story, ...]
    diagnostics: tuple[Diagnostic, ...]
    files: tuple[str, ...]
    #: Each story's own cards (see cards.story_cards), in the order of `stories`.
    story_cards: tuple[tuple[Card, ...], ...] = ()
    #: Each story's answer on its prompt card (see cards.story_answer).
    story_answers: tuple[str, ...] = ()
    #: When read with `carry`: each story's notes carried over from the last build
    #: (None for a story read anew; a carried one has no `story_cards`), and each
    #: readable file as the next build's carry needs it (see carry.py).
    carried: tuple[tuple[CarriedNote, ...] | None, ...] = ()
    sources: tuple[NoteSource, ...] = ()

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)


def notes_root(paths: Sequence[Path]) -> Path | None:
    """The directory whose storydeck.yaml applies: the first directory given, or a file's folder."""
    for path in paths:
        if path.is_dir():
            return path
    return paths[0].parent if paths else None


def display_path(path: Path) -> str:
    """How a file is named in messages: relative to the working directory when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def find_note_files(paths: Sequence[Path], config: Config) -> tuple[list[Path], list[Diagnostic]]:
    """The note files under `paths`, in a stable order. A named file is taken whatever its name."""
    files: list[Path] = []
    problems: list[Diagnostic] = []
    for path in paths:
        if path.is_dir():
            found, trouble = _walk(path, config)
            files.extend(found)
            problems.extend(trouble)
        elif path.exists() or path.is_symlink():
            files.append(path)
        else:
            raise NotesError(
                "no such file or directory",
                Location(display_path(path)),
                "check the path; `storydeck new` creates a first note",
            )
    seen: set[Path] = set()
    unique = []
    for file in files:
        key = file.absolute()
        if key not in seen:
            seen.add(key)
            unique.append(file)
    return unique, problems


def _walk(root: Path, config: Config) -> tuple[list[Path], list[Diagnostic]]:
    extensions = {f".{e}" for e in config.extensions}
    files: list[Path] = []
    problems: list[Diagnostic] = []
    visited: set[tuple[int, int]] = set()

    def visit(directory: Path) -> Iterator[Path]:
        try:
            info = directory.stat()
        except OSError as exc:
            problems.append(_unreadable(directory, exc))
            return
        key = (info.st_dev, info.st_ino)
        if key in visited:
            problems.append(
                Diagnostic(
                    Severity.ERROR,
                    Location(display_path(directory)),
                    "symlink-loop",
                    "symbolic link loop: this directory is already part of the notes",
                    "remove the link or point it outside the notes directory",
                )
            )
            return
        visited.add(key)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            problems.append(_unreadable(directory, exc))
            return
        for entry in entries:
            path = Path(entry.path)
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError as exc:
                problems.append(_unreadable(path, exc))
                continue
            if is_dir:
                if entry.name not in _SKIP_DIRS:
                    yield from visit(path)
            elif path.suffix.lower() in extensions and entry.name not in {CONFIG_NAME, LOCK_NAME}:
                yield path
            elif entry.is_symlink() and not path.exists() and path.suffix.lower() in extensions:
                yield path  # a dangling or looping link: reading it reports why

    files.extend(visit(root))
    return files, problems


def _unreadable(path: Path, exc: OSError) -> Diagnostic:
    reason = exc.strerror or str(exc)
    code = "symlink-loop" if exc.errno == 40 else "unreadable"
    hint = (
        "remove the link or point it at a real file"
        if code == "symlink-loop"
        else "check that the file exists and that you may read it"
    )
    message = "symbolic link loop" if code == "symlink-loop" else f"cannot read: {reason}"
    return Diagnostic(Severity.ERROR, Location(display_path(path)), code, message, hint)


def read_note(path: Path) -> str:
    """A note's text: UTF-8 (a byte-order mark is dropped), line endings made `\\n`."""
    shown = display_path(path)
    try:
        size = path.stat().st_size
        if size <= MAX_NOTE_BYTES:
            with path.open("rb") as handle:
                # As much as the file holds (not the limit: a megabyte buffer per note
                # costs more than reading it), and on up to the limit if it grew since.
                raw = handle.read(size + 1)
                if len(raw) > size:
                    raw += handle.read(MAX_NOTE_BYTES + 1 - len(raw))
            size = len(raw)
        if size > MAX_NOTE_BYTES:
            raise NotesError(
                f"note is too large ({size / 1_000_000:.1f} MB; the limit is "
                f"{MAX_NOTE_BYTES // 1024 // 1024} MB)",
                Location(shown, 1, 1),
                "split it into several notes",
            )
    except OSError as exc:
        diagnostic = _unreadable(path, exc)
        raise NotesError(diagnostic.message, Location(shown), diagnostic.hint) from None
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise NotesError(
            "this is not a text file (it contains NUL bytes)",
            Location(shown, line, 1),
            "notes are UTF-8 markdown or plain text",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        raise NotesError(
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            Location(shown, line, col),
            "save the file as UTF-8",
        ) from None
    text = text.removeprefix("\ufeff")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


class Progress(Protocol):
    """Told how many files there are, then once per file read."""

    def start(self, total: int) -> None: ...

    def advance(self) -> None: ...


#: Below this many notes to parse, parsing stays in this process: starting workers
#: and sending results back (about 50 ms) costs more than it saves.
PARALLEL_MIN = 64
#: At most this many notes are handed to a worker at a time.
_CHUNK = 64

T = TypeVar("T")


def read_notes(
    paths: Sequence[Path],
    config: Config,
    progress: Progress | None = None,
    *,
    cache: ParseCache | None = None,
    jobs: int | None = None,
    carry: Mapping[str, tuple[str, bytes]] | None = None,
    early: EarlyParser | None = None,
    hollow: bool = False,
    meanwhile: Callable[[], None] | None = None,
) -> Notes:
    """Every story under `paths`. Errors are collected, not raised, except a missing path.

    With a `cache`, a note whose text is unchanged since the cached build is not
    parsed again. When many notes need parsing, they are parsed by `jobs` worker
    processes (default: one per core); results are the same as parsing in order.
    With `carry` (shown path -> (text digest, packed outcome): see carry.py), a
    note whose text is still that digest is carried over: its stories come back
    hollow, with their notes of the last build instead of their cards. An `early`
    parser started with the same config and root parses a few changed notes (its
    caller closes it). With `hollow`, every story comes back as a carried one does
    (see carry.hollow: what a build reads of it once its cards are made), and so is
    it packed for the cache: a build sends and keeps less. `meanwhile` is other work
    of the caller's, done while workers parse (or before notes are parsed here).
    """
    files, diagnostics = find_note_files(paths, config)
    root = notes_root(paths)
    shown_root = display_path(root) if root is not None else ""
    if progress is not None:
        progress.start(len(files))
    shown_files: list[str] = []
    results: list[Parsed | NotesError] = []
    todo: list[tuple[int, str, str, str]] = []  # (index in results, shown, text, digest)
    known: list[tuple[int, str, str, str]] = []  # the same, for notes the cache holds
    kept: list[tuple[int, str, str, str]] = []  # the same, for notes carried over
    digests: list[str] = []
    outcomes: dict[int, tuple[CarriedFile, bytes]] = {}
    for file in files:
        shown = display_path(file)
        shown_files.append(shown)
        try:
            text = read_note(file)
        except NotesError as exc:
            results.append(exc)
            digests.append("")
            continue
        digest = text_digest(text) if cache is not None or carry is not None else ""
        digests.append(digest)
        carried = carry.get(shown) if carry else None
        if carried is not None and carried[0] == digest:
            kept.append((len(results), shown, text, digest))
            if cache is not None:
                cache.keep(shown, digest)
        elif cache is not None and cache.knows(shown, digest):
            known.append((len(results), shown, text, digest))
        else:
            todo.append((len(results), shown, text, digest))
            if cache is not None:
                cache.misses += 1
        results.append(_PENDING)
    damaged: list[tuple[int, str, str, str]] = []

    def unpack_known() -> None:
        """The cached and carried results, unpacked (while workers parse the other notes),
        and the caller's own work."""
        if meanwhile is not None:
            meanwhile()
        assert cache is not None or not known
        for entry in known:
            index, shown, _, digest = entry
            cached = cache.get(shown, digest) if cache is not None else None
            if cached is None:
                damaged.append(entry)
            else:
                results[index] = cached
        for entry in kept:
            index, shown, _, digest = entry
            assert carry is not None
            packed = carry[shown][1]
            outcome = unpack_file(packed)
            if outcome is None or outcome.digest != digest:
                damaged.append(entry)
            else:
                outcomes[index] = (outcome, packed)

    parsed = _parse_many(
        [(shown, text) for _, shown, text, _ in todo],
        (config, shown_root, hollow),
        jobs,
        progress,
        cache is not None,
        # Carried outcomes are quick to unpack: only the cached results are worth a
        # worker of their own (see _parse_many).
        meanwhile=(unpack_known, len(known)),
        early=early,
    )
    if damaged:  # rare: a cache entry that does not unpack is parsed again, here
        todo += damaged
        parsed += _parse_many(
            [(shown, text) for _, shown, text, _ in damaged],
            (config, shown_root, hollow),
            1,
            progress,
            cache is not None,
        )
    for (index, shown, _, digest), (result, blob) in zip(todo, parsed, strict=True):
        results[index] = result
        if cache is not None:
            cache.put(shown, digest, blob or pack(result))
    stories: list[Story] = []
    story_cards: list[tuple[Card, ...]] = []
    story_answers: list[str] = []
    carried_notes: list[tuple[CarriedNote, ...] | None] = []
    sources: list[NoteSource] = []
    for index, outcome in enumerate(results):
        if index in outcomes:
            over, packed = outcomes[index]
            stories.extend(s.story for s in over.stories)
            diagnostics.extend(over.diagnostics)
            story_cards.extend(() for _ in over.stories)
            story_answers.extend(s.answer for s in over.stories)
            carried_notes.extend(s.notes for s in over.stories)
            shown, count = shown_files[index], len(over.stories)
            sources.append(NoteSource(shown, digests[index], count, over.diagnostics, packed))
        elif isinstance(outcome, NotesError):
            # No line: reading the file failed; a line: its bytes are not a note.
            located = outcome.location is not None and outcome.location.line > 0
            diagnostics.append(outcome.diagnostic("bad-input" if located else "unreadable"))
        else:
            stories.extend(outcome[0])
            diagnostics.extend(outcome[1])
            story_cards.extend(outcome[2])
            story_answers.extend(outcome[3])
            carried_notes.extend(None for _ in outcome[0])
            count = len(outcome[0])
            sources.append(NoteSource(shown_files[index], digests[index], count, outcome[1]))
    if progress is not None:
        for _ in range(len(files) - len(todo)):
            progress.advance()
    diagnostics.extend(_duplicate_ids(stories))
    return Notes(
        tuple(stories),
        tuple(diagnostics),
        tuple(shown_files),
        tuple(story_cards),
        tuple(story_answers),
        # Only when asked for: a build that carries nothing compares equal to another.
        tuple(carried_notes) if carry is not None else (),
        tuple(sources) if carry is not None else (),
    )


_PENDING: Parsed = ((), (), (), ())


def _parse_many(
    notes: Sequence[tuple[str, str]],
    setting: Setting,
    jobs: int | None,
    progress: Progress | None,
    packed: bool,
    *,
    meanwhile: tuple[Callable[[], None], int] | None = None,
    early: EarlyParser | None = None,
) -> list[tuple[Parsed, bytes | None]]:
    """Parse (shown path, text) pairs, in parallel when there are many; results in order.

    Each result comes with its packed form (see cache.pack) when `packed` or when a
    worker made it: workers send results back packed, so the cache stores what they
    sent instead of packing everything again here. The parser (markdown-it, YAML)
    is imported only when something is parsed: a build whose notes all come from
    the cache never loads it.

    `meanwhile` is other work for this process, with its size (cached results to
    unpack): when it is large, even a few notes are handed to a worker, which loads
    the parser and parses them while this process does that work. So does an
    `early` parser, for fewer notes than are worth several workers.
    """
    if early is not None and early.setting == setting and notes and len(notes) < PARALLEL_MIN:
        handed = early.parse(notes)
        if handed is not None:
            if meanwhile is not None:
                meanwhile[0]()
                meanwhile = None
            found = _received(handed)
            if found is not None:
                if progress is not None:
                    for _ in notes:
                        progress.advance()
                return found
        # The early parser is gone (it could not start or load the parser): parse here.
    cores = jobs or os.cpu_count() or 1
    workers = min(cores, len(notes))
    overlap = meanwhile is not None and meanwhile[1] >= OVERLAP_MIN and cores > 1 and len(notes) > 0
    if not overlap and (workers < 2 or len(notes) < PARALLEL_MIN):
        if meanwhile is not None:
            meanwhile[0]()
        out: list[tuple[Parsed, bytes | None]] = []
        for shown, text in notes:
            result = _parse(text, shown, setting)
            out.append((result, pack(result) if packed else None))
            if progress is not None:
                progress.advance()
        return out
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    if len(notes) >= PARALLEL_MIN:
        from importlib import import_module

        from storydeck.parse import vocabulary

        # Forked workers inherit the parser, the metric detector and the compiled
        # vocabulary from here; elsewhere (no fork) they start afresh.
        vocabulary(setting[0])
        import_module("storydeck.metrics")
    method = "fork" if sys.platform == "linux" else "spawn"
    chunks = _chunks(notes, workers)
    out = []
    with ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context(method),
        initializer=_init_worker,
        initargs=(setting,),
    ) as pool:
        sent = pool.map(_parse_chunk, chunks)
        if meanwhile is not None:
            meanwhile[0]()
        for chunk, blobs in zip(chunks, sent, strict=True):
            out.extend(_unpacked(blobs))
            if progress is not None:
                for _ in chunk:
                    progress.advance()
    return out


def _chunks(notes: Sequence[T], workers: int) -> list[Sequence[T]]:
    """`notes` cut into the chunks handed to `workers` workers, in order: at most _CHUNK
    notes each, and smaller towards the end (a quarter of what is left per worker, down
    to an eighth of _CHUNK, or to what a quarter of all would be when that is less), so
    that no worker is left parsing a large last chunk while the others wait."""
    spread = workers * 4
    least = min(_CHUNK // 8, -(-len(notes) // spread))
    chunks = []
    start = 0
    while start < len(notes):
        size = min(_CHUNK, max(least, -(-(len(notes) - start) // spread), 1))
        chunks.append(notes[start : start + size])
        start += size
    return chunks


def _received(sent: Future[list[bytes]]) -> list[tuple[Parsed, bytes | None]] | None:
    """What an early parser sent back, unpacked; None when it failed."""
    try:
        return _unpacked(sent.result())
    except Exception:  # a broken worker: the notes are parsed in this process
        return None


def _unpacked(blobs: Sequence[bytes]) -> list[tuple[Parsed, bytes | None]]:
    """A worker's packed results, each unpacked beside its packed form."""
    out: list[tuple[Parsed, bytes | None]] = []
    for blob in blobs:
        unpacked = unpack(blob)
        if unpacked is None:  # pragma: no cover - a worker sends what it packed
            raise RuntimeError("a parse worker sent back something unreadable")
        out.append((unpacked, blob))
    return out


class EarlyParser:
    """A parse worker started when a build starts, that loads the parser while the
    build reads its notes and the caches: a rebuild after an edit hands it the few
    changed notes, which it parses with the parser already loaded (loading it takes
    longer than reading a large bank's caches). A build with nothing to parse only
    lets it go. Only where processes fork (Linux): elsewhere `start` gives None.
    """

    def __init__(self, setting: Setting) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        #: The config, the notes directory as paths show it and whether stories come
        #: back hollow, as `_parse` takes them.
        self.setting = setting
        self._pool = ProcessPoolExecutor(
            1,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_init_worker,
            initargs=(setting,),
        )
        self._pool.submit(_load_parser)  # the worker starts, and loads the parser

    @classmethod
    def start(cls, config: Config, root: str, *, hollow: bool = False) -> EarlyParser | None:
        if sys.platform != "linux":
            return None
        try:
            return cls((config, root, hollow))
        except OSError:  # no process to be had: parsing happens in the build's own
            return None

    def parse(self, notes: Sequence[tuple[str, str]]) -> Future[list[bytes]] | None:
        """Parse (shown path, text) pairs in the worker; None when it is not usable."""
        try:
            return self._pool.submit(_parse_chunk, notes)
        except RuntimeError:  # shut down, or broken
            return None

    def close(self) -> None:
        """Let the worker go, without waiting for it to finish loading the parser."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _load_parser() -> None:
    """Everything parsing a note loads, loaded (in an early parser's worker)."""
    from importlib import import_module

    from storydeck.parse import vocabulary
    from storydeck.parse.blocks import markdown

    (setting,) = _WORKER_SETTING
    vocabulary(setting[0])
    markdown(setting[0].allow_html)
    import_module("storydeck.metrics")


#: With at least this many cached results to unpack meanwhile, even one changed note
#: is parsed by a worker (starting one costs about 20 ms; loading the parser, 60 ms).
OVERLAP_MIN = 256


#: What `_parse` is told besides a note: the config, the notes directory as paths show
#: it, and whether stories come back hollow.
Setting = tuple[Config, str, bool]

_WORKER_SETTING: list[Setting] = []


def _init_worker(setting: Setting) -> None:
    _WORKER_SETTING[:] = [setting]
    # Parsing makes no reference cycles (a note's tokens, stories and cards are a tree
    # freed as soon as they are packed), so the collector is not left to walk them as
    # they come and go: each chunk ends with one look at what it left (`_parse_chunk`).
    gc.disable()


def _parse_chunk(notes: Sequence[tuple[str, str]]) -> list[bytes]:
    (setting,) = _WORKER_SETTING
    packed = [pack(_parse(text, shown, setting)) for shown, text in notes]
    gc.collect(0)
    return packed


def _parse(text: str, shown: str, setting: Setting) -> Parsed:
    """One note's stories and diagnostics, and each story's own cards (pure, cacheable).

    `setting` is the config, the notes directory as paths show it (cards name their
    source relative to it) and whether the stories come back hollow.
    """
    from storydeck.cards import story_answer, story_cards
    from storydeck.identity import propose_guids
    from storydeck.parse import parse_text

    config, root, hollowed = setting
    result = parse_text(text, shown, config)
    cards = tuple(tuple(story_cards(story, config, root)) for story in result.stories)
    for made in cards:
        propose_guids(made)
    answers = tuple(story_answer(story) for story in result.stories)
    stories = tuple(map(hollow, result.stories)) if hollowed else result.stories
    return stories, result.diagnostics, cards, answers


def _duplicate_ids(stories: Sequence[Story]) -> Iterator[Diagnostic]:
    first: dict[str, Story] = {}
    for story in stories:
        other = first.setdefault(story.id, story)
        if other is not story:
            yield Diagnostic(
                Severity.ERROR,
                Location(story.source.path, story.source.line, 1),
                "duplicate-id",
                f"story id {story.id!r} is already used by {other.source.at_line()}",
                "give one of them another `id:` in its front matter; ids are never reused",
            )

"""The parse cache: each note's parse result, reused while the note's text is unchanged.

`storydeck build` parses only the notes whose text changed since the last
successful build of the same notes directory. The cache is one file per notes
directory in the user's cache directory (`$STORYDECK_CACHE_DIR`, else
`$XDG_CACHE_HOME/storydeck`, else `~/.cache/storydeck`), never in the notes or
the decks: both stay exactly as the build leaves them.

An entry is used only when the note is named the same way (its path as shown in
diagnostics), its text hashes the same, and the file was written by this very
code (a hash of storydeck's own source files and the versions of the parsing
libraries) under the same configuration. Anything else, including an unreadable,
truncated or foreign file, is a miss: the cache is only ever a shortcut, never a
source of truth. Writing it is best effort and silent.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import pickle
import re
import sys
import tempfile
import zlib
from collections.abc import Callable
from functools import cache
from operator import attrgetter
from pathlib import Path
from typing import Any, BinaryIO, TypeGuard

from storydeck.cards import Card
from storydeck.config import Config
from storydeck.identity import Lock, LockEntry, NotetypeEntry
from storydeck.model import Diagnostic, Story

#: What reading one note gives: its stories, its diagnostics, each story's own cards
#: (every kind but prompt cards, which depend on the whole bank) and each story's
#: answer on a prompt card.
Parsed = tuple[
    tuple[Story, ...], tuple[Diagnostic, ...], tuple[tuple[Card, ...], ...], tuple[str, ...]
]

CACHE_ENV = "STORYDECK_CACHE_DIR"
#: Cache files kept in the cache directory, one per notes directory; the least
#: recently used go first.
KEEP_FILES = 32
_FORMAT = b"storydeck-parse-cache 6\n"


def cache_dir() -> Path:
    """Where cache files live: $STORYDECK_CACHE_DIR, $XDG_CACHE_HOME/storydeck or ~/.cache."""
    explicit = os.environ.get(CACHE_ENV, "").strip()
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "storydeck"


def cache_file(root: Path, kind: str, suffix: str) -> Path | None:
    """Where the cache of `kind` for the notes directory `root` is kept (resolved, so
    any spelling of it finds the same file); None when there is no such place."""
    try:
        name = hashlib.sha256(str(root.resolve()).encode("utf-8", "surrogatepass"))
        return cache_dir() / f"{kind}-{name.hexdigest()[:24]}{suffix}"
    except (OSError, RuntimeError):
        return None


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@cache
def code_key() -> str:
    """A hash of the code that turns text into stories: storydeck's sources and its parsers."""
    digest = hashlib.sha256(_FORMAT)
    digest.update(f"{sys.version}|{installed(PARSERS)}".encode())
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*")):
        if path.suffix in {".py", ".yaml"} and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


#: The distributions whose code reads notes.
PARSERS = ("markdown-it-py", "mdit-py-plugins", "pyyaml")


def installed(names: tuple[str, ...]) -> str:
    """The installed versions of some distributions, as their `.dist-info` directories
    on `sys.path` name them (importlib.metadata costs a build more time than its parse
    cache saves on a small bank); importlib.metadata's answer when one is not found."""
    wanted = {_normal_name(name) for name in names}
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as scan:
                listing = [item.name for item in scan]
        except OSError:
            continue
        for item in listing:
            if item.endswith(".dist-info"):
                name, _, number = item[: -len(".dist-info")].rpartition("-")
                found.setdefault(_normal_name(name), number)
    if not wanted <= found.keys():
        from importlib.metadata import PackageNotFoundError, version

        for name in names:
            try:
                found.setdefault(_normal_name(name), version(name))
            except PackageNotFoundError:  # pragma: no cover - they are dependencies
                found.setdefault(_normal_name(name), "?")
    return "|".join(f"{name} {found[name]}" for name in sorted(wanted))


def _normal_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def config_key(config: Config) -> str:
    """A hash of everything in a config, independent of set ordering and object identity."""
    return hashlib.sha256(repr(_canonical(config)).encode()).hexdigest()


def _canonical(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            tuple(
                (f.name, _canonical(getattr(value, f.name)))
                for f in dataclasses.fields(value)
                if f.compare
            ),
        )
    if isinstance(value, dict):
        return ("dict", tuple(sorted(((repr(k), _canonical(v)) for k, v in value.items()))))
    if isinstance(value, set | frozenset):
        return ("set", tuple(sorted(repr(_canonical(v)) for v in value)))
    if isinstance(value, list | tuple):
        return tuple(_canonical(v) for v in value)
    return repr(value)


def pack(parsed: Parsed) -> bytes:
    """A parse result as bytes: how the cache stores it and how workers send it back.

    Compressed (fast zlib): a build holds every new result packed until the cache is
    saved, and a story's cards are mostly text.
    """
    buffer = io.BytesIO()
    record_pickler(buffer).dump(parsed)
    return zlib.compress(buffer.getvalue(), 1)


def record_pickler(handle: BinaryIO) -> pickle.Pickler:
    """A pickler to `handle` that stores storydeck's records as constructor calls.

    The default for a dataclass with slots saves each record's fields by name and
    restores them one `setattr` at a time; calling the class is faster to load, and
    a bank has tens of records per story. Each record type's reduction is looked up
    by the pickler itself in its `dispatch_table`: a `reducer_override` would be
    called from Python for every object that is not a plain container or scalar,
    enums and classes included.
    """
    pickler = pickle.Pickler(handle, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _reductions()
    return pickler


_Reduction = Callable[[Any], tuple[type, tuple[Any, ...]]]


@cache
def _reductions() -> dict[type, _Reduction]:
    """How each record is pickled: its class, and its constructor's fields in order."""
    return {record: _reduction(record, names) for record, names in _records().items()}


def _reduction(record: type, names: tuple[str, ...]) -> _Reduction:
    # attrgetter reads every field in one call (a tuple for two names or more).
    fields = attrgetter(*names)
    if len(names) == 1:
        return lambda obj: (record, (fields(obj),))
    return lambda obj: (record, fields(obj))


@cache
def _records() -> dict[type, tuple[str, ...]]:
    """The dataclasses of storydeck.model and their constructor's fields, in order."""
    from storydeck import model

    records = {
        value: tuple(f.name for f in dataclasses.fields(value) if f.init)
        for value in vars(model).values()
        if isinstance(value, type)
        and dataclasses.is_dataclass(value)
        and value.__module__ == model.__name__
    }
    records[Card] = tuple(f.name for f in dataclasses.fields(Card) if f.init)
    return records


def unpack(blob: bytes) -> Parsed | None:
    """A parse result back from bytes; None when they do not hold one."""
    try:
        parsed = pickle.loads(zlib.decompress(blob))  # our own bytes: a worker's or the cache's
    except Exception:  # a damaged entry is a miss
        return None
    return parsed if _valid(parsed) else None


class ParseCache:
    """Parse results of one notes directory, by the note's shown path and text digest.

    Entries are kept packed (bytes) and unpacked on use, so loading and saving the
    cache costs little more than reading and writing the file.
    """

    def __init__(self, path: Path | None, key: str) -> None:
        self.path = path
        self.key = key
        self._old: dict[str, tuple[str, bytes]] = self._load() if path else {}
        self._new: dict[str, tuple[str, bytes]] = {}
        self.hits = 0
        self.misses = 0

    @classmethod
    def for_notes(cls, root: Path, config: Config, *, hollow: bool = False) -> ParseCache:
        """The cache of the notes directory `root` (resolved, so any spelling finds it),
        of results read `hollow` or not (see notes.read_notes)."""
        key = f"{code_key()}:{config_key(config)}{':hollow' if hollow else ''}"
        return cls(cache_file(root, "parse", ".pickle"), key)

    def _load(self) -> dict[str, tuple[str, bytes]]:
        assert self.path is not None
        try:
            with self.path.open("rb") as handle:
                if handle.read(len(_FORMAT)) != _FORMAT:
                    return {}
                key, entries = pickle.load(handle)  # our own file, in the user's cache
        except Exception:  # a damaged cache is a cold cache
            return {}
        if key != self.key or not isinstance(entries, dict):
            return {}
        return entries

    @property
    def entries(self) -> int:
        """How many notes the cache file held when it was loaded."""
        return len(self._old)

    def knows(self, shown: str, digest: str) -> bool:
        """Whether the cache holds an entry for the note `shown` with text `digest`
        (`get` may still find it damaged)."""
        entry = self._old.get(shown)
        return isinstance(entry, tuple) and len(entry) == 2 and entry[0] == digest

    def get(self, shown: str, digest: str) -> Parsed | None:
        """The cached result of the note shown as `shown`, if its text is still `digest`."""
        entry = self._old.get(shown)
        if (
            isinstance(entry, tuple)
            and len(entry) == 2
            and entry[0] == digest
            and isinstance(entry[1], bytes)
        ):
            parsed = unpack(entry[1])
            if parsed is not None:
                self._new[shown] = entry
                self.hits += 1
                return parsed
        self.misses += 1
        return None

    def keep(self, shown: str, digest: str) -> None:
        """Keep the entry of the note `shown` with text `digest`, if there is one, without
        unpacking it (its outcome was carried over: see carry.py)."""
        if self.knows(shown, digest):
            self._new[shown] = self._old[shown]

    def put(self, shown: str, digest: str, blob: bytes) -> None:
        """Remember the packed parse result `blob` of the note `shown` with text `digest`."""
        self._new[shown] = (digest, blob)

    def save(self) -> bool:
        """Write the entries used or added by this build (the others are dropped).

        Returns whether a file was written; any failure leaves no file behind.
        """
        if self.path is None or self._new == self._old:
            return False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
        entries = (self.key, self._new)

        def write(handle: BinaryIO) -> None:
            handle.write(_FORMAT)
            pickle.dump(entries, handle, protocol=pickle.HIGHEST_PROTOCOL)

        if not write_quietly(self.path, write):
            return False
        _prune(self.path.parent, keep=self.path)
        return True

    def close(self) -> None:
        """Let go of the entries (a large bank's are tens of megabytes)."""
        self._old = {}
        self._new = {}


class LockSnapshot:
    """The lockfile's content as the last build left it, kept beside the parse cache.

    A build that finds the lockfile byte for byte as the snapshot says (the same
    hash) takes its entries from here instead of parsing tens of megabytes of JSON;
    any other lockfile, or a damaged or foreign snapshot, is parsed as usual. So,
    like the parse cache, it is a shortcut and never a source of truth.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        #: The hash of the lockfile the snapshot on disk holds, once it was recalled.
        self.digest: bytes | None = None

    @classmethod
    def for_notes(cls, root: Path) -> LockSnapshot:
        return cls(cache_file(root, "lock", ".pickle"))

    def recall(self, digest: bytes) -> Lock | None:
        """The Lock of the lockfile whose bytes hash to `digest`, if the snapshot is of it."""
        if self.path is None:
            return None
        try:
            with self.path.open("rb") as handle:
                if handle.read(len(_LOCK_FORMAT)) != _LOCK_FORMAT:
                    return None
                known, types, cards = pickle.load(handle)  # our own file, in the user's cache
            if known != digest:
                return None
            lock = Lock(
                {guid: LockEntry(*entry) for guid, *entry in cards},
                {name: NotetypeEntry(print_, changed) for name, print_, changed in types},
            )
        except Exception:  # a damaged snapshot: the lockfile is parsed instead
            return None
        self.digest = digest
        return lock

    def keep(self, lock: Lock, digest: bytes) -> bool:
        """Remember `lock` as the content of the lockfile whose bytes hash to `digest`
        (nothing to do when that is the one already kept). Best effort, silent."""
        if self.path is None or digest == self.digest:
            return False
        # In the lockfile's own order (sorted), so that the Lock recalled is the very
        # one parsing the file gives, entry order included.
        cards = [
            (g, e.anchor, e.kind, e.key, e.fingerprint, e.changed, e.deck, e.removed)
            for g, e in sorted(lock.cards.items())  # guids are unique: entries never compared
        ]
        types = [(name, e.fingerprint, e.changed) for name, e in sorted(lock.notetypes.items())]

        def write(handle: BinaryIO) -> None:
            handle.write(_LOCK_FORMAT)
            pickle.dump((digest, types, cards), handle, protocol=pickle.HIGHEST_PROTOCOL)

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
        if not write_quietly(self.path, write):
            return False
        self.digest = digest
        return True


_LOCK_FORMAT = b"storydeck-lock-snapshot 1\n"


def write_quietly(path: Path, write: Callable[[BinaryIO], None]) -> bool:
    """Put what `write` writes at `path` through a temporary file beside it: the whole
    of it or, on any failure, nothing (a cache is optional; the build goes on)."""
    temp = ""
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        Path(temp).replace(path)
    except Exception:
        if temp:
            Path(temp).unlink(missing_ok=True)
        return False
    return True


def _valid(parsed: object) -> TypeGuard[Parsed]:
    """A parse result's shape, checked before use (a cache file may come from anywhere)."""
    return (
        isinstance(parsed, tuple)
        and len(parsed) == 4
        and isinstance(parsed[0], tuple)
        and isinstance(parsed[1], tuple)
        and isinstance(parsed[2], tuple)
        and isinstance(parsed[3], tuple)
        and len(parsed[2]) == len(parsed[3]) == len(parsed[0])
        and all(isinstance(answer, str) for answer in parsed[3])
        and all(isinstance(story, Story) for story in parsed[0])
        and all(isinstance(diagnostic, Diagnostic) for diagnostic in parsed[1])
        and all(
            isinstance(cards, tuple) and all(isinstance(card, Card) for card in cards)
            for cards in parsed[2]
        )
    )


def _prune(directory: Path, keep: Path) -> None:
    """Drop the least recently written cache files beyond KEEP_FILES, with the row
    store (rowstore.py), the lock snapshot and the carried outcomes (carry.py) of the
    same notes directory."""
    try:
        found = [
            (entry.stat().st_mtime, Path(entry.path))
            for entry in os.scandir(directory)
            if entry.name.startswith("parse-") and entry.name.endswith(".pickle")
        ]
    except OSError:
        return
    found.sort(reverse=True)
    for _, path in found[KEEP_FILES:]:
        if path != keep:
            path.unlink(missing_ok=True)
            rows = path.with_name(path.name.replace("parse-", "rows-", 1)).with_suffix(".sqlite")
            rows.unlink(missing_ok=True)
            Path(f"{rows}-journal").unlink(missing_ok=True)
            path.with_name(path.name.replace("parse-", "lock-", 1)).unlink(missing_ok=True)
            path.with_name(path.name.replace("parse-", "carry-", 1)).unlink(missing_ok=True)

"""Cards + lockfile -> guids and modification times that survive editing.

Anki matches an imported note to an existing one by guid alone, and updates it
only when the package's note `mod` is newer. So a card keeps its guid across
edits (matched to its lock entry by exact text, then by similarity, within its
story and kind), and its `mod` is the time its content last changed, not the
build time: re-importing an unchanged deck changes nothing, an edited card is
updated in place, and review history is never lost.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from storydeck.cards import FIELDS, PROMPT_ANCHOR, Card, fingerprint
from storydeck.carry import Carried, StaleCarry
from storydeck.errors import LockError
from storydeck.model import CardKind, Location

LOCK_VERSION = 1
#: Below this similarity an edited card is a different card.
SIMILARITY = 0.5
#: A story whose id changed is recognised when this share of its cards still matches.
RENAME_SHARE = 0.5
_KEY_LIMIT = 240


# --- the lockfile -----------------------------------------------------------------------


@dataclass(slots=True, unsafe_hash=True)
class LockEntry:
    """What the lock remembers of one card."""

    anchor: str
    kind: str
    key: str
    fingerprint: str
    changed: int
    deck: str
    removed: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "anchor": self.anchor,
            "kind": self.kind,
            "key": self.key,
            "fingerprint": self.fingerprint,
            "changed": self.changed,
            "deck": self.deck,
        }
        if self.removed:
            data["removed"] = True
        return data

    def json_line(self) -> str:
        """`to_json()` as JSON with sorted keys, exactly as `json.dumps` writes it,
        formatted directly (a large bank's lockfile has hundreds of thousands)."""
        removed = _REMOVED if self.removed else ""
        return (
            f'{{"anchor": {_string(self.anchor)}, "changed": {int(self.changed)}, '
            f'"deck": {_string(self.deck)}, "fingerprint": {_string(self.fingerprint)}, '
            f'"key": {_string(self.key)}, "kind": {_string(self.kind)}{removed}}}'
        )


@dataclass(frozen=True, slots=True)
class NotetypeEntry:
    fingerprint: str
    changed: int


@dataclass(frozen=True)
class Lock:
    """The lockfile's content: guid -> entry, and the note types' fingerprints."""

    cards: Mapping[str, LockEntry] = field(default_factory=dict)
    notetypes: Mapping[str, NotetypeEntry] = field(default_factory=dict)

    def to_text(self) -> str:
        """Sorted JSON with one line per card, so a diff shows one line per changed card."""
        return "".join(self.lines())

    def lines(self) -> Iterator[str]:
        """`to_text()` a line at a time: a large bank's lockfile is tens of megabytes."""
        yield "{\n"
        yield f' "version": {LOCK_VERSION},\n'
        yield ' "notetypes": {\n'
        types = sorted(self.notetypes.items())
        for n, (name, e) in enumerate(types, start=1):
            value = _LINE.encode({"changed": e.changed, "fingerprint": e.fingerprint})
            yield f"  {_string(name)}: {value}{',' if n < len(types) else ''}\n"
        yield " },\n"
        yield ' "cards": {\n'
        guids = sorted(self.cards)
        for n, guid in enumerate(guids, start=1):
            line = self.cards[guid].json_line()
            yield f"  {_string(guid)}: {line}{',' if n < len(guids) else ''}\n"
        yield " }\n"
        yield "}\n"


#: One lockfile line's JSON (one encoder for all lines: `json.dumps` makes one per call).
_LINE = json.JSONEncoder(sort_keys=True, ensure_ascii=False)
#: A JSON string literal, as that encoder writes it.
_string = json.encoder.encode_basestring
_REMOVED = ', "removed": true'


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Duplicate(key)
            seen.add(key)
    return out


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def parse_lock(text: str, path: str) -> Lock:
    """A lockfile's text -> Lock; anything malformed is a LockError at its line."""
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise LockError(
            f"lockfile is not valid JSON: {exc.msg}",
            Location(path, exc.lineno, exc.colno),
            "restore it from version control, or delete it to start over (guids are "
            "recomputed from the notes; cards you edited since may then be duplicated)",
        ) from None
    except _Duplicate as exc:
        line = _line_of(text, f'"{exc.key}"', 2)
        raise LockError(
            f"lockfile lists {exc.key!r} twice",
            Location(path, line, 1),
            "a guid belongs to one card: restore the file from version control",
        ) from None
    if not isinstance(data, dict) or data.get("version") != LOCK_VERSION:
        raise LockError(
            f"lockfile version is not {LOCK_VERSION}",
            Location(path, 1, 1),
            "it was written by another storydeck version; restore it or delete it",
        )
    cards: dict[str, LockEntry] = {}
    for guid, raw in _mapping(data.get("cards", {}), "cards", text, path).items():
        cards[guid] = _entry(guid, raw, text, path)
    notetypes: dict[str, NotetypeEntry] = {}
    for name, raw in _mapping(data.get("notetypes", {}), "notetypes", text, path).items():
        if not isinstance(raw, dict) or not isinstance(raw.get("changed"), int):
            raise _bad(name, "a note type entry needs 'fingerprint' and 'changed'", text, path)
        notetypes[name] = NotetypeEntry(str(raw.get("fingerprint", "")), raw["changed"])
    return Lock(cards, notetypes)


def _mapping(value: Any, name: str, text: str, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(name, f"'{name}' must be an object", text, path)
    return value


def _entry(guid: str, raw: Any, text: str, path: str) -> LockEntry:
    if type(raw) is dict and len(raw) in {6, 7}:
        # As storydeck writes it (a large bank's lock has hundreds of thousands of these)
        get = raw.get
        anchor, kind, key, print_ = get("anchor"), get("kind"), get("key"), get("fingerprint")
        changed, deck, removed = get("changed"), get("deck"), get("removed", False)
        if (
            type(anchor) is str
            and type(kind) is str
            and type(key) is str
            and type(print_) is str
            and type(changed) is int
            and type(deck) is str
            and type(removed) is bool
            and kind in _KINDS
        ):
            return LockEntry(anchor, kind, key, print_, changed, deck, removed)
    return _any_entry(guid, raw, text, path)


def _any_entry(guid: str, raw: Any, text: str, path: str) -> LockEntry:
    if not isinstance(raw, dict):
        raise _bad(guid, "a card entry must be an object", text, path)
    try:
        entry = LockEntry(
            anchor=_str(raw["anchor"]),
            kind=_str(raw["kind"]),
            key=_str(raw["key"]),
            fingerprint=_str(raw["fingerprint"]),
            changed=int(raw["changed"]),
            deck=_str(raw.get("deck", "")),
            removed=bool(raw.get("removed", False)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad(guid, f"card entry is incomplete or mistyped ({exc})", text, path) from None
    if entry.kind not in _KINDS:
        raise _bad(guid, f"unknown card kind {entry.kind!r}", text, path)
    return entry


_KINDS = frozenset(k.value for k in CardKind)


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, found {type(value).__name__}")
    return value


def _bad(key: str, message: str, text: str, path: str) -> LockError:
    return LockError(
        message,
        Location(path, _line_of(text, f'"{key}"', 1), 1),
        "restore the lockfile from version control",
    )


def _line_of(text: str, needle: str, occurrence: int) -> int:
    index = -1
    for _ in range(occurrence):
        index = text.find(needle, index + 1)
        if index < 0:
            return 1
    return text.count("\n", 0, index) + 1


class LockMemo(Protocol):
    """A copy of a lockfile's content kept elsewhere (see cache.LockSnapshot): it gives
    the Lock that bytes hashing to `digest` hold, if it has it."""

    def recall(self, digest: bytes) -> Lock | None: ...


def lock_digest() -> Any:
    """The hash that names a lockfile's bytes (fed as they are read or written)."""
    return hashlib.sha256()


def _bytes_digest(raw: bytes) -> bytes:
    digest = lock_digest()
    digest.update(raw)
    return bytes(digest.digest())


def read_lock_bytes(path: Path | None) -> bytes | None:
    """The lockfile's bytes at `path`, read once for a build; None when there is
    none or it cannot be read (read_lock then says why)."""
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None


def lock_bytes_digest(raw: bytes | None) -> bytes | None:
    """The hash of a lockfile's bytes (None for None)."""
    return None if raw is None else _bytes_digest(raw)


def lock_file_digest(path: Path) -> bytes | None:
    """The hash of the lockfile's bytes at `path`; None when it cannot be read."""
    return lock_bytes_digest(read_lock_bytes(path))


def read_lock(path: Path, memo: LockMemo | None = None, raw: bytes | None = None) -> Lock:
    """The lockfile at `path` (empty when there is none), or the bytes `raw` already
    read from it. With a `memo` that has the very same bytes, their Lock comes from
    it and the JSON is not parsed."""
    if raw is None and not path.exists():
        return Lock()
    try:
        if raw is None:
            raw = path.read_bytes()
        if memo is not None:
            known = memo.recall(_bytes_digest(raw))
            if known is not None:
                return known
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LockError(f"cannot read lockfile: {exc}", Location(str(path))) from None
    if "\r" in text:  # read as text files are: any line ending is a newline
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return parse_lock(text, str(path))


# --- guids and fingerprints -------------------------------------------------------------


_NOT_WORD = re.compile(r"[^\w%$€£.+-]+")
_WORD = re.compile(r"[\w%$€£.+-]+")


def _normal_text(text: str) -> str:
    """A key as compared: case-folded words, numbers and units, single spaces.

    That is, the runs of characters `_NOT_WORD` does not match, case-folded and joined
    by single spaces. Almost every key is ASCII: one byte table does the folding and
    blanks out everything else, and splitting the bytes finds the runs (a regular
    expression over a sentence costs several times that).
    """
    if text.isascii():
        return b" ".join(text.encode("ascii").translate(_ASCII_FOLD).split()).decode("ascii")
    return " ".join(_WORD.findall(text.casefold()))


#: ASCII as `_normal_text` folds it, byte for byte: each character case-folded, or a
#: space where `_NOT_WORD` matches it (splitting on spaces then leaves what the
#: expression would). Bytes above 127 never occur in ASCII text.
_ASCII_FOLD = bytes(
    [
        ord(" ") if _NOT_WORD.fullmatch(chr(byte).casefold()) else ord(chr(byte).casefold())
        for byte in range(128)
    ]
) + bytes(range(128, 256))


@lru_cache(maxsize=4096)
def _normal(text: str) -> str:
    """`_normal_text`, cached a little: a card's key and its lock entry's key, mostly
    the same text, are compared one group (story and kind) at a time."""
    return _normal_text(text)


def make_guid(anchor: str, kind: str, key: str, salt: int = 0) -> str:
    """A guid derived from what identifies the card, so a lost lock rebuilds the same ones.

    That is the first 80 bits of a hash, in lower-case base32 (RFC 4648): 16 letters
    and digits, ten bits (a pair of characters) at a time. Every card of a large bank
    gets one when first parsed, so it is worked out directly rather than through
    `base64.b32encode`.
    """
    text = f"{anchor}\x1f{kind}\x1f{_normal_text(key)}\x1f{salt}"
    bits = int.from_bytes(hashlib.sha256(text.encode()).digest()[:10], "big")
    pair = _BASE32_PAIRS
    return "".join(
        (
            pair[bits >> 70],
            pair[bits >> 60 & 1023],
            pair[bits >> 50 & 1023],
            pair[bits >> 40 & 1023],
            pair[bits >> 30 & 1023],
            pair[bits >> 20 & 1023],
            pair[bits >> 10 & 1023],
            pair[bits & 1023],
        )
    )


_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
#: Every pair of base32 characters, by the ten bits they stand for.
_BASE32_PAIRS = tuple(high + low for high in _BASE32 for low in _BASE32)


def propose_guids(cards: Iterable[Card]) -> None:
    """Work out each card's `proposed` guid now (in a parse worker: a large bank's
    first build then does not make them one by one when matching)."""
    for card in cards:
        card.proposed = make_guid(card.anchor, card.kind.value, card.key)


def card_fingerprint(card: Card, fields: Sequence[str]) -> str:
    """The card's content fingerprint (made with the card when `fields` is the note's)."""
    if tuple(fields) == FIELDS:
        return card.fingerprint
    values = card.fields
    return fingerprint([card.kind.value, *[values[f] for f in fields], " ".join(card.tags)])


# --- matching ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Moved:
    """A story whose cards now belong in another deck; Anki keeps them in the old one."""

    anchor: str
    old_deck: str
    new_deck: str
    count: int

    @property
    def story(self) -> str | None:
        """The story the cards belong to; None for prompt cards."""
        return None if self.anchor == PROMPT_ANCHOR else self.anchor

    @property
    def search(self) -> str:
        tag = self.anchor if self.anchor != PROMPT_ANCHOR else ""
        where = f'"deck:{self.old_deck}"'
        return f"{where} tag:story::{tag}" if tag else f"{where} tag:kind::prompt"


@dataclass(frozen=True)
class Identified:
    """The outcome of matching a build's cards against the lock."""

    cards: tuple[Card, ...]
    mods: Mapping[str, int]
    removed: tuple[tuple[str, LockEntry], ...]
    moved: tuple[Moved, ...]
    lock: Lock
    new: int
    updated: int
    unchanged: int
    newly_removed: int
    renamed: Mapping[str, str]
    #: The stories carried over (their notes are not among `cards`: see carry.py).
    carried: Carried = field(default_factory=Carried)


def identify(
    cards: Sequence[Card],
    lock: Lock,
    now: int,
    fields: Sequence[str],
    notetypes: Mapping[str, str] | None = None,
    *,
    carried: Carried | None = None,
) -> Identified:
    """Give every card a guid and a mod time; work out what was removed or moved.

    `fields` is the note field order (for fingerprints); `notetypes` maps each
    note type's name to its fingerprint. `carried` are stories whose cards the
    last build matched to this very lock (see carry.py): each of their notes keeps
    its guid, entry and mod time, and `cards` holds none of their cards. Raises
    StaleCarry when a carried note's entry is not as that build left it.
    """
    carried = carried or Carried()
    taken = {note.guid for _, _, notes in carried.stories for note in notes}
    by_group: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, card in enumerate(cards):
        # The kind itself (a StrEnum: equal to its value, and hashed the same) is a
        # faster key than its `.value`.
        by_group[(card.anchor, card.kind)].append(index)
    entries_by_group: dict[tuple[str, str], list[str]] = defaultdict(list)
    for guid, entry in lock.cards.items():
        if guid not in taken:
            entries_by_group[(entry.anchor, entry.kind)].append(guid)

    renamed = _renamed_anchors(
        cards, lock, by_group, entries_by_group, {anchor for _, anchor, _ in carried.stories}
    )
    for new_anchor, old_anchor in renamed.items():
        for (anchor, kind), guids in list(entries_by_group.items()):
            if anchor == old_anchor:
                entries_by_group[(new_anchor, kind)].extend(guids)
                del entries_by_group[(anchor, kind)]

    assigned: dict[int, str] = {}
    for group, indexes in by_group.items():
        guids = entries_by_group.get(group, [])
        assigned.update(_match([cards[i] for i in indexes], indexes, guids, lock))

    used = set(assigned.values())
    out_cards: list[Card] = []
    entries: dict[str, LockEntry] = {}
    mods: dict[str, int] = {}
    new = updated = unchanged = 0
    moved: dict[tuple[str, str, str], int] = defaultdict(int)
    own_prints = tuple(fields) == FIELDS  # the cards' own fingerprints are the ones wanted
    known = lock.cards.get
    for index, card in enumerate(cards):
        guid = assigned.get(index) or _fresh_guid(card, lock, used)
        used.add(guid)
        print_ = card.fingerprint if own_prints else card_fingerprint(card, fields)
        old = known(guid)
        if old is None:
            changed, deck = now, card.deck
            new += 1
        elif old.fingerprint == print_ and not old.removed:
            changed, deck = old.changed, old.deck
            unchanged += 1
        else:
            changed, deck = max(now, old.changed + 1), old.deck
            updated += 1
        if deck != card.deck:
            moved[(card.anchor, deck, card.deck)] += 1
        key = _short(card.key)
        if (
            old is not None
            and old.changed == changed
            and old.key == key
            and old.anchor == card.anchor
            and not old.removed
        ):
            entries[guid] = old  # unchanged: the lock keeps its entry as it was
        else:
            entries[guid] = LockEntry(card.anchor, card.kind.value, key, print_, changed, deck)
        mods[guid] = changed
        out_cards.append(card.with_guid(guid))
    for _, anchor, notes in carried.stories:
        for note in notes:
            old = known(note.guid)
            if (
                old is None
                or old.removed
                or old.anchor != anchor
                or old.kind != note.kind
                or old.fingerprint != note.content
                or old.changed != note.mod
            ):
                raise StaleCarry(f"{anchor}: the lock does not hold {note.guid} as carried")
            if old.deck != note.deck:
                moved[(anchor, old.deck, note.deck)] += 1
            entries[note.guid] = old
            mods[note.guid] = old.changed
        unchanged += len(notes)

    removed: list[tuple[str, LockEntry]] = []
    newly_removed = 0
    for guid in sorted(guid for guid in lock.cards if guid not in entries):
        gone = old_entry = lock.cards[guid]
        if not old_entry.removed:
            newly_removed += 1
            gone = replace(old_entry, removed=True, changed=max(now, old_entry.changed + 1))
        entries[guid] = gone
        mods[guid] = gone.changed
        removed.append((guid, gone))

    types = {}
    for name, print_ in (notetypes or {}).items():
        old_type = lock.notetypes.get(name)
        if old_type is not None and old_type.fingerprint == print_:
            types[name] = old_type
        else:
            types[name] = NotetypeEntry(print_, max(now, old_type.changed + 1) if old_type else now)

    return Identified(
        cards=tuple(out_cards),
        mods=mods,
        removed=tuple(removed),
        moved=tuple(
            Moved(anchor, old, new, count) for (anchor, old, new), count in sorted(moved.items())
        ),
        lock=Lock(entries, types),
        new=new,
        updated=updated,
        unchanged=unchanged,
        newly_removed=newly_removed,
        renamed=renamed,
        carried=carried,
    )


@lru_cache(maxsize=1 << 16)
def _short(key: str) -> str:
    """A key as the lock keeps it: single spaces, at most _KEY_LIMIT characters.

    A key that is already so is returned itself, not a copy: a large bank's lock
    then shares its keys with its cards.
    """
    short = " ".join(key.split())
    if short == key:
        short = key
    return short if len(short) <= _KEY_LIMIT else short[: _KEY_LIMIT - 1] + "…"


#: A card's key as its lock entry keeps it.
lock_key = _short


def _fresh_guid(card: Card, lock: Lock, used: set[str]) -> str:
    salt = 0
    while True:
        guid = (
            card.proposed
            if not salt and card.proposed
            else make_guid(card.anchor, card.kind.value, card.key, salt)
        )
        if guid not in used and guid not in lock.cards:
            return guid
        salt += 1


def _similarity(a: str, b: str) -> float:
    """How alike two already normalised keys are, from 0 to 1."""
    if a == b:
        return 1.0
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def _match(
    cards: Sequence[Card], indexes: Sequence[int], guids: Sequence[str], lock: Lock
) -> dict[int, str]:
    """Pair a group's cards with its lock entries: exact text first, then most similar."""
    out: dict[int, str] = {}
    entries = lock.cards
    free = sorted(guids)
    if any(entries[g].removed for g in free):  # live entries first
        free.sort(key=lambda g: entries[g].removed)
    # 0. the same text as stored (most cards of most builds): no normalising needed
    stored: dict[str, list[str]] = {}
    for guid in free:
        stored.setdefault(entries[guid].key, []).append(guid)
    rest: list[tuple[Card, int]] = []
    for card, index in zip(cards, indexes, strict=True):
        same = stored.get(_short(card.key))  # _short is cached: the build asks again below
        if same:
            out[index] = same.pop(0)
        else:
            rest.append((card, index))
    if not rest:
        return out
    taken_early = set(out.values())
    free = [g for g in free if g not in taken_early]
    if not free:
        return out
    cards, indexes = [c for c, _ in rest], [i for _, i in rest]
    normal = {g: _normal(lock.cards[g].key) for g in free}
    keys = [_normal(card.key) for card in cards]
    # 1. exact keys (live entries before removed ones)
    for key, index in zip(keys, indexes, strict=True):
        for guid in free:
            if normal[guid] == key:
                out[index] = guid
                free.remove(guid)
                break
    # 2. the most similar remaining pairs, best first; position breaks ties
    pending = [(k, i) for k, i in zip(keys, indexes, strict=True) if i not in out]
    if not pending or not free:
        return out
    order = {g: n for n, g in enumerate(sorted(free, key=lambda g: lock.cards[g].key))}
    pairs = []
    for position, (key, index) in enumerate(pending):
        for guid in free:
            score = _similarity(key, normal[guid])
            if score >= SIMILARITY:
                live = 0 if not lock.cards[guid].removed else 1
                pairs.append((-score, live, abs(position - order[guid]), index, guid))
    pairs.sort()
    taken: set[str] = set()
    for _, _, _, index, guid in pairs:
        if index in out or guid in taken:
            continue
        out[index] = guid
        taken.add(guid)
    return out


def _renamed_anchors(
    cards: Sequence[Card],
    lock: Lock,
    by_group: Mapping[tuple[str, str], list[int]],
    entries_by_group: Mapping[tuple[str, str], list[str]],
    also_current: set[str],
) -> dict[str, str]:
    """New story ids whose cards mostly match a story id that vanished: a renamed story.

    `also_current` are story ids of the build that have no cards in `cards`.
    """
    current = {anchor for anchor, _ in by_group} | also_current
    known = {anchor for anchor, _ in entries_by_group}
    gone = sorted(known - current - {PROMPT_ANCHOR})
    fresh = sorted(current - known - {PROMPT_ANCHOR})
    if not gone or not fresh:
        return {}
    out: dict[str, str] = {}
    for new_anchor in fresh:
        keys = [
            (kind, _normal(cards[i].key))
            for (a, kind), idx in by_group.items()
            if a == new_anchor
            for i in idx
        ]
        best, best_share = "", 0.0
        for old_anchor in gone:
            if old_anchor in out.values():
                continue
            old_keys = [
                (kind, _normal(lock.cards[g].key))
                for (a, kind), gs in entries_by_group.items()
                if a == old_anchor
                for g in gs
                if not lock.cards[g].removed
            ]
            if not old_keys:
                continue
            hits = sum(
                1
                for kind, key in keys
                if any(k == kind and _similarity(key, ok) >= 0.8 for k, ok in old_keys)
            )
            share = hits / max(len(keys), len(old_keys))
            if share > best_share:
                best, best_share = old_anchor, share
        if best and best_share >= RENAME_SHARE:
            out[new_anchor] = best
    return out


def forget_removed(lock: Lock) -> tuple[Lock, int]:
    """The lock without its removed cards: they stop being emitted and reported."""
    kept = {g: e for g, e in lock.cards.items() if not e.removed}
    return Lock(kept, lock.notetypes), len(lock.cards) - len(kept)


def forget_moved(lock: Lock, current_decks: Mapping[str, str]) -> tuple[Lock, int]:
    """The lock with each card's deck set to where it now belongs (after moving it in Anki)."""
    changed = 0
    entries = dict(lock.cards)
    for guid, deck in current_decks.items():
        entry = entries.get(guid)
        if entry is not None and entry.deck != deck:
            entries[guid] = replace(entry, deck=deck)
            changed += 1
    return Lock(entries, lock.notetypes), changed

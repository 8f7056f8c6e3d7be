"""`storydeck.yaml` -> Config, over the built-in defaults in `defaults.yaml`.

Every value is checked against a small schema while the YAML node tree still knows
its line and column, so a mistake is reported as `storydeck.yaml:7:3: ...`.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storydeck.errors import ConfigError
from storydeck.model import Location, Section

if TYPE_CHECKING:
    from yaml import Node as _Node

# PyYAML is imported where YAML is read: a build of notes without a storydeck.yaml
# takes the parsed defaults from the cache and never loads it (see `_defaults`).

CONFIG_NAME = "storydeck.yaml"


def _loader() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class Level:
    id: str
    aliases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Theme:
    id: str
    title: str
    aliases: tuple[str, ...]
    question: str


@dataclass(frozen=True, slots=True)
class LintConfig:
    words_per_minute: float
    max_minutes: float
    min_followups: int
    disable: frozenset[str]
    error: frozenset[str]


@dataclass(frozen=True, slots=True)
class OutputConfig:
    prefix: str
    per_level: bool
    combined: bool


@dataclass(frozen=True)
class Config:
    deck_root: str
    levels: tuple[Level, ...]
    themes: tuple[Theme, ...]
    labels: dict[Section, tuple[str, ...]]
    question_labels: tuple[str, ...]
    letters: dict[str, Section]
    trailers: tuple[str, ...]
    followups: tuple[str, ...]
    lint: LintConfig
    output: OutputConfig
    extensions: tuple[str, ...]
    allow_html: bool
    source: str = "built-in defaults"
    _theme_index: dict[str, Theme] = field(default_factory=dict, repr=False, compare=False)
    _level_index: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._theme_index.update({t.id: t for t in self.themes})
        for level in self.levels:
            for name in (level.id, *level.aliases):
                self._level_index[_fold(name)] = level.id

    def theme(self, theme_id: str) -> Theme | None:
        return self._theme_index.get(theme_id)

    def theme_title(self, theme_id: str | None) -> str:
        """The deck title of a theme; an id that is not configured reads as its words."""
        if not theme_id:
            return "General"
        theme = self._theme_index.get(theme_id)
        if theme:
            return theme.title
        return " ".join(w.capitalize() for w in re.split(r"[-_\s]+", theme_id) if w)

    def level_id(self, name: str) -> str | None:
        """The level id for a level name or alias (`IC5` -> `L5`), else None."""
        return self._level_index.get(_fold(name))


def _fold(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text.strip().casefold())


# --- schema ---------------------------------------------------------------------------


def _where(node: _Node, path: str) -> Location:
    mark = node.start_mark
    return Location(path, mark.line + 1, mark.column + 1)


def _fail(node: _Node, path: str, message: str, hint: str = "") -> ConfigError:
    return ConfigError(message, _where(node, path), hint)


def _scalar(node: _Node, path: str, kind: str) -> Any:
    import yaml

    if not isinstance(node, yaml.ScalarNode):
        raise _fail(node, path, f"expected {kind}, found a {_node_kind(node)}")
    value = yaml.load(yaml.serialize(node), Loader=_loader())
    checks: dict[str, type | tuple[type, ...]] = {
        "a string": str,
        "true or false": bool,
        "a number": (int, float),
        "a whole number": int,
    }
    expected = checks[kind]
    if kind == "a string" and isinstance(value, int | float | bool) and value is not None:
        value = node.value  # numbers and words like `yes` are fine as names
    if (
        value is None
        or not isinstance(value, expected)
        or (kind in {"a number", "a whole number"} and isinstance(value, bool))
    ):
        raise _fail(node, path, f"expected {kind}, found {node.value!r}")
    return value


def _node_kind(node: _Node) -> str:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return "mapping"
    if isinstance(node, yaml.SequenceNode):
        return "list"
    return "value"


def _mapping(node: _Node, path: str) -> list[tuple[_Node, _Node]]:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        raise _fail(node, path, f"expected a mapping, found a {_node_kind(node)}")
    seen: set[str] = set()
    for key, _ in node.value:
        name = str(key.value)
        if name in seen:
            raise _fail(key, path, f"duplicate key {name!r}")
        seen.add(name)
    return list(node.value)


def _strings(node: _Node, path: str) -> tuple[str, ...]:
    import yaml

    if isinstance(node, yaml.ScalarNode):
        return (_scalar(node, path, "a string"),)
    if not isinstance(node, yaml.SequenceNode):
        raise _fail(node, path, "expected a list of strings, found a mapping")
    return tuple(_scalar(item, path, "a string") for item in node.value)


def _unknown(key: _Node, path: str, known: list[str], where: str) -> ConfigError:
    close = difflib.get_close_matches(str(key.value), known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else "known keys: " + ", ".join(known)
    return _fail(key, path, f"unknown key {key.value!r} in {where}", hint)


_SECTION_LABELS = [s.value for s in Section]


def _read_document(node: _Node, path: str) -> dict[str, Any]:
    """Check a parsed storydeck.yaml node tree and turn it into plain data."""
    data: dict[str, Any] = {}
    top = [
        "deck_root",
        "levels",
        "themes",
        "labels",
        "trailers",
        "followups",
        "lint",
        "output",
        "extensions",
        "allow_html",
    ]
    for key, value in _mapping(node, path):
        name = str(key.value)
        if name == "deck_root":
            data[name] = _scalar(value, path, "a string")
        elif name == "levels":
            data[name] = {
                str(k.value): _strings(v, path) if not _is_null(v) else ()
                for k, v in _mapping(value, path)
            }
        elif name == "themes":
            data[name] = {str(k.value): _read_theme(v, path) for k, v in _mapping(value, path)}
        elif name == "labels":
            data[name] = _read_labels(value, path)
        elif name in {"trailers", "followups", "extensions"}:
            data[name] = _strings(value, path) if not _is_null(value) else ()
        elif name == "lint":
            data[name] = _read_fields(
                value,
                path,
                "lint",
                {
                    "words_per_minute": "a number",
                    "max_minutes": "a number",
                    "min_followups": "a whole number",
                    "disable": "strings",
                    "error": "strings",
                },
            )
        elif name == "output":
            data[name] = _read_fields(
                value,
                path,
                "output",
                {"prefix": "a string", "per_level": "true or false", "combined": "true or false"},
            )
        elif name == "allow_html":
            data[name] = _scalar(value, path, "true or false")
        else:
            raise _unknown(key, path, top, "storydeck.yaml")
    return data


def _is_null(node: _Node) -> bool:
    import yaml

    return isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")


def _read_fields(node: _Node, path: str, where: str, schema: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in _mapping(node, path):
        name = str(key.value)
        if name not in schema:
            raise _unknown(key, path, list(schema), where)
        kind = schema[name]
        out[name] = _strings(value, path) if kind == "strings" else _scalar(value, path, kind)
    return out


def _read_theme(node: _Node, path: str) -> dict[str, Any]:
    if _is_null(node):
        return {}
    return _read_fields(
        node, path, "a theme", {"title": "a string", "aliases": "strings", "question": "a string"}
    )


def _read_labels(node: _Node, path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in _mapping(node, path):
        name = str(key.value)
        if name == "letters":
            letters: dict[str, str] = {}
            for letter, section in _mapping(value, path):
                target = _scalar(section, path, "a string")
                if target not in _SECTION_LABELS:
                    raise _fail(
                        section,
                        path,
                        f"unknown section {target!r}",
                        "one of " + ", ".join(_SECTION_LABELS),
                    )
                if len(str(letter.value)) != 1:
                    raise _fail(letter, path, "a letter label is one character")
                letters[str(letter.value)] = target
            out[name] = letters
        elif name in _SECTION_LABELS or name == "question":
            out[name] = _strings(value, path)
        else:
            raise _unknown(key, path, [*_SECTION_LABELS, "question", "letters"], "labels")
    return out


# --- loading --------------------------------------------------------------------------


def _parse_yaml(text: str, path: str) -> dict[str, Any]:
    import yaml

    try:
        node = yaml.compose(text, Loader=_loader())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path)
        raise ConfigError(f"invalid YAML: {exc.problem or exc.context}", where) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", Location(path, 1, 1)) from None
    if node is None:
        return {}
    return _read_document(node, path)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _build(data: dict[str, Any], source: str) -> Config:
    themes = []
    for theme_id, theme in data["themes"].items():
        title = theme.get("title") or " ".join(w.capitalize() for w in theme_id.split("-"))
        themes.append(
            Theme(theme_id, title, tuple(theme.get("aliases", ())), theme.get("question", ""))
        )
    labels = data["labels"]
    lint = data["lint"]
    return Config(
        deck_root=data["deck_root"],
        levels=tuple(Level(k, tuple(v)) for k, v in data["levels"].items()),
        themes=tuple(themes),
        labels={Section(s): tuple(labels.get(s.value, ())) for s in Section},
        question_labels=tuple(labels.get("question", ())),
        letters={k: Section(v) for k, v in labels.get("letters", {}).items()},
        trailers=tuple(data["trailers"]),
        followups=tuple(data["followups"]),
        lint=LintConfig(
            float(lint["words_per_minute"]),
            float(lint["max_minutes"]),
            int(lint["min_followups"]),
            frozenset(lint.get("disable", ())),
            frozenset(lint.get("error", ())),
        ),
        output=OutputConfig(**data["output"]),
        extensions=tuple(e.lstrip(".").lower() for e in data["extensions"]),
        allow_html=bool(data["allow_html"]),
        source=source,
    )


_DEFAULTS: dict[str, Any] | None = None


def _defaults() -> dict[str, Any]:
    global _DEFAULTS  # noqa: PLW0603 - parsed once per process
    if _DEFAULTS is None:
        text = files("storydeck").joinpath("defaults.yaml").read_text(encoding="utf-8")
        _DEFAULTS = _kept_defaults(text)
    return _DEFAULTS


def _kept_defaults(text: str) -> dict[str, Any]:
    """defaults.yaml (`text`) parsed, as kept in the cache directory (see cache.py) when
    this text was parsed by this very module before; else parsed, and kept there once
    the directory exists (a first build that fails leaves no cache behind).

    Best effort and silent, like the parse cache: anything unexpected means parsing.
    """
    import hashlib
    import pickle

    from storydeck.cache import cache_dir, installed, write_quietly

    digest = hashlib.sha256(text.encode("utf-8") + Path(__file__).read_bytes())
    digest.update(installed(("pyyaml",)).encode())
    directory = cache_dir()
    kept = directory / f"defaults-{digest.hexdigest()[:24]}.pickle"
    try:
        data = pickle.loads(kept.read_bytes())  # our own file, in the user's cache
        if isinstance(data, dict):
            return data
    except Exception:  # missing or damaged: parsed again below
        pass
    parsed = _parse_yaml(text, "defaults.yaml")
    if directory.is_dir() and write_quietly(
        kept, lambda handle: pickle.dump(parsed, handle, protocol=pickle.HIGHEST_PROTOCOL)
    ):
        for other in directory.glob("defaults-*.pickle"):
            if other != kept:
                other.unlink(missing_ok=True)
    return parsed


def default_config() -> Config:
    return _build(_defaults(), "built-in defaults")


def load_config(notes_root: Path | None) -> Config:
    """The config of a notes directory: its storydeck.yaml over the built-in defaults."""
    if notes_root is None:
        return default_config()
    path = notes_root / CONFIG_NAME
    if not path.is_file():
        return default_config()
    shown = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config: {exc.strerror}", Location(shown)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            "config is not UTF-8", Location(shown, line, 1), "save the file as UTF-8"
        ) from None
    return config_from_text(text, shown)


def config_from_text(text: str, path: str = CONFIG_NAME) -> Config:
    return _build(_merge(_defaults(), _parse_yaml(text, path)), path)


def config_data(config: Config) -> dict[str, Any]:
    """A config as plain data in storydeck.yaml's shape (what `storydeck config` prints)."""
    reverse_letters = {letter: section.value for letter, section in config.letters.items()}
    labels: dict[str, Any] = {s.value: list(words) for s, words in config.labels.items()}
    labels["question"] = list(config.question_labels)
    labels["letters"] = reverse_letters
    return {
        "deck_root": config.deck_root,
        "levels": {level.id: list(level.aliases) for level in config.levels},
        "themes": {
            t.id: {"title": t.title, "aliases": list(t.aliases), "question": t.question}
            for t in config.themes
        },
        "labels": labels,
        "trailers": list(config.trailers),
        "followups": list(config.followups),
        "lint": {
            "words_per_minute": config.lint.words_per_minute,
            "max_minutes": config.lint.max_minutes,
            "min_followups": config.lint.min_followups,
            "disable": sorted(config.lint.disable),
            "error": sorted(config.lint.error),
        },
        "output": {
            "prefix": config.output.prefix,
            "per_level": config.output.per_level,
            "combined": config.output.combined,
        },
        "extensions": list(config.extensions),
        "allow_html": config.allow_html,
    }

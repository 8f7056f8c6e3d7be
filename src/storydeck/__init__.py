"""storydeck: behavioral-interview story notes in, Anki decks that survive editing out."""

from typing import Any

__all__ = ["__version__"]


def __getattr__(name: str) -> Any:
    """`__version__`, read from the installed metadata only when asked for (fast start-up)."""
    if name != "__version__":
        raise AttributeError(name)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("storydeck")
    except PackageNotFoundError:  # pragma: no cover - a source tree without install
        return "0+unknown"

"""storydeck: behavioral-interview story notes in, Anki decks that survive editing out."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("storydeck")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = ["__version__"]

"""The errors the library raises. Their text is what the user reads."""

from __future__ import annotations

from collections.abc import Iterable

from storydeck.model import Diagnostic, Location, Severity


class StorydeckError(Exception):
    """A problem the user has to fix; `str()` is `path:line:col: message (hint)`."""

    def __init__(self, message: str, location: Location | None = None, hint: str = "") -> None:
        self.message = message
        self.location = location
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        return f"{text} ({self.hint})" if self.hint else text

    def diagnostic(self, code: str = "error") -> Diagnostic:
        return Diagnostic(
            Severity.ERROR, self.location or Location(""), code, self.message, self.hint
        )


class ConfigError(StorydeckError):
    """`storydeck.yaml` is invalid."""


class NotesError(StorydeckError):
    """The notes could not be read or contain errors."""


class LockError(StorydeckError):
    """`storydeck.lock` is unreadable or inconsistent."""


class InputErrors(StorydeckError):
    """Several problems collected before giving up; each is a diagnostic."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        errors = [d for d in self.diagnostics if d.severity is Severity.ERROR]
        super().__init__("\n".join(str(d) for d in errors) or "invalid input")

"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import anki.collection  # noqa: F401  (imports anki in the order its modules expect)
import pytest
from click.testing import CliRunner, Result
from hypothesis import settings

from ankitools import anki_col_fixture  # noqa: F401  registers ``anki_col``
from browser import card_browser_fixture  # noqa: F401  registers ``card_browser``
from storydeck.cli import main

# On CI the property tests draw the same examples every run, so a red build always
# points at a change; elsewhere (and in `make fuzz`) they draw new ones each time.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO.parent / "shared" / "seeds"
#: Fixed build time so builds in tests are reproducible.
EPOCH = 1_760_000_000


@pytest.fixture(autouse=True)
def _private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Builds in tests keep their parse cache in a temporary folder, not in ~/.cache."""
    monkeypatch.setenv("STORYDECK_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache directory of the test's own (STORYDECK_CACHE_DIR), to look into."""
    home = tmp_path / "cache"
    monkeypatch.setenv("STORYDECK_CACHE_DIR", str(home))
    return home


@pytest.fixture
def seeds_dir() -> Path:
    """The seed notes beside the clone (../shared/seeds); tests that need them skip without."""
    if not SEEDS.is_dir():
        pytest.skip(f"seed notes not found at {SEEDS}: these acceptance tests need ../shared/seeds")
    return SEEDS


@pytest.fixture
def fixed_time(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Set the build clock (SOURCE_DATE_EPOCH); starts at EPOCH."""

    def set_time(value: int) -> None:
        monkeypatch.setenv("SOURCE_DATE_EPOCH", str(value))

    set_time(EPOCH)
    return set_time


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Run the storydeck CLI in-process: cli("build", "notes", "-o", "decks")."""
    runner = CliRunner()

    def run(*args: str | os.PathLike[str]) -> Result:
        return runner.invoke(
            main, [str(a) for a in args], prog_name="storydeck", catch_exceptions=False
        )

    return run

# storydeck: `make decks` builds source_notes/ into decks/, `make test` runs every test.
# Both set up .venv on first use; nothing else has to be installed by hand.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
NOTES  := source_notes
DECKS  := decks

.DEFAULT_GOAL := decks
.PHONY: decks test lint fmt bench fuzz screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $@ $(VENV)/.run-deps

NOTE_FILES := $(shell find $(NOTES) -type f \( -name '*.md' -o -name '*.markdown' -o -name '*.txt' \
                -o -name 'storydeck.yaml' -o -name 'storydeck.lock' \) 2>/dev/null)

# The decks are made again when the notes change, and when storydeck itself does.
CODE_FILES := $(shell find src -type f \( -name '*.py' -o -name '*.css' -o -name '*.yaml' \) 2>/dev/null)

decks: $(DECKS)/.built

$(DECKS)/.built: $(VENV)/.run-deps $(NOTE_FILES) $(CODE_FILES)
	$(BIN)/storydeck build $(NOTES) -o $(DECKS)
	@touch $@

test: $(VENV)/.test-deps lint
	$(BIN)/python -m pytest

lint: $(VENV)/.test-deps
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src bench

fmt: $(VENV)/.test-deps
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

fuzz: $(VENV)/.test-deps
	$(BIN)/python -m pytest -m slow -p no:cacheprovider tests

bench: $(VENV)/.test-deps
	$(BIN)/python -m bench

screenshots: $(VENV)/.test-deps
	$(BIN)/python -m tests.screenshots

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	rm -f $(DECKS)/.built $(DECKS)/preview.html

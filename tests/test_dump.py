"""`storydeck dump --json`: the contract of DESIGN.md section 9, and it never writes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from storydeck.model import CardKind

Cli = Callable[..., Result]

OUTAGE = """\
---
id: checkout-outage
title: Checkout outage on Black Friday
level: L5
themes: [production-incidents, leadership]
questions:
  - Tell me about a time you handled a critical production issue.
tags: [payments]
---

## Situation
Checkout failed for **15%** of users, costing *$50K/hour* in revenue.

## Task
Restore checkout before the `peak` window.

## Action
1. **Opened a war-room bridge** with the [payments](https://example.com) team.
2. Rolled back the `v2.3.1` deploy. Paged the database on-call.
3. Added a circuit breaker.

## Result
- MTTR fell from 4 hours to 45 minutes.
- No customer workload was lost.

## Lessons
- Roll back first, debug second.

## Follow-ups
### What would you do differently?
Add a **canary** stage.
"""

REFACTOR = """\
---
id: auth-refactor
title: Auth component refactor
level: L3
themes: [technical-debt]
---

## Situation
A 2000-line file made every feature take 3x longer.

## Action
- Split the file into modules
- Added tests

## Result
- Reduced complexity by 70%
"""

# The shape of seed 004's front matter: an unquoted `**` at line 3, column 14.
BAD = """\
---
title: A guide
description: **Example Question**: "Tell me about a time."
---

## Situation
Something happened.

## Result
- It was fixed.
"""

#: The keys of DESIGN.md section 9 and the JSON types of their values.
STORY_KEYS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "title": str,
    "source": str,
    "level": (str, type(None)),
    "themes": list,
    "questions": list,
    "situation": str,
    "task": str,
    "actions": list,
    "results": list,
    "metrics": list,
    "lessons": list,
    "followups": list,
}
CARD_KEYS: dict[str, type] = {
    "guid": str,
    "kind": str,
    "story": str,
    "deck": str,
    "tags": list,
    "front": str,
    "back": str,
    "source": str,
}
DIAGNOSTIC_KEYS: dict[str, type] = {"severity": str, "source": str, "code": str, "message": str}

SOURCE = re.compile(r".+:\d+")
# Markdown that must not survive into a plain-text field.
MARKUP = re.compile(r"\*\*|__|`|\]\(|^#+\s|^\s*[-*+]\s|^\s*\d+\.\s", re.MULTILINE)


def write_notes(root: Path, **notes: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in notes.items():
        (root / f"{name}.md").write_text(text, encoding="utf-8")
    return root


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under root with its bytes and modification time."""
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def dump_json(cli: Cli, *paths: Path) -> tuple[Result, dict[str, Any]]:
    result = cli("dump", *paths, "--json")
    return result, json.loads(result.stdout)


def check_keys(record: dict[str, Any], keys: dict[str, Any]) -> None:
    for key, kind in keys.items():
        assert key in record, f"missing {key!r} in {sorted(record)}"
        assert isinstance(record[key], kind), (key, record[key])


def plain_strings(story: dict[str, Any]) -> list[str]:
    """Every text value of a story record that must be plain text."""
    texts = [story["title"], story["situation"], story["task"]]
    texts += story["questions"] + story["actions"] + story["results"] + story["lessons"]
    texts += [m["text"] for m in story["metrics"]] + [m["value"] for m in story["metrics"]]
    texts += [f[k] for f in story["followups"] for k in ("question", "answer")]
    return texts


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    return write_notes(tmp_path / "notes", outage=OUTAGE, refactor=REFACTOR)


def test_dump_json_has_the_contract_keys_and_types(cli: Cli, notes: Path) -> None:
    result, data = dump_json(cli, notes)
    assert result.exit_code == 0, result.output
    assert set(data) == {"stories", "cards", "diagnostics"}
    assert [s["id"] for s in data["stories"]] == ["checkout-outage", "auth-refactor"]
    for story in data["stories"]:
        check_keys(story, STORY_KEYS)
        assert SOURCE.fullmatch(story["source"]), story["source"]
        assert all(isinstance(x, str) for x in story["themes"] + story["questions"])
        for metric in story["metrics"]:
            check_keys(metric, {"text": str, "value": str, "section": str})
            assert metric["section"] in {"summary", "situation", "task", "action", "result"}
        for followup in story["followups"]:
            check_keys(followup, {"question": str, "answer": str})
    assert data["cards"]
    for card in data["cards"]:
        check_keys(card, CARD_KEYS)
        assert card["kind"] in {k.value for k in CardKind}
        assert card["guid"]
        assert SOURCE.fullmatch(card["source"]), card["source"]
        assert all(isinstance(t, str) and " " not in t for t in card["tags"])
    for diagnostic in data["diagnostics"]:
        check_keys(diagnostic, DIAGNOSTIC_KEYS)


def test_dump_story_text_fields_are_plain(cli: Cli, notes: Path) -> None:
    _, data = dump_json(cli, notes)
    outage = data["stories"][0]
    assert outage["situation"] == "Checkout failed for 15% of users, costing $50K/hour in revenue."
    assert outage["task"] == "Restore checkout before the peak window."
    assert outage["actions"] == [
        "Opened a war-room bridge with the payments team.",
        "Rolled back the v2.3.1 deploy.",
        "Added a circuit breaker.",
    ]
    assert outage["results"] == [
        "MTTR fell from 4 hours to 45 minutes.",
        "No customer workload was lost.",
    ]
    assert outage["followups"] == [
        {"question": "What would you do differently?", "answer": "Add a canary stage."}
    ]
    assert {
        "text": "MTTR fell from 4 hours to 45 minutes.",
        "value": "4 hours → 45 minutes",
        "section": "result",
    } in outage["metrics"]
    for story in data["stories"]:
        for text in plain_strings(story):
            assert not MARKUP.search(text), text
            assert "<" not in text, text


def test_dump_cards_carry_html_fronts_and_backs(cli: Cli, notes: Path) -> None:
    _, data = dump_json(cli, notes)
    cards = data["cards"]
    kinds = {kind: [c for c in cards if c["kind"] == kind] for kind in {c["kind"] for c in cards}}
    assert set(kinds) == {k.value for k in CardKind}
    assert len(kinds["action"]) == 3 + 2
    assert len(kinds["prompt"]) == 2  # one per question and level
    for card in cards:
        assert card["front"].startswith("<div"), card["front"]
        assert card["back"], card
        assert "**" not in card["front"] + card["back"]
    first_step = next(c for c in kinds["action"] if c["story"] == "checkout-outage")
    assert "Step 1 of 3" in first_step["front"]
    assert first_step["back"] == "Opened a war-room bridge with the payments team."
    second_step = next(c for c in kinds["action"] if "Step 2 of 3" in c["front"])
    assert second_step["back"] == (
        'Rolled back the v2.3.1 deploy.\n<div class="sd-line">Paged the database on-call.</div>'
    )
    assert "After:</span> Opened a war-room bridge" in second_step["front"]
    mttr = next(c for c in kinds["metric"] if "MTTR" in c["front"])
    assert "MTTR fell from {{c1::4 hours}} to {{c1::45 minutes}}." in mttr["front"]
    assert mttr["deck"] == "Interview Stories::L5::Production Incidents"
    assert {
        "storydeck",
        "level::L5",
        "theme::production-incidents",
        "theme::leadership",
        "kind::metric",
        "story::checkout-outage",
        "payments",
    } == set(mttr["tags"])
    assert mttr["source"].endswith("outage.md:23")


def test_dump_reports_invalid_front_matter_and_exits_1(cli: Cli, tmp_path: Path) -> None:
    notes = write_notes(tmp_path / "notes", good=REFACTOR, bad=BAD)
    result, data = dump_json(cli, notes)
    assert result.exit_code == 1
    errors = [d for d in data["diagnostics"] if d["severity"] == "error"]
    assert len(errors) == 1
    (error,) = errors
    check_keys(error, DIAGNOSTIC_KEYS)
    assert error["source"].endswith("bad.md:3:14"), error["source"]
    assert error["code"]
    assert error["message"]
    assert data["cards"] == []  # an error in the notes: no cards are made
    assert [s["id"] for s in data["stories"]] == ["auth-refactor"]


def test_dump_text_output_exits_1_on_invalid_front_matter(cli: Cli, tmp_path: Path) -> None:
    notes = write_notes(tmp_path / "notes", bad=BAD)
    result = cli("dump", notes)
    assert result.exit_code == 1
    assert "bad.md:3:14" in result.output


@pytest.mark.parametrize("with_lock", [False, True], ids=["no-lock", "lock"])
@pytest.mark.parametrize("bad", [False, True], ids=["valid", "invalid"])
def test_dump_never_writes(
    cli: Cli, tmp_path: Path, fixed_time: Callable[[int], None], with_lock: bool, bad: bool
) -> None:
    notes = write_notes(tmp_path / "notes", outage=OUTAGE, refactor=REFACTOR)
    if with_lock:
        built = cli("build", notes, "-o", tmp_path / "decks")
        assert built.exit_code == 0, built.output
        assert (notes / "storydeck.lock").is_file()
        fixed_time(2_000_000_000)  # a later clock: a write would change the lockfile
        (notes / "outage.md").write_text(
            OUTAGE.replace("Added a circuit breaker.", "Added a circuit breaker to checkout."),
            encoding="utf-8",
        )
    if bad:
        (notes / "bad.md").write_text(BAD, encoding="utf-8")
    before = tree(tmp_path)
    result = cli("dump", notes, "--json")
    assert result.exit_code == (1 if bad else 0)
    json.loads(result.stdout)
    assert tree(tmp_path) == before
    assert (notes / "storydeck.lock").exists() is with_lock

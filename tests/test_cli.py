"""The command line: help, exit codes and the exact output of each command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from conftest import REPO
from storydeck import __version__
from storydeck.cli import EXAMPLES, main
from storydeck.config import config_from_text, default_config
from test_roundtrip import Note, outage, refactor

COMMANDS = sorted(main.commands)


def test_every_command_has_help_an_example_and_a_readme_entry(cli: Callable[..., Result]) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert set(EXAMPLES) == set(COMMANDS)
    for name in COMMANDS:
        result = cli(name, "--help")
        assert result.exit_code == 0, name
        assert main.commands[name].help, name
        assert f"Example:\n    {EXAMPLES[name]}\n" in result.stdout, name
        assert f"storydeck {name}" in readme, f"README does not show `storydeck {name}`"


def test_version(cli: Callable[..., Result]) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout == f"storydeck, version {__version__}\n"


def test_usage_errors_exit_2(cli: Callable[..., Result]) -> None:
    assert cli("new", "A story").exit_code == 2  # --level is required
    assert cli("build", "--no-such-option").exit_code == 2
    assert cli("no-such-command").exit_code == 2
    assert cli("dump").exit_code == 2  # PATHS is required


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "storydeck", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout == f"storydeck, version {__version__}\n"


# --- lint ---------------------------------------------------------------------------------


def good() -> Note:
    note = outage()
    note.followups = [
        ("What would you do differently now?", "Load-test the importer before launch day."),
        ("How do you measure success?", "Stalled orders per hour and time to recovery."),
    ]
    return note


def _lint(cli: Callable[..., Result], tmp_path: Path, *notes: Note, config: str = "") -> Result:
    folder = tmp_path / "notes"
    folder.mkdir(exist_ok=True)
    for note in notes:
        note.write(folder)
    if config:
        (folder / "storydeck.yaml").write_text(config, encoding="utf-8")
    return cli("lint", folder)


def test_lint_a_good_story_has_no_findings(cli: Callable[..., Result], tmp_path: Path) -> None:
    result = _lint(cli, tmp_path, good())
    assert result.exit_code == 0
    assert result.stdout == "1 story checked: 0 errors, 0 warnings.\n"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda n: (setattr(n, "task", ""), setattr(n, "situation", "")),
            "{notes}/queue-outage.md:10:1: warning: queue-outage: no Situation, Task "
            "[missing-section]\n"
            "  hint: add a `## Situation` section; interviewers listen for all four parts of "
            "STAR\n",
        ),
        (
            lambda n: setattr(n, "results", ["Order flow recovered quickly.", "Alerts improved."]),
            "{notes}/queue-outage.md:23:1: warning: queue-outage: no result is quantified "
            "[no-metric]\n"
            "  hint: add the number that shows the impact: a percentage, time saved, money, "
            "users...\n",
        ),
        (
            lambda n: setattr(
                n,
                "steps",
                [
                    "**We declared an incident** — we paged our owners.",
                    "**We throttled producers** — I capped the importer.",
                ],
            ),
            "{notes}/queue-outage.md:17:1: warning: queue-outage: the Action says 'we' 4 times "
            "and 'I' once [we-not-i]\n"
            "  hint: say what you did yourself: interviewers score your actions, not the "
            "team's\n",
        ),
        (
            lambda n: setattr(n, "questions", []),
            "{notes}/queue-outage.md:9:1: warning: queue-outage: no interview question "
            "[no-question]\n"
            "  hint: its prompt card uses the theme's question 'Tell me about a time you handled "
            "a critical production issue.'; add `questions:`\n",
        ),
        (
            lambda n: setattr(n, "situation", "The queue was full and orders stalled. " * 40),
            "{notes}/queue-outage.md:10:1: warning: queue-outage: 362 words take about 2:25 to "
            "tell (limit 2:00) [too-long]\n"
            "  hint: cut Situation and Action to the essentials, under 300 words\n",
        ),
        (
            lambda n: setattr(n, "followups", [("How do you measure success?", "")]),
            "{notes}/queue-outage.md:10:1: warning: queue-outage: 0 of the standard follow-up "
            "questions answered (want 2) [unanswered-followups]\n"
            "  hint: prepare an answer under `## Follow-ups`, e.g. `### What specific "
            "technologies did you choose and why?`\n"
            "{notes}/queue-outage.md:33:1: warning: queue-outage: no answer to 'How do you "
            "measure success?' [empty-followup]\n"
            "  hint: write two or three sentences under the question\n",
        ),
    ],
    ids=["missing-section", "no-metric", "we-not-i", "no-question", "too-long", "followups"],
)
def test_lint_rule_fires(
    cli: Callable[..., Result], tmp_path: Path, edit: Callable[[Note], object], expected: str
) -> None:
    expected = expected.replace("{notes}", str(tmp_path / "notes"))
    note = good()
    edit(note)
    result = _lint(cli, tmp_path, note)
    findings = expected.count("  hint: ")
    assert result.exit_code == 0
    assert result.stdout == (
        expected + f"1 story checked: 0 errors, {findings} warning{'s' if findings > 1 else ''}.\n"
    )


def test_lint_similar_themes_and_error_config(cli: Callable[..., Result], tmp_path: Path) -> None:
    first, second = good(), refactor()
    second.themes = ["production-incident"]
    second.followups = good().followups
    result = _lint(cli, tmp_path, first, second, config="lint:\n  error: [similar-themes]\n")
    assert result.exit_code == 1
    assert (
        f"{tmp_path}/notes/billing-refactor.md:10:1: error: themes 'production-incident' and "
        "'production-incidents' look like the same theme [similar-themes]\n"
        "  hint: use 'production-incidents' (1 story) instead of 'production-incident'\n"
    ) in result.stdout
    assert "[unknown-theme]" in result.stdout
    assert result.stdout.endswith("2 stories checked: 1 error, 1 warning.\n")


def test_lint_disable_and_unknown_rule(cli: Callable[..., Result], tmp_path: Path) -> None:
    note = good()
    note.questions, note.themes = [], []
    quiet = _lint(cli, tmp_path, note, config="lint:\n  disable: [no-question]\n")
    assert quiet.stdout == "1 story checked: 0 errors, 0 warnings.\n"
    bad = _lint(cli, tmp_path, note, config="lint:\n  disable: [no-questions]\n")
    assert bad.exit_code == 1
    assert bad.stderr == (
        f"Error: {tmp_path}/notes/storydeck.yaml: unknown lint rule 'no-questions' "
        "(did you mean 'no-question'?)\n"
    )


def test_lint_lists_its_rules(cli: Callable[..., Result]) -> None:
    result = cli("lint", "--rules")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == (
        "missing-section        the story has no Situation, Task, Action or Result text"
    )
    assert len(result.stdout.splitlines()) == 8


def test_pre_commit_hook_runs_lint() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hooks[0]["id"] == "storydeck-lint"
    assert hooks[0]["entry"] == "storydeck lint"


# --- stats --------------------------------------------------------------------------------


def test_stats_matrix(cli: Callable[..., Result], tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    outage().write(folder)
    refactor().write(folder)
    result = cli("stats", folder)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "Stories (cards) per theme and level; '-' is a gap to prepare."
    header = lines[2].split()
    assert header == ["L3", "L4", "L5", "L6", "L7"]
    rows = {line[:33].strip(): line[33:].split() for line in lines[3:12]}
    assert rows["Production Incidents"][0:2] == ["-", "-"]
    assert rows["Production Incidents"][2].isdigit()
    assert rows["Technical Debt and Refactoring"][1] == "1"
    assert lines[-1].startswith("2 stories, ")
    assert lines[-1].endswith("; 42 of 45 cells empty.")
    data = json.loads(cli("stats", folder, "--json").stdout)
    assert data["empty"] == 42
    cell = next(c for c in data["cells"] if (c["level"], c["theme"]) == ("L5", "leadership"))
    assert cell["stories"] == 1
    assert cell["cards"] > 0


# --- new ----------------------------------------------------------------------------------


def test_new_writes_a_skeleton_and_never_overwrites(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    folder = tmp_path / "notes"
    result = cli(
        "new",
        "Payment outage: part 2",
        "--level",
        "IC5",
        "--theme",
        "production-incidents",
        "--dir",
        folder,
    )
    path = folder / "production-incidents" / "payment-outage-part-2.md"
    assert result.exit_code == 0
    assert result.stdout == f"Wrote {path}: fill in each section, then run `storydeck build`.\n"
    text = path.read_text(encoding="utf-8")
    assert text.startswith('---\nid: payment-outage-part-2\ntitle: "Payment outage: part 2"\n')
    assert "level: L5\n" in text
    dumped = json.loads(cli("dump", path, "--json").stdout)
    assert dumped["stories"][0]["title"] == "Payment outage: part 2"
    # a skeleton makes no cards yet, and says so
    assert [d["code"] for d in dumped["diagnostics"]] == ["empty-story"]
    again = cli(
        "new",
        "Payment outage: part 2",
        "--level",
        "L5",
        "--theme",
        "production-incidents",
        "--dir",
        folder,
    )
    assert again.exit_code == 1
    assert again.stderr == (
        f"Error: {path}: a note with this name already exists "
        "(choose another title, or edit the existing note)\n"
    )
    assert path.read_text(encoding="utf-8") == text
    unknown = cli("new", "Other", "--level", "L9", "--dir", folder)
    assert unknown.exit_code == 1
    assert unknown.stderr == "Error: unknown level 'L9' (use one of L3, L4, L5, L6, L7)\n"


# --- preview ------------------------------------------------------------------------------


def test_preview_is_one_self_contained_page(cli: Callable[..., Result], tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    outage().write(folder)
    out = tmp_path / "preview.html"
    result = cli("preview", folder, "-o", out)
    assert result.exit_code == 0
    page = out.read_text(encoding="utf-8")
    dumped = json.loads(cli("dump", folder, "--json").stdout)
    assert result.stdout == f"Wrote {out} ({len(dumped['cards'])} notes).\n"
    for card in dumped["cards"]:
        assert f'id="{card["guid"]}-1"' in page
    assert page.count('class="preview-card"') == sum(c["anki_cards"] for c in dumped["cards"])
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert '<span class="cloze">[...]</span>' in page
    assert "Interview Stories::L5::Production Incidents" in page


# --- config -------------------------------------------------------------------------------


def test_config_prints_what_is_in_effect(cli: Callable[..., Result], tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "storydeck.yaml").write_text("deck_root: Prep\n", encoding="utf-8")
    result = cli("config", folder)
    assert result.exit_code == 0
    first, _, body = result.stdout.partition("\n")
    assert first == f"# storydeck configuration ({folder / 'storydeck.yaml'})"
    reread = config_from_text(body)
    assert reread.deck_root == "Prep"
    assert reread.themes == default_config().themes
    assert reread.labels == default_config().labels


# --- colour -------------------------------------------------------------------------------


def test_colour_only_on_request_and_never_with_no_color(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    note = good()
    note.results = ["It went fine."]
    note.write(folder)
    runner = CliRunner()
    coloured = runner.invoke(main, ["lint", str(folder)], color=True)
    assert re.search(r"\x1b\[33m(\x1b\[\d+m)*warning\x1b\[0m", coloured.stdout)
    plain = runner.invoke(main, ["lint", str(folder)], color=True, env={"NO_COLOR": "1"})
    assert "\x1b[" not in plain.stdout
    assert ": warning: " in plain.stdout


# --- make ---------------------------------------------------------------------------------


def test_make_decks_twice_does_no_work_the_second_time(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    outage().write(notes)
    decks = tmp_path / "decks"
    args = ["make", "-C", str(REPO), f"NOTES={notes}", f"DECKS={decks}", "decks"]
    first = subprocess.run(args, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    assert "Wrote " in first.stdout
    second = subprocess.run(args, capture_output=True, text=True, check=False)
    assert second.returncode == 0
    assert "storydeck build" not in second.stdout
    assert "Nothing to be done for 'decks'" in second.stdout
    (notes / "queue-outage.md").write_text(
        (notes / "queue-outage.md").read_text(encoding="utf-8").replace("30%", "35%"),
        encoding="utf-8",
    )
    third = subprocess.run(args, capture_output=True, text=True, check=False)
    assert "storydeck build" in third.stdout
    assert re.search(r"Since the last build: 0 new, [1-9]\d* updated, ", third.stdout)


# --- exact output of the everyday commands --------------------------------------------


@pytest.mark.usefixtures("fixed_time")
def test_exact_output_of_build_stats_dump_and_forget(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    notes, decks = tmp_path / "notes", tmp_path / "decks"
    notes.mkdir()
    outage().write(notes)
    refactor().write(notes)
    empty = "       -"
    stats = cli("stats", notes)
    assert (stats.exit_code, stats.stderr) == (0, "")
    assert stats.stdout == (
        "Stories (cards) per theme and level; '-' is a gap to prepare.\n"
        "\n"
        "                                        L3       L4       L5       L6       L7\n"
        f"Production Incidents              {empty} {empty}   1 (15) {empty} {empty}\n"
        f"Disagreeing with Senior Engineers {empty} {empty} {empty} {empty} {empty}\n"
        f"Technical Debt and Refactoring    {empty}    1 (9) {empty} {empty} {empty}\n"
        f"Cross-Functional Collaboration    {empty} {empty} {empty} {empty} {empty}\n"
        f"Learning and Growth               {empty} {empty} {empty} {empty} {empty}\n"
        f"Leadership                        {empty} {empty}   1 (15) {empty} {empty}\n"
        f"Conflict                          {empty} {empty} {empty} {empty} {empty}\n"
        f"Impact                            {empty} {empty} {empty} {empty} {empty}\n"
        f"Ownership                         {empty} {empty} {empty} {empty} {empty}\n"
        "\n"
        "2 stories, 24 cards; 42 of 45 cells empty.\n"
    )
    dump = cli("dump", notes)
    assert dump.exit_code == 0
    assert dump.stdout == (
        f"{notes}/billing-refactor.md:10: billing-refactor\n"
        "  Untangling the billing module\n"
        "  level L4; technical-debt\n"
        "  3 steps, 2 results, 1 lesson, 1 follow-up\n"
        f"{notes}/queue-outage.md:10: queue-outage\n"
        "  Message queue outage during a launch\n"
        "  level L5; production-incidents, leadership\n"
        "  4 steps, 3 results, 3 lessons, 2 follow-ups\n"
        "2 stories, 24 cards.\n"
    )
    build = cli("build", notes, "-o", decks)
    assert (build.exit_code, build.stderr) == (0, "")
    assert build.stdout == (
        "Read 2 stories from 2 notes.\n"
        "Cards: 24 (7 action, 3 followup, 4 lesson, 8 metric, 2 prompt).\n"
        "Since the last build: 24 new, 0 updated, 0 unchanged, 0 removed.\n"
        f"Wrote {decks}/storydeck-L4.apkg (9 notes).\n"
        f"Wrote {decks}/storydeck-L5.apkg (15 notes).\n"
        f"Wrote {decks}/storydeck-all.apkg (24 notes).\n"
    )
    lock = notes / "storydeck.lock"
    assert cli("forget-removed", notes).stdout == f"Forgot 0 removed cards in {lock}.\n"
    assert cli("forget-moved", notes).stdout == f"Forgot 0 moved cards in {lock}.\n"
    assert cli("build", notes, "-o", decks, "-q").stdout == ""


@pytest.mark.usefixtures("fixed_time")
def test_a_progress_bar_for_large_banks_on_a_terminal_only(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    outage().write(notes)
    refactor().write(notes)
    monkeypatch.setattr("storydeck.cli.PROGRESS_FILES", 1)
    assert "Reading notes" not in cli("build", notes, "-o", tmp_path / "a").stderr
    monkeypatch.setattr("storydeck.cli._stderr_is_terminal", lambda: True)
    shown = cli("build", notes, "-o", tmp_path / "b")
    assert "Reading notes" in shown.stderr
    assert "Reading notes" not in cli("build", notes, "-o", tmp_path / "c", "--json").stderr

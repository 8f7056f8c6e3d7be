"""A seeded synthetic story bank: canonical notes of about 20 cards each.

Every story has one interview question of its own (1 prompt card), two measured
sentences in its Situation and four in its Result (6 metric cards), six action
steps, four lessons and three follow-ups: 20 cards. Levels and themes rotate so
every level package gets a fifth of the bank. The same seed gives the same bytes.
"""

from __future__ import annotations

import random
from pathlib import Path

LEVELS = ("L3", "L4", "L5", "L6", "L7")
THEMES = (
    "production-incidents",
    "technical-debt",
    "cross-functional-collaboration",
    "disagreeing-with-seniors",
    "learning-and-growth",
    "leadership",
    "conflict",
    "ownership",
)
_SYSTEMS = (
    "checkout service",
    "payment gateway",
    "search index",
    "billing pipeline",
    "inventory sync",
    "auth service",
    "message queue",
    "order database",
    "recommendation engine",
    "mobile release train",
    "analytics warehouse",
    "notification fan-out",
    "feature-flag service",
    "CDN edge config",
)
_VERBS = (
    "Mapped",
    "Profiled",
    "Rewrote",
    "Split",
    "Instrumented",
    "Paired on",
    "Negotiated",
    "Documented",
    "Load-tested",
    "Rolled back",
    "Migrated",
    "Drafted",
    "Reviewed",
    "Automated",
    "Escalated",
    "Scoped",
)
_OBJECTS = (
    "the failing requests",
    "the deploy pipeline",
    "the retry policy",
    "the schema change",
    "the on-call rota",
    "the capacity plan",
    "the vendor contract",
    "the dashboard alerts",
    "the rollout plan",
    "the test suite",
    "the data backfill",
    "the API contract",
)
_DETAILS = (
    "so the team could see the blast radius at a glance",
    "which surfaced a hidden dependency on the legacy cron job",
    "and agreed the success criteria with product up front",
    "keeping every step behind a flag so it could be reverted",
    "after checking the numbers with the data team",
    "so on-call engineers had one place to look",
)
_UNITS = (
    ("minutes", 5, 90),
    ("hours", 2, 48),
    ("customers", 20, 900),
    ("services", 3, 60),
    ("engineers", 3, 40),
    ("days", 2, 30),
)
_LESSONS = (
    "Measure the baseline before changing anything, or nobody can tell what helped.",
    "Write the rollback plan before the rollout plan.",
    "Say no to scope early; it costs less than saying no late.",
    "A dashboard nobody looks at is not monitoring.",
    "Bring the dissenting engineer into the design review, not after it.",
    "Small reversible changes beat one big careful change.",
    "Put the decision and its reasons in writing the same day.",
    "Ask who is on call for a dependency before depending on it.",
)
_FOLLOWUPS = (
    "What would you do differently now?",
    "How did you measure success?",
    "What specific technologies did you choose and why?",
    "How did you bring the other team along?",
    "What was the hardest trade-off?",
)


def _amount(rng: random.Random) -> str:
    unit, low, high = rng.choice(_UNITS)
    return f"{rng.randint(low, high)} {unit}"


def story_text(index: int, rng: random.Random) -> tuple[str, str]:
    """(relative path, note text) of story `index`."""
    system = rng.choice(_SYSTEMS)
    level = LEVELS[index % len(LEVELS)]
    theme = THEMES[index % len(THEMES)]
    story_id = f"story-{index:05d}"
    percent = rng.randint(5, 60)
    money = rng.randint(10, 900)
    steps = []
    for n in range(1, 7):
        verb, obj, detail = rng.choice(_VERBS), rng.choice(_OBJECTS), rng.choice(_DETAILS)
        steps.append(f"{n}. **{verb} {obj}** — on the {system}, {detail} (step {index}-{n}).")
    results = [
        f"- Error rate on the {system} fell from {percent}% to {rng.randint(1, 4)}%.",
        f"- Saved about ${money}K per month in infrastructure for story {index}.",
        f"- Lead time for changes dropped from {rng.randint(5, 20)} days to "
        f"{rng.randint(1, 4)} days.",
        f"- The playbook is now used by {_amount(rng)} across the org (case {index}).",
    ]
    lessons = [f"- {text} (note {index}.{n})" for n, text in enumerate(rng.sample(_LESSONS, 4))]
    followups = []
    for question in rng.sample(_FOLLOWUPS, 3):
        followups += [
            f"### {question}",
            f"For the {system} I would start from the metrics, story {index}: "
            f"{rng.choice(_DETAILS)}, and {rng.choice(_DETAILS)}.",
            "",
        ]
    lines = [
        "---",
        f"id: {story_id}",
        f'title: "{system.capitalize()} work, case {index}"',
        f"level: {level}",
        f"themes: [{theme}]",
        "questions:",
        f'  - "Tell me about the {system} problem you solved in case {index}."',
        f"tags: [bench, {system.split()[0].lower()}]",
        "---",
        "",
        "## Situation",
        f"The {system} was failing for {percent}% of requests during peak traffic. "
        f"Each hour of degradation cost about ${money}K in lost orders. "
        "The team had shipped several hotfixes without finding the cause.",
        "",
        "## Task",
        f"I owned getting the {system} stable again without freezing feature work.",
        "",
        "## Action",
        *steps,
        "",
        "## Result",
        *results,
        "",
        "## Lessons",
        *lessons,
        "",
        "## Follow-ups",
        *followups,
    ]
    return f"{theme}/{story_id}.md", "\n".join(lines).rstrip("\n") + "\n"


def write_bank(root: Path, stories: int, seed: int = 8) -> list[Path]:
    """Write `stories` notes under `root`; returns their paths in order."""
    rng = random.Random(seed)
    paths = []
    for index in range(stories):
        relative, text = story_text(index, rng)
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def edit_story(path: Path, round_: int) -> None:
    """A typical edit: reword one result and one action step of a note."""
    text = path.read_text(encoding="utf-8")
    text = text.replace("fell from", f"dropped (edit {round_}) from", 1)
    text = text.replace("(step ", f"(edit {round_}, step ", 1)
    path.write_text(text, encoding="utf-8")

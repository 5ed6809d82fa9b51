"""Prompts a first visitor can try, a few per leaderboard category, one of each shown per page load.

Each sits under the category the leaderboard would file its battle in (``ratings/categories.py``
decides that from the prompt; tests/arena/test_suggestions.py checks they agree)."""

import random

from ratings.categories import ARENA_CATEGORIES

SUGGESTIONS: dict[str, tuple[str, ...]] = {
    "overall": (
        "Explain how a rainbow forms, in three sentences a ten-year-old would follow.",
        "Give me three ideas for a rainy Sunday afternoon with friends.",
        "What are the pros and cons of working from home?",
        "Write a short, friendly note declining a wedding invitation.",
    ),
    "code": (
        "Write a Python function that checks whether a string is a palindrome.",
        "What does `git rebase -i` do, and when should I use it instead of merge?",
        "Write a SQL query that finds the second highest salary in an employees table.",
        "Fix this Python: `def add(a, b): return a + c`",
    ),
    "math": (
        "What is 17 * 24? Work it out step by step.",
        "Solve for x: 3x + 7 = 25.",
        "How many ways can 5 people sit in a row of 5 chairs?",
        "Is 221 a prime number? Explain.",
    ),
    "non_english": (
        "Explique en deux phrases pourquoi le ciel est bleu.",
        "¿Cuál es la diferencia entre «ser» y «estar»? Da ejemplos.",
        "Erkläre kurz, wie ein Kühlschrank funktioniert.",
        "Quali sono tre piatti tipici della cucina siciliana?",
    ),
}


def pick_suggestions(rng: random.Random) -> list[dict]:
    """One prompt of each category, with the category's leaderboard label."""
    return [{"category": name, "label": "General" if name == "overall" else ARENA_CATEGORIES[name].label,
             "prompt": rng.choice(prompts)} for name, prompts in SUGGESTIONS.items()]

"""The suggested prompts sit under the category the leaderboard would file their battles in."""

import random

from arena.suggestions import SUGGESTIONS, pick_suggestions
from ratings.features import detect_language, is_code, is_math


def test_each_code_and_math_suggestion_is_classified_as_its_category():
    assert all(is_code(prompt) for prompt in SUGGESTIONS["code"])
    assert all(is_math(prompt) for prompt in SUGGESTIONS["math"])
    assert not any(is_code(prompt) or is_math(prompt) for prompt in SUGGESTIONS["overall"])


def test_the_non_english_suggestions_are_not_english():
    languages = [detect_language(prompt) for prompt in SUGGESTIONS["non_english"]]
    assert all(language not in ("English", "unknown") for language in languages), languages
    assert all(detect_language(prompt) == "English" for prompt in SUGGESTIONS["overall"] + SUGGESTIONS["math"])


def test_it_picks_one_of_each_category_and_rotates():
    picks = [tuple(s["prompt"] for s in pick_suggestions(random.Random(seed))) for seed in range(20)]
    assert all(len(p) == len(SUGGESTIONS) for p in picks)
    assert len(set(picks)) > 1
    assert [s["label"] for s in pick_suggestions(random.Random(0))] == ["General", "Code", "Math", "Non-English"]

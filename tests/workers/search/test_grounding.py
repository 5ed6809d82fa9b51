"""The grounding verifier: the share of the question's numbers that the answer's arithmetic uses."""

import pytest

from workers.search import SearchConfig, run_search
from workers.search.verifiers.grounding import grounding_score

from .conftest import assert_compute_adds_up

MARBLES = "Tom has 14 marbles. He buys 17 more and then gives away 7. How many marbles does he have now?"


@pytest.mark.parametrize("answer, score", [
    ("14 + 17 = 31\n31 - 7 = 24\nAnswer: 24", 1.0),
    ("14 + 17 - 7 = 24\nAnswer: 24", 1.0),
    ("14 + 7 = 21\nAnswer: 21", 2 / 3),  # tidy arithmetic on the wrong numbers
    ("3 * 2 = 6\nAnswer: 6", 0.0),
    ("He has 14 + 17 - 7 marbles.\nAnswer: 24", 0.5),  # no stated equation: no opinion
    ("Answer: 24", 0.5),
    ("There are 14 marbles and 17 more.", 0.5),
])
def test_it_scores_the_share_of_the_questions_numbers_the_working_uses(answer, score):
    assert grounding_score(MARBLES, answer) == pytest.approx(score)


def test_it_has_no_opinion_on_questions_without_numbers_and_allows_constants_of_its_own():
    assert grounding_score("What is the capital of Spain?", "2 + 2 = 4") == 0.5
    assert grounding_score("How many minutes are in 5 hours?", "5 hours * 60 minutes = 300 minutes") == 1.0


@pytest.mark.parametrize("answer", ["9" * 50_000 + " * 9 = 1", "(" * 5000 + "1 + 1 = 2", "1 + " * 20_000 + "1 = 2",
                                    "__import__('os') = 1 + 1"])
def test_hostile_answers_get_a_score_in_range(answer):
    assert 0.0 <= grounding_score(MARBLES, answer) <= 1.0


def test_majority_weighted_by_grounding_outvotes_arithmetic_on_the_wrong_numbers(tiny, scripted):
    _, loaded = tiny
    texts = ["14 + 7 = 21\nAnswer: 21", "14 + 17 = 31\n31 - 7 = 24\nAnswer: 24", "14 + 7 = 21\nAnswer: 21",
             "17 + 14 - 7 = 24\nAnswer: 24"]
    engine = scripted(lambda prompt, i: texts[i % len(texts)])
    messages = [{"role": "user", "content": MARBLES}]

    def search(**params):
        return run_search(SearchConfig.from_params(params), engine=engine, loaded=loaded, messages=messages)

    assert search(strategy="majority", n=4).trace["winner"] == "21"  # a tie goes to the first answer seen
    weighted = search(strategy="majority", n=4, verifiers=["grounding"])
    assert weighted.trace["votes"] == pytest.approx({"21": 4 / 3, "24": 2.0})
    assert weighted.trace["winner"] == "24"
    assert_compute_adds_up(weighted)

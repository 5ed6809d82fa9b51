"""The calculator in the loop: it corrects a wrong stated result while sampling, and sampling goes on from
the corrected number (Cobbe et al. 2021). Known answers come from a scripted engine; the tiny model runs
every strategy with it on."""

import math
import re

import pytest

from workers.search import SearchConfig, run_search
from workers.search.accounting import Ledger
from workers.search.calculator import first_wrong_result
from workers.search.candidates import Candidate, Problem
from workers.search.verifiers.loglik import LoglikVerifier

from .conftest import assert_compute_adds_up

QUESTION = [{"role": "user", "content": "A ticket costs 19 dollars. How many dollars do 4 tickets cost?"}]


def search(engine, loaded, **params):
    return run_search(SearchConfig.from_params(params), engine=engine, loaded=loaded, messages=QUESTION)


# An engine that rewrites a running row (BatchEngine) corrects inside the batch; one that cannot
# stops the row at the wrong number and continues it in another call. Both must give the same answers.
both_engines = pytest.mark.parametrize("rewrites", [False, True], ids=["another-call", "rewrite"])


def answer_part(prompt: str) -> str:
    """What the assistant has written so far in this prompt (the calculator's continuations carry it)."""
    return prompt.rsplit("assistant\n", 1)[-1]


@pytest.mark.parametrize("text, expression, stated, value", [
    ("4 * 19 = 74\nAnswer: 74", "4 * 19", "74", "76"),
    ("There are 61 - 40 = 18 free seats", "61 - 40", "18", "21"),
    ("5 boxes * 12 pencils per box = 61 pencils\n", "5 boxes * 12 pencils per box", "61", "60"),
    ("12 * 5 = 60\n23 + 6 = 39\n", "23 + 6", "39", "29"),
    ("3 - 11 = 2\n", "3 - 11", "2", "-8"),
    ("3 * 1.5 = 4.6.\n", "3 * 1.5", "4.6", "4.5"),
    ("10 / 4 = 2\n", "10 / 4", "2", "2.5"),
    ("10 / 3 = 3\n", "10 / 3", "3", "3.3333"),
])
def test_it_finds_a_wrong_result_and_computes_the_right_one(text, expression, stated, value):
    wrong = first_wrong_result(text)
    assert (wrong.expression, wrong.stated, wrong.value) == (expression, stated, value)
    assert text[wrong.at: wrong.at + len(stated)] == stated


def test_it_skips_results_before_the_text_it_may_still_change():
    text = "4 * 19 = 74\n2 + 2 = 5\n"
    assert first_wrong_result(text).stated == "74"
    assert first_wrong_result(text, not_before=len("4 * 19 = ")).stated == "74"
    assert first_wrong_result(text, not_before=len("4 * 19 = 7")).stated == "5"


@pytest.mark.parametrize("text", [
    "4 * 19 = 7",  # the number may go on: "= 76"
    "4 * 19 = 74.",  # or "= 74.5"
    "4 * 19 = 76\n",
    "10 / 3 = 3.33 dollars",  # rounded to the decimals written
    "x = 5\n", "12 boxes = 12 boxes\n", "2 + 2 == 5\n", "2 + 2 <= 5\n",
    "Answer: 76\n",
])
def test_it_leaves_right_unfinished_and_uncheckable_results_alone(text):
    assert first_wrong_result(text) is None


@pytest.mark.parametrize("text", [
    "9" * 5000 + " * 9 = 1\n",
    "9**9**9 = 1\n",
    "(" * 500 + "1 + 1" + ")" * 500 + " = 3\n",
    "__import__('os').system('true') = 1\n",
    "1 + " * 3000 + "1 = 2\n",
    "2 ** 1000000 = 1\n",
    "1 / 0 = 1\n",
    ("1 + 1 = 3 " * 200 + "\n") * 50,
])
def test_hostile_text_is_refused_or_checked_without_executing_anything(text):
    wrong = first_wrong_result(text)
    if wrong is not None:  # only small, safe arithmetic is ever corrected
        assert len(wrong.value) < 40 and re.fullmatch(r"-?\d+(\.\d+)?", wrong.value)


@both_engines
def test_it_corrects_a_wrong_result_and_sampling_continues_from_the_right_one(tiny, scripted, rewrites):
    _, loaded = tiny
    seen = []

    def respond(prompt, i):
        seen.append(answer_part(prompt))
        return "Answer: 76" if answer_part(prompt).endswith("= 76\n") else "4 * 19 = 74\nAnswer: 74"

    engine = scripted(respond, rewrites=rewrites)
    result = search(engine, loaded, strategy="single", calculator=True, temperature=0)
    assert result.text == "4 * 19 = 76\nAnswer: 76"
    # Sampling goes on from the corrected line: the model never saw its own "74" again.
    assert seen == ["", "4 * 19 = 76\n"]
    # A rewrite corrects the row inside its one call.
    assert (result.engine_calls, result.sequences) == (1 if rewrites else 2, 1)
    [candidate] = result.trace["candidates"]
    assert candidate["corrections"] == [{"expression": "4 * 19", "stated": "74", "value": "76"}]
    assert result.tool_tokens == candidate["tool_tokens"] > 0
    assert_compute_adds_up(result)
    without = search(engine, loaded, strategy="single", temperature=0)
    assert without.text == "4 * 19 = 74\nAnswer: 74"


@both_engines
def test_a_right_result_costs_no_extra_call(tiny, scripted, rewrites):
    _, loaded = tiny
    engine = scripted(lambda prompt, i: "4 * 19 = 76\nAnswer: 76", rewrites=rewrites)
    result = search(engine, loaded, strategy="best_of_n", n=3, calculator=True, verifiers=["checker"])
    assert engine.calls == [3]
    assert result.tool_tokens == 0
    assert_compute_adds_up(result)


@both_engines
def test_later_lines_build_on_the_corrected_number_and_are_corrected_in_turn(tiny, scripted, rewrites):
    _, loaded = tiny
    lines = {"": "12 * 5 = 61\n61 + 6 = 68\nAnswer: 68",
             "12 * 5 = 60\n": "60 + 6 = 65\nAnswer: 65",
             "12 * 5 = 60\n60 + 6 = 66\n": "Answer: 66"}
    engine = scripted(lambda prompt, i: lines[answer_part(prompt)], rewrites=rewrites)
    result = search(engine, loaded, strategy="single", calculator=True, temperature=0)
    assert result.text == "12 * 5 = 60\n60 + 6 = 66\nAnswer: 66"
    [candidate] = result.trace["candidates"]
    assert [c["stated"] for c in candidate["corrections"]] == ["61", "65"]
    assert result.engine_calls == (1 if rewrites else 3)
    assert_compute_adds_up(result)


@both_engines
def test_a_result_at_the_very_end_is_corrected_too(tiny, scripted, rewrites):
    _, loaded = tiny
    engine = scripted(lambda prompt, i: "Answer: 76" if answer_part(prompt) else "4 * 19 = 74", rewrites=rewrites)
    result = search(engine, loaded, strategy="single", calculator=True, temperature=0)
    assert result.text.startswith("4 * 19 = 76")
    assert result.text.endswith("Answer: 76")
    # The row ended before the number could be seen to be complete: it goes on in a second call either way.
    assert engine.calls == [1, 1]


@both_engines
def test_majority_votes_on_the_corrected_candidates(tiny, scripted, rewrites):
    _, loaded = tiny
    first = ["4 * 19 = 74\nAnswer: 74", "4 * 19 = 78\nAnswer: 78", "19 * 4 = 76\nAnswer: 76",
             "19 + 4 = 24\nAnswer: 24", "19 + 4 = 25\nAnswer: 25"]

    def respond(prompt, i):
        done = re.search(r"= (-?\d+)\n$", answer_part(prompt))
        return f"Answer: {done.group(1)}" if done else first[i % len(first)]

    engine = scripted(respond, rewrites=rewrites)
    plain = search(engine, loaded, strategy="majority", n=5)
    assert plain.trace["votes"] == {"74": 1, "78": 1, "76": 1, "24": 1, "25": 1}
    corrected = search(engine, loaded, strategy="majority", n=5, calculator=True)
    assert corrected.trace["votes"] == {"76": 3, "23": 2}
    assert corrected.text.endswith("Answer: 76")
    if rewrites:  # each corrected row went on in the batch
        assert engine.calls[-1] == 5 and corrected.engine_calls == 1
    else:  # one call for all five, then one more for the four rows that were corrected, together
        assert engine.calls[-2:] == [5, 4]
    assert_compute_adds_up(corrected)


@both_engines
def test_beam_steps_are_corrected_and_the_tree_records_it(tiny, scripted, rewrites):
    _, loaded = tiny

    def respond(prompt, i):
        tail = answer_part(prompt)
        if not tail:
            return "4 * 19 = 74\nmore"
        if tail.endswith("= 76\n"):
            return "Answer: 76\n"
        return "Answer: 0\n"

    engine = scripted(respond, rewrites=rewrites)
    result = search(engine, loaded, strategy="beam", beam_width=1, k=1, max_steps=3, step_tokens=16,
                    verifiers=["checker"], calculator=True, stop_at_answer=True)
    assert result.text == "4 * 19 = 76\nAnswer: 76\n"
    first = result.trace["nodes"][0]
    assert first["step"] == "4 * 19 = 76\n"
    assert result.tool_tokens > 0
    assert_compute_adds_up(result)


@both_engines
def test_a_quorum_still_holds_with_the_calculator(tiny, scripted, rewrites):
    _, loaded = tiny
    texts = ["4 * 19 = 76\nAnswer: 76", "Answer: 76", "4 * 19 = 74\nAnswer: 74",
             "First I will think about what a ticket is, and then about how many there are, and then more."]

    def respond(prompt, i):
        return "Answer: 76" if answer_part(prompt).endswith("= 76\n") else texts[i % len(texts)]

    engine = scripted(respond, rewrites=rewrites)
    result = search(engine, loaded, strategy="majority", n=4, quorum=3, calculator=True)
    reasons = [c["finish_reason"] for c in result.trace["candidates"]]
    assert reasons[:2] == ["stop", "stop"] and reasons[3] == "stopped"
    assert result.trace["winner"] == "76"
    assert_compute_adds_up(result)


def test_loglik_scores_only_the_models_own_tokens():
    candidate = Candidate(text="4 * 19 = 76", token_ids=[1, 2, 3], token_logprobs=[-1.0, -3.0, math.nan])
    [score] = LoglikVerifier(loaded=None).score(Problem([], "", [0]), [candidate], Ledger())
    assert score == pytest.approx(math.exp(-2.0))


@pytest.mark.parametrize("strategy", [
    {"strategy": "single"},
    {"strategy": "best_of_n", "n": 3, "verifiers": {"loglik": 1, "checker": 1}},
    {"strategy": "majority", "n": 3, "quorum": 2},
    {"strategy": "beam", "beam_width": 2, "k": 2, "max_steps": 2, "step_tokens": 6, "verifiers": ["loglik"]},
])
def test_each_strategy_runs_with_the_calculator_on_the_tiny_model(tiny, strategy):
    engine, loaded = tiny
    result = search(engine, loaded, max_new_tokens=12, seed=3, calculator=True, **strategy)
    assert result.text
    assert_compute_adds_up(result)


def test_calculator_must_be_true_or_false():
    assert SearchConfig.from_params({"calculator": True}).calculator
    with pytest.raises(ValueError, match="calculator must be true or false"):
        SearchConfig.from_params({"calculator": "yes"})

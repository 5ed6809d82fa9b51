"""A search streams its answer as soon as it has committed to it: best-of-N once it has chosen early,
a single sample (and retrieval) from its first token, beam search line by line as the beams agree;
majority and full best-of-N give the whole answer at once."""

import pytest

from tests.conftest import wait_until
from workers.search import SearchConfig, SearchResult, run_search, stream_search
from workers.search.calculator import settled_length
from workers.search.config import DEFAULT_CHOOSE_AFTER

from .conftest import assert_compute_adds_up

QUESTION = [{"role": "user", "content": "A ticket costs 19 dollars. How many dollars do 4 tickets cost?"}]


def stream(engine, loaded, messages=QUESTION, **params) -> tuple[list[str], SearchResult]:
    pieces, result = [], None
    for item in stream_search(SearchConfig.from_params(params), engine=engine, loaded=loaded, messages=messages):
        if isinstance(item, SearchResult):
            result = item
        else:
            pieces.append(item)
    assert "".join(pieces) == result.text
    return pieces, result


# Long answers, so that choosing after the first line is choosing on a prefix. The checker likes the second one's
# first line, which is all it sees at the mark; its second line is wrong, which it never sees.
LONG = ["4 * 19 = 74\nSo four tickets cost seventy-four dollars in all.\nAnswer: 74",
        "4 * 19 = 76\nThen 76 + 1 = 78 with the booking fee added on top.\nAnswer: 78",
        "Four tickets at nineteen dollars each cost some money.\nAnswer: 70"]


def test_best_of_n_chooses_after_a_prefix_and_streams_the_one_it_kept(tiny, scripted):
    _, loaded = tiny
    engine = scripted(lambda prompt, i: LONG[i % 3])
    first_line = len(loaded.tokenizer.encode("4 * 19 = 76\n", add_special_tokens=False))
    pieces, result = stream(engine, loaded, strategy="best_of_n", n=3, verifiers=["checker"],
                            choose_after=first_line)
    assert result.text == LONG[1]
    assert len(pieces) > 10  # token by token, not in one piece
    candidates = result.trace["candidates"]
    assert result.trace["choose_after"] == first_line
    assert [c["chosen"] for c in candidates] == [False, True, False]
    assert [c["judged_tokens"] for c in candidates] == [first_line] * 3
    assert candidates[1]["judged_text"] == "4 * 19 = 76\n"
    # The others were stopped at the choice; the one kept ran to its end.
    assert [c["finish_reason"] for c in candidates] == ["stopped", "stop", "stopped"]
    assert [c["generated_tokens"] for c in candidates[::2]] == [first_line] * 2
    assert engine.calls == [3]
    assert_compute_adds_up(result)


def test_full_best_of_n_gives_the_whole_answer_at_once(tiny, scripted):
    _, loaded = tiny
    engine = scripted(lambda prompt, i: LONG[i % 3])
    pieces, result = stream(engine, loaded, strategy="best_of_n", n=3, verifiers=["checker"], choose_after=0)
    # Judged whole, the second answer's wrong "76 + 1 = 78" costs it the choice.
    assert pieces == [result.text] == [LONG[2]]
    assert {c["finish_reason"] for c in result.trace["candidates"]} == {"stop"}
    assert "choose_after" not in result.trace
    assert_compute_adds_up(result)


def test_majority_votes_on_whole_answers_and_gives_the_winner_at_once(tiny, scripted):
    _, loaded = tiny
    engine = scripted(lambda prompt, i: ["4 * 19 = 76\nAnswer: 76", "Answer: 76", "Answer: 74"][i % 3])
    pieces, result = stream(engine, loaded, strategy="majority", n=3)
    assert pieces == [result.text] and result.trace["winner"] == "76"


def test_the_calculator_corrects_the_kept_row_as_it_goes_on_and_no_wrong_number_is_streamed(tiny, scripted):
    _, loaded = tiny

    def respond(prompt, i):
        written = prompt.rsplit("assistant\n", 1)[-1]
        if written.endswith("= 76\n"):  # continuing after the calculator's correction
            return "Answer: 76"
        return ["Four tickets cost 4 * 19 = 74\nAnswer: 74", "I do not know how much tickets cost, sorry."][i % 2]

    engine = scripted(respond, rewrites=True)
    pieces, result = stream(engine, loaded, strategy="best_of_n", n=2, verifiers=["grounding"], choose_after=4,
                            calculator=True)
    assert result.text == "Four tickets cost 4 * 19 = 76\nAnswer: 76"
    assert not any("74" in piece for piece in pieces)
    chosen = next(c for c in result.trace["candidates"] if c["chosen"])
    assert chosen["corrections"] == [{"expression": "4 * 19", "stated": "74", "value": "76"}]
    assert result.tool_tokens == chosen["tool_tokens"] > 0
    assert_compute_adds_up(result)


@pytest.mark.parametrize("rewrites", [False, True], ids=["another-call", "rewrite"])
def test_a_kept_row_that_ends_on_a_wrong_number_goes_on_from_the_right_one(tiny, scripted, rewrites):
    _, loaded = tiny

    def respond(prompt, i):
        written = prompt.rsplit("assistant\n", 1)[-1]
        return "\nAnswer: 76" if written.endswith("= 76") else "Four tickets cost 4 * 19 = 74"

    engine = scripted(respond, rewrites=rewrites)
    pieces, result = stream(engine, loaded, strategy="best_of_n", n=2, verifiers=["grounding"], choose_after=4,
                            calculator=True)
    assert result.text == "Four tickets cost 4 * 19 = 76\nAnswer: 76"
    assert not any("74" in piece for piece in pieces)
    assert len(engine.started) == 2 and engine.started[1] == 1  # the kept row alone went on
    assert_compute_adds_up(result)


def test_a_single_sample_streams_from_its_first_tokens_on_the_tiny_model(tiny):
    engine, loaded = tiny
    pieces, result = stream(engine, loaded, strategy="single", max_new_tokens=24, seed=3)
    assert len(pieces) > 5
    assert result.answer_tokens == 24 and result.engine_calls == 1
    assert_compute_adds_up(result)


def test_early_choice_on_the_tiny_model_stops_the_others_and_frees_their_rows(tiny):
    engine, loaded = tiny
    pieces, result = stream(engine, loaded, strategy="best_of_n", n=4, choose_after=4, max_new_tokens=40,
                            seed=9, verifiers=["loglik"])
    candidates = result.trace["candidates"]
    chosen = [c for c in candidates if c["chosen"]]
    assert len(chosen) == 1 and chosen[0]["tokens"] == result.answer_tokens == 40
    assert sum(c["finish_reason"] == "stopped" for c in candidates) == 3
    # The others stopped soon after their fourth token: far from the 40 the kept row wrote.
    assert all(c["generated_tokens"] < 40 for c in candidates if not c["chosen"])
    assert result.engine_calls == 1 and result.sequences == 4
    assert len(pieces) > 5
    assert result.scored_tokens == 0  # loglik read the partial rows' own log-probabilities
    assert_compute_adds_up(result)
    # the engine's thread frees the stopped and finished rows at its next step
    wait_until(lambda: engine.stats.rows == 0, timeout=10, what="the engine to free every row")


def test_a_stop_request_before_the_choice_ends_the_search(tiny):
    engine, loaded = tiny
    polls = []

    def should_stop():
        polls.append(1)
        return len(polls) > 20

    config = SearchConfig.from_params({"strategy": "best_of_n", "n": 3, "choose_after": 200,
                                       "max_new_tokens": 400, "seed": 1})
    result = run_search(config, engine=engine, loaded=loaded, messages=QUESTION, should_stop=should_stop)
    assert result.stopped
    assert {c["finish_reason"] for c in result.trace["candidates"]} == {"stopped"}
    assert_compute_adds_up(result)


def test_beam_search_streams_the_lines_every_kept_beam_agrees_on(tiny, scripted):
    _, loaded = tiny

    def respond(prompt, i):
        written = prompt.rsplit("assistant\n", 1)[-1]
        if not written:
            return ["Each ticket costs 19 dollars.\nmore", "Each ticket costs 19 dollars.\nmore"][i % 2]
        if written.count("\n") == 1:
            return ["4 * 19 = 76\n", "4 * 19 = 74\n"][i % 2]
        return "Answer: 76"

    engine = scripted(respond)
    pieces, result = stream(engine, loaded, strategy="beam", beam_width=2, k=1, max_steps=3, step_tokens=64,
                            verifiers=["checker"])
    assert result.text == "Each ticket costs 19 dollars.\n4 * 19 = 76\nAnswer: 76"
    # The first line was streamed when both beams had it, before the search ended.
    assert pieces[0] == "Each ticket costs 19 dollars."
    assert_compute_adds_up(result)


def test_retrieval_streams_the_answer_and_gives_its_sources_as_data(tiny, scripted, small_corpus, index_cache):
    _, loaded = tiny
    engine = scripted(lambda prompt, i: "The default width is 70 [1].\n\n")
    messages = [{"role": "user", "content": "What is the default width of textwrap.fill?"}]
    pieces, result = stream(engine, loaded, messages=messages, strategy="retrieve", corpus=str(small_corpus),
                            index_dir=str(index_cache), top_k=2)
    assert len(pieces) > 3
    assert "".join(pieces).strip() == "The default width is 70 [1]." == result.text.strip()
    assert [c["n"] for c in result.citations] == [1]  # listed by the page, never as answer text


@pytest.mark.parametrize("text, settled", [
    ("4 * 19 = 76\nAnswer: 7", "4 * 19 = 76\nAnswer: 7"),
    ("Four tickets cost 4 * 19 = 7", "Four tickets cost 4 * 19"),
    ("4 * 19 = 74", "4 * 19"),
    ("4 * 19 = 74.", "4 * 19"),
    ("4 * 19 =", "4 * 19"),
    ("4 * 19 = 76 dollars", "4 * 19 = 76 dollars"),
    ("x <= 7", "x <= 7"),
])
def test_text_is_settled_up_to_a_result_still_being_written(text, settled):
    assert text[: settled_length(text)] == settled


def test_choose_after_defaults_to_an_early_choice_and_a_quorum_means_whole_answers():
    assert SearchConfig.from_params({"strategy": "best_of_n"}).choose_after == DEFAULT_CHOOSE_AFTER
    assert SearchConfig.from_params({"strategy": "best_of_n", "n": 4, "quorum": 3}).choose_after == 0
    with pytest.raises(ValueError, match="quorum ends a batch of whole answers"):
        SearchConfig.from_params({"strategy": "best_of_n", "n": 4, "quorum": 3, "choose_after": 16})
    with pytest.raises(ValueError, match="choose_after must be"):
        SearchConfig.from_params({"strategy": "best_of_n", "choose_after": -1})

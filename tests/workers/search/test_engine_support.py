"""What the search strategies need from the batching engine, on the tiny model: token log-probabilities,
rows that stop on their own condition, and N copies of one prompt sharing one prefill."""

import torch

from tests.conftest import wait_until
from workers.engine import SamplingParams
from workers.engine.chat import render_prompt
from workers.engine.token_sampling import _sample, _sample_full


def prompt(loaded, text="Hi"):
    return render_prompt(loaded.tokenizer, [{"role": "user", "content": text}])


def test_it_returns_the_log_probability_of_each_token_when_asked(tiny):
    engine, loaded = tiny
    ids = prompt(loaded)
    params = SamplingParams(max_new_tokens=6, temperature=1.0, top_p=0.9, seed=3, logprobs=True)
    [completion] = engine.generate([ids], params)
    assert len(completion.token_logprobs) == len(completion.token_ids) == 6
    with torch.inference_mode():
        logits = loaded.model(torch.tensor([ids + completion.token_ids])).logits[0].float()
    logp = torch.log_softmax(logits, -1)
    for j, (token, value) in enumerate(zip(completion.token_ids, completion.token_logprobs)):
        assert abs(logp[len(ids) - 1 + j, token].item() - value) < 1e-3
    [plain] = engine.generate([ids], SamplingParams(max_new_tokens=6, temperature=1.0, top_p=0.9, seed=3))
    assert plain.token_ids == completion.token_ids and plain.token_logprobs is None


def test_a_row_ends_when_its_stop_condition_holds_and_the_others_go_on(tiny):
    engine, loaded = tiny
    params = SamplingParams(max_new_tokens=40, temperature=1.0, seed=1)
    asked = []

    def stop_when(row, text):
        asked.append(row)
        return row == 1 and len(text) >= 5

    first, second, third = engine.generate([prompt(loaded)] * 3, params, stop_when=stop_when)
    assert second.finish_reason == "stop" and 5 <= len(second.text) and second.completion_tokens < 40
    assert first.completion_tokens == third.completion_tokens == 40
    assert set(asked) == {0, 1, 2}
    wait_until(lambda: engine.stats.rows == 0)


def test_copies_of_one_prompt_share_a_prefill_and_sample_as_they_would_alone(tiny):
    engine, loaded = tiny
    ids = prompt(loaded, "Tell me something")
    params = SamplingParams(max_new_tokens=8, temperature=1.0, seed=20)
    prefills = engine.stats.prefills
    together = engine.generate([ids] * 4, params)
    assert engine.stats.prefills == prefills + 1
    for i, completion in enumerate(together):
        [alone] = engine.generate([ids], SamplingParams(max_new_tokens=8, temperature=1.0, seed=20 + i))
        assert alone.token_ids == completion.token_ids


def test_sampling_the_top_k_picks_the_same_token_as_sampling_the_fully_sorted_vocabulary():
    generator = torch.Generator().manual_seed(0)
    uniforms = torch.linspace(0, 1, 81)[:-1]
    for sharpness in (0.5, 3.0, 8.0, 20.0):  # flat (the nucleus is past the top k) to peaked (a few tokens)
        for top_p in (0.5, 0.9, 0.95, 1.0):
            logits = torch.randn(3, 5000, generator=generator) * sharpness
            for u in uniforms:
                batched = _sample(logits, torch.full((3,), top_p), u.repeat(3))
                assert batched == [_sample_full(row, top_p, u) for row in logits], (sharpness, top_p, float(u))


def test_a_row_that_cannot_be_sampled_fails_alone():
    logits = torch.randn(3, 100)
    logits[1] = float("nan")
    tokens = _sample(logits, torch.full((3,), 0.9), torch.full((3,), 0.5))
    assert isinstance(tokens[1], ValueError) and "not finite" in str(tokens[1])
    assert all(isinstance(t, int) for t in (tokens[0], tokens[2]))


def test_once_enough_rows_have_ended_the_rest_are_cut(tiny):
    engine, loaded = tiny
    params = SamplingParams(max_new_tokens=60, temperature=1.0, seed=4)
    rows = engine.generate([prompt(loaded)] * 4, params, stop_when=lambda row, text: row < 2 and len(text) >= 5,
                           enough=2)
    assert [c.finish_reason for c in rows[:2]] == ["stop", "stop"]
    assert [c.finish_reason for c in rows[2:]] == ["stopped", "stopped"]
    assert all(c.completion_tokens < 60 for c in rows)
    wait_until(lambda: engine.stats.rows == 0)

"""Verifiers run their torch work on a thread that ends with the call.

A thread that lives on after parallel torch work (a Celery worker's, a bench's main thread)
keeps an OpenMP team of its own beside the batching engine's; libgomp then sleeps between
operations and every decoding step runs ~1.7x slower (measured: a 32-token generation took
1.78 s instead of 1.05 s after the encoder had run on the main thread).
"""

import threading

from workers.search.embeddings import get_encoder
from workers.search.verifiers.loglik import mean_logprobs


def threads_of(module, monkeypatch) -> list[threading.Thread]:
    seen = []
    forward = module.forward

    def recording(*args, **kwargs):
        seen.append(threading.current_thread())
        return forward(*args, **kwargs)

    monkeypatch.setattr(module, "forward", recording)
    return seen


def test_embedding_runs_on_a_thread_that_has_ended(monkeypatch):
    encoder = get_encoder()
    seen = threads_of(encoder.model, monkeypatch)
    vectors = encoder.encode(["How many eggs are in the box?", "A box has 4 rows."])
    assert vectors.shape == (2, 384)
    assert seen and threading.current_thread() not in seen
    assert not any(t.is_alive() for t in seen)


def test_scoring_by_log_probability_runs_on_a_thread_that_has_ended(tiny, monkeypatch):
    _, loaded = tiny
    seen = threads_of(loaded.model.get_decoder(), monkeypatch)
    scores = mean_logprobs(loaded, [1, 2, 3], [[4, 5], [6]])
    assert all(s is not None and s < 0 for s in scores)
    assert seen and threading.current_thread() not in seen
    assert not any(t.is_alive() for t in seen)

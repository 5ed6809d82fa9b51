"""Prompt-to-leaderboard (light): published only when it predicts held-out votes better than the global fit."""

import numpy as np

from ratings.p2l import held_out_comparison, mean_embeddings
from ratings.synthetic import simulate_prompt_battles


def comparison(topic_spread: float):
    x, battles, topic = simulate_prompt_battles(12_000, 6, dims=16, topics=4, topic_spread=topic_spread, seed=4)
    head, result = held_out_comparison(x, battles.model_a, battles.model_b, battles.outcome, battles.n_models)
    return x, topic, head, result


def test_it_is_published_when_strengths_depend_on_the_prompt():
    x, topic, head, result = comparison(0.8)
    assert result.publish, result
    assert result.prompt_log_loss < result.global_log_loss
    assert result.votes > 2000


def test_its_leaderboard_differs_between_topics_when_strengths_do():
    x, topic, head, _ = comparison(0.8)
    boards = [head.ratings(x[topic == t].mean(axis=0)) for t in range(4)]
    assert len({int(np.argmax(board)) for board in boards}) > 1  # not one winner everywhere
    assert all(abs(board.mean() - 1000) < 1e-6 for board in boards)


def test_it_is_not_published_when_strengths_do_not_depend_on_the_prompt():
    _, _, _, result = comparison(0.0)
    assert not result.publish, result


def test_its_strengths_at_a_groups_mean_embedding_are_the_mean_of_its_strengths_over_the_group():
    x, topic, head, _ = comparison(0.8)
    means = mean_embeddings(x, {"first": topic == 0, "none": np.zeros(len(x), dtype=bool)})
    assert list(means) == ["first"]
    assert np.allclose(head.strengths(means["first"]), head.strengths(x[topic == 0]).mean(axis=0))

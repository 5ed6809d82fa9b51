"""Choose the two models of an anonymous battle."""

import random
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from ratings.pair_sampling import draw_pair, mix_weights

T = TypeVar("T")


def choose_pair(candidates: Sequence[T], weights: Sequence[float], rng: random.Random) -> tuple[T, T] | None:
    """Two distinct candidates, each drawn in proportion to its weight, in random side order.

    Returns None when fewer than two candidates have a positive weight; never divides by zero.
    """
    pool = [(c, float(w)) for c, w in zip(candidates, weights, strict=True) if w > 0 and w == w]
    if len(pool) < 2:
        return None
    first_index = _draw([w for _, w in pool], rng)
    first = pool.pop(first_index)[0]
    second = pool[_draw([w for _, w in pool], rng)][0]
    pair = [first, second]
    rng.shuffle(pair)
    return pair[0], pair[1]


def _draw(weights: list[float], rng: random.Random) -> int:
    total = sum(weights)
    point = rng.random() * total
    for index, weight in enumerate(weights):
        point -= weight
        if point < 0:
            return index
    return len(weights) - 1


def choose_active_pair(candidates: Sequence[T], ids: Sequence[int], staff_weights: Sequence[float], state: dict,
                       rng: random.Random, *, staff_share: float = 0.3, new_model_votes: int = 50,
                       new_model_share: float = 0.25) -> tuple[T, T] | None:
    """Active sampling (Chatbot Arena paper §5) among the live ``candidates`` (their endpoint ``ids``):
    the precomputed pair weights of ``state`` favour the pairs whose intervals one more vote shrinks
    most, mixed with the staff's sampling weights, and models with few votes get a guaranteed share."""
    position = {e: i for i, e in enumerate(state.get("endpoint_ids", []))}
    weights = np.asarray(state.get("weights", []), dtype=float)
    k = len(candidates)
    active = np.full((k, k), float(weights.max()) if weights.size else 1.0)  # unseen pairs: as wanted as any
    votes = np.zeros(k)
    for i, ei in enumerate(ids):
        if ei in position:
            votes[i] = state["votes"][position[ei]]
            for j, ej in enumerate(ids):
                if ej in position:
                    active[i, j] = weights[position[ei], position[ej]] + weights[position[ej], position[ei]]
    staff = np.asarray(staff_weights, dtype=float)
    eligible = staff > 0
    if eligible.sum() < 2:
        return None
    mixed = mix_weights(active, staff=staff, staff_share=staff_share, new_models=votes < new_model_votes,
                        new_model_share=new_model_share, eligible=eligible)
    if mixed.sum() <= 0:
        return None
    a, b = draw_pair(mixed, np.random.default_rng(rng.getrandbits(64)))
    return candidates[a], candidates[b]

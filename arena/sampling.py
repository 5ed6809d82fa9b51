"""Choose the two models of an anonymous battle."""

import random
from collections.abc import Sequence
from typing import TypeVar

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

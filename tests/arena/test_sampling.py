import random
from collections import Counter

from arena.sampling import choose_pair


def test_it_never_pairs_a_model_with_itself_and_shuffles_sides():
    rng = random.Random(0)
    pairs = [choose_pair(["x", "y", "z"], [1, 1, 1], rng) for _ in range(3000)]
    assert all(a != b for a, b in pairs)
    firsts = Counter(a for a, _ in pairs)
    assert all(900 < firsts[m] < 1100 for m in "xyz")


def test_it_follows_the_weights():
    rng = random.Random(1)
    seen = Counter()
    for _ in range(20000):
        seen.update(choose_pair(["heavy", "light1", "light2"], [8, 1, 1], rng))
    # heavy is in almost every pair; the two light ones share the rest
    assert seen["heavy"] > 0.85 * 20000
    assert abs(seen["light1"] - seen["light2"]) < 0.1 * seen["light1"]


def test_it_returns_none_instead_of_failing_with_too_few_models():
    rng = random.Random(2)
    assert choose_pair([], [], rng) is None
    assert choose_pair(["only"], [1.0], rng) is None
    assert choose_pair(["a", "b"], [1.0, 0.0], rng) is None
    assert choose_pair(["a", "b"], [float("nan"), 1.0], rng) is None
    assert choose_pair(["a", "b"], [0.0, 0.0], rng) is None

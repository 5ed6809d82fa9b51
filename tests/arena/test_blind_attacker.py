"""Plays the attacker against blind presentation: over many anonymous battles between a plain
contestant and a search contestant over the same model, a classifier that sees everything a
voter's client sees before the vote (every API field, every stream event with its id and arrival
time) tries to tell which side is the search contestant. Both answer with the same text here, so
only how the answers arrive could tell them apart; `bench/blind_attack.py` plays the same attack on
the demo's real contestants, whose texts differ.

The same classifier on side-by-side battles of the same pair, whose streams are not paced, is the
control: there it must find the search side, so the check is able to fail.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest

from arena.models import Backend, Battle, ModelEndpoint
from bench.blind_attack import leave_one_out_accuracy, side_features, watch_battle
from tests.conftest import TINY_QUEUE, tiny_endpoint

pytestmark = pytest.mark.slow

BLIND_BATTLES = 32
CONTROL_BATTLES = 10
PARALLEL = 4
PROMPTS = ["What is 12 + 30?", "Name a colour.", "Tell me about rivers.", "How do birds fly?",
           "Write one line about tea.", "What is a prime number?", "Count to five.", "Why is the sky blue?"]


def classify(seen_battles: list[dict]) -> dict[str, float]:
    rows = []
    for seen in seen_battles:
        battle = Battle.objects.select_related("endpoint_a").get(uuid=seen["id"])
        truth = "a" if battle.endpoint_a.backend == Backend.SEARCH else "b"
        rows.append((side_features(seen, "a"), side_features(seen, "b"), truth))
    return {feature: leave_one_out_accuracy(rows, feature) for feature in rows[0][0]}


def test_a_classifier_cannot_tell_the_search_side_before_the_vote(web, worker, arena_db, tiny_model_dir):
    # Greedy decoding on both sides, so that the search contestant (which scores its candidate and
    # then sends the answer whole, the hardest case to hide) answers with the plain contestant's
    # very text: whatever tells them apart is how the answers arrive.
    plain = tiny_endpoint("plain-model", tiny_model_dir, max_new_tokens=24, temperature=0)
    ModelEndpoint.objects.create(
        name="search-model", organisation="search-org", backend=Backend.SEARCH, queue=TINY_QUEUE,
        params={"base": plain.name, "strategy": "best_of_n", "n": 1, "choose_after": 0, "max_new_tokens": 24,
                "temperature": 0, "verifiers": {"loglik": 1.0}})

    def run(mode: str, count: int) -> list[dict]:
        models = ["plain-model", "search-model"] if mode == "named" else None
        with ThreadPoolExecutor(PARALLEL) as pool:
            return list(pool.map(lambda i: watch_battle(web, prompt=PROMPTS[i % len(PROMPTS)], mode=mode,
                                                      models=models[::1 if i % 2 else -1] if models else None,
                                                      timeout=60),
                                 range(count)))

    blind = classify(run("anony", BLIND_BATTLES))
    control = classify(run("named", CONTROL_BATTLES))
    report = "\n".join(f"  {f:40s} blind {blind[f]:.2f}   unpaced control {control[f]:.2f}" for f in blind)
    print(f"\nleave-one-out accuracy identifying the search side ({BLIND_BATTLES} blind battles):\n{report}")

    assert max(control.values()) >= 0.9, f"the control should find the search side:\n{report}"
    assert max(blind.values()) <= 0.65, f"a feature gives the search side away:\n{report}"

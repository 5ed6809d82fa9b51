"""Active sampling: anonymous pairs favour the comparisons one more vote helps most."""

import json
import random
from collections import Counter

from django.core.management import call_command
from django.test import override_settings

from arena.battles import _active_pair
from arena.models import ModelEndpoint
from arena.sampling import choose_active_pair
from ratings.snapshots import latest, recompute
from tests.ratings.helpers import synthetic_records


def test_well_measured_pairs_are_drawn_less_and_new_models_get_a_share():
    # Pair (0, 1) already has many votes: its weight is small. Endpoint 9 is new (no row at all).
    weights = [[0, 0.001, 0.05], [0, 0, 0.05], [0, 0, 0]]
    state = {"endpoint_ids": [10, 11, 12], "weights": weights, "votes": [500, 500, 60]}
    rng = random.Random(0)
    seen = Counter()
    for _ in range(6000):
        a, b = choose_active_pair(["x", "y", "z", "new"], [10, 11, 12, 9], [1, 1, 1, 1], state, rng, staff_share=0.0)
        seen[frozenset((a, b))] += 1
    assert seen[frozenset(("x", "y"))] < 0.3 * seen[frozenset(("x", "z"))]
    new_share = sum(n for pair, n in seen.items() if "new" in pair) / 6000
    assert new_share >= 0.25
    assert all(len(pair) == 2 for pair in seen)


def test_staff_weight_zero_keeps_a_model_out():
    state = {"endpoint_ids": [1, 2, 3], "weights": [[0, 1, 1], [0, 0, 1], [0, 0, 0]], "votes": [100, 100, 100]}
    rng = random.Random(1)
    for _ in range(200):
        pair = choose_active_pair(["a", "b", "c"], [1, 2, 3], [1, 1, 0], state, rng)
        assert "c" not in pair
    assert choose_active_pair(["a", "b"], [1, 2], [1, 0], state, rng) is None


def test_the_arena_samples_from_the_stored_state(arena_db, tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in synthetic_records(300)))
    call_command("import_battles", str(path))
    recompute()
    state = latest().data["sampling"]
    assert len(state["weights"]) == ModelEndpoint.objects.count() and sum(state["votes"]) == 600
    with override_settings(ARENA={**__import__("django.conf").conf.settings.ARENA, "ACTIVE_SAMPLING": True}):
        endpoints = list(ModelEndpoint.objects.all())
        ModelEndpoint.objects.update(sampling_weight=1.0)
        pairs = [_active_pair(endpoints) for _ in range(50)]
    assert all(p is not None and p[0] != p[1] for p in pairs)

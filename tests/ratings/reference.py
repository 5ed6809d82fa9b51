"""The arena-rank reference fixture (see bench/make_arena_rank_fixture.py) as `Battles`."""

import json
from functools import cache
from pathlib import Path

import numpy as np

from ratings.battle_arrays import Battles

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "arena_rank_reference.json"


@cache
def reference() -> dict:
    return json.loads(FIXTURE.read_text())


def scenario(name: str) -> dict:
    return reference()["scenarios"][name]


def scenario_battles(name: str) -> Battles:
    sc = scenario(name)
    rows = np.array(sc["battles"], dtype=np.int64)
    fields = {}
    if rows.shape[1] == 11:
        # tokens, headers, lists, bold for each side, in ratings.style.STYLE_ELEMENTS order
        fields = {"style_a": rows[:, [3, 5, 7, 9]].astype(float), "style_b": rows[:, [4, 6, 8, 10]].astype(float)}
    return Battles(
        models=tuple(sc["models"]),
        model_a=rows[:, 0].astype(np.int32),
        model_b=rows[:, 1].astype(np.int32),
        outcome=rows[:, 2].astype(np.int8),
        fields=fields,
    )


def in_reference_order(values: np.ndarray, name: str, key: str = "bt") -> np.ndarray:
    """Reorder per-model values (our model order) into arena-rank's competitor order."""
    sc = scenario(name)
    return np.asarray(values)[[sc["models"].index(m) for m in sc[key]["competitors"]]]

"""Plays the attacker against blind presentation: over many anonymous battles between a plain
contestant and a search contestant over the same model, a classifier that sees everything a
voter's client sees before the vote (every API field, every stream event with its id and arrival
time) tries to tell which side is the search contestant. Both answer with the same text here, so
only how the answers arrive could tell them apart; `bench/blind_attack.py` plays the same attack on
the demo's real contestants, whose texts differ.

The same classifier on side-by-side battles of the same pair, whose streams are not paced, is the
control: there it must find the search side, so the check is able to fail.
"""

import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from arena.models import Backend, Battle, ModelEndpoint
from tests.conftest import TINY_QUEUE, tiny_endpoint

pytestmark = pytest.mark.slow

BLIND_BATTLES = 32
CONTROL_BATTLES = 10
PARALLEL = 4
PROMPTS = ["What is 12 + 30?", "Name a colour.", "Tell me about rivers.", "How do birds fly?",
           "Write one line about tea.", "What is a prime number?", "Count to five.", "Why is the sky blue?"]


def _watch(web: str, *, prompt: str, mode: str, models=None) -> dict:
    """One battle as a client sees it before voting: its events with arrival times, then its JSON."""
    with httpx.Client(base_url=web, timeout=60) as http:
        http.headers["X-CSRFToken"] = http.get("/api/session").json()["csrf_token"]
        sent = time.monotonic()
        created = http.post("/api/battles", json={"prompt": prompt, "mode": mode, "models": models})
        assert created.status_code == 201, created.text
        battle_id = created.json()["id"]
        events, current = [], {}
        with http.stream("GET", f"/api/battles/{battle_id}/stream") as response:
            for line in response.iter_lines():
                if line == "":
                    if "event" in current:
                        # arrival to the 10 ms, finer than a client across a network can trust its clock
                        at = round(time.monotonic() - sent, 2)
                        events.append({**current, "at": at, "data": json.loads(current["data"])})
                        if current["event"] in ("idle", "timeout"):
                            break
                    current = {}
                    continue
                field, _, value = line.partition(":")
                if field in ("id", "event", "data"):
                    current[field] = value[1:] if value.startswith(" ") else value
        deadline = time.monotonic() + 60
        while not (battle := http.get(f"/api/battles/{battle_id}").json())["finished"]:
            assert time.monotonic() < deadline, battle
            time.sleep(0.05)
    return {"id": battle_id, "events": events, "battle": battle}


def side_features(seen: dict, side: str) -> dict[str, float]:
    """Every number a client can read about one side before the vote."""
    mine = [e for e in seen["events"] if e["data"].get("side") == side]
    deltas = [e for e in mine if e["event"] == "delta"]
    starts = [e["at"] for e in mine if e["event"] == "start"]
    ends = [e["at"] for e in mine if e["event"] == "end"]
    gaps = [b["at"] - a["at"] for a, b in zip(deltas, deltas[1:])]
    message = seen["battle"]["turns"][0][side]
    never = 1e9
    features = {
        "time to start event": starts[0] if starts else never,
        "time to first text": deltas[0]["at"] if deltas else never,
        "size of first text event": len(deltas[0]["data"]["text"]) if deltas else 0,
        "largest text event": max((len(e["data"]["text"]) for e in deltas), default=0),
        "text events": len(deltas),
        "mean gap between text events": statistics.fmean(gaps) if gaps else 0.0,
        "spread of gaps between text events": statistics.pstdev(gaps) if len(gaps) > 1 else 0.0,
        "time from first text to end": (ends[0] - deltas[0]["at"]) if ends and deltas else 0.0,
        "time to end event": ends[0] if ends else never,
        "event ids look like timestamps": float(any(e.get("id", "").split("-")[0].isdigit() for e in mine)),
        "answer length": len(message["text"]),
        "Sources: footer": float("Sources:" in message["text"]),
    }
    for field in ("tokens", "ttft_ms", "duration_ms"):
        features[f"API field {field}"] = -1.0 if message.get(field) is None else float(message[field])
    features["API fields present"] = float(len(message))
    for kind in ("start", "delta", "end"):
        payload_keys = {k for e in mine if e["event"] == kind for k in e["data"]}
        features[f"{kind} event fields"] = float(len(payload_keys))
    return features


def leave_one_out_accuracy(rows: list[tuple[dict, dict, str]], feature: str) -> float:
    """Balanced accuracy of "the search side is the one with the larger (or smaller) value", the
    direction chosen on the other battles for each battle in turn; a tie counts as a coin flip.
    Balanced (the mean over battles where the search side was A and where it was B), so that a rule
    that always says "A" scores 0.5 however the sides happened to fall."""
    def said_a(a: dict, b: dict, direction: int) -> float:
        difference = (a[feature] - b[feature]) * direction
        return 0.5 if difference == 0 else float(difference > 0)

    def balanced(results: list[tuple[float, str]]) -> float:
        by_truth = [[right for right, truth in results if truth == side] for side in "ab"]
        return statistics.fmean(statistics.fmean(group) for group in by_truth if group)

    def outcomes(subset, direction):
        return [(said_a(a, b, direction) if truth == "a" else 1 - said_a(a, b, direction), truth)
                for a, b, truth in subset]

    held_out = []
    for i, (a, b, truth) in enumerate(rows):
        others = rows[:i] + rows[i + 1:]
        direction = 1 if balanced(outcomes(others, 1)) >= balanced(outcomes(others, -1)) else -1
        held_out += outcomes([(a, b, truth)], direction)
    return balanced(held_out)


def classify(seen_battles: list[dict]) -> dict[str, float]:
    rows = []
    for seen in seen_battles:
        battle = Battle.objects.select_related("endpoint_a").get(uuid=seen["id"])
        truth = "a" if battle.endpoint_a.backend == Backend.SEARCH else "b"
        rows.append((side_features(seen, "a"), side_features(seen, "b"), truth))
    return {feature: leave_one_out_accuracy(rows, feature) for feature in rows[0][0]}


def test_a_classifier_cannot_tell_the_search_side_before_the_vote(web, worker, arena_db, tiny_model_dir):
    # Greedy decoding on both sides, so that the search contestant (which scores its candidate and
    # then sends the answer whole, as a searching contestant does) answers with the plain
    # contestant's very text: whatever tells them apart is how the answers arrive.
    plain = tiny_endpoint("plain-model", tiny_model_dir, max_new_tokens=24, temperature=0)
    ModelEndpoint.objects.create(
        name="search-model", organisation="search-org", backend=Backend.SEARCH, queue=TINY_QUEUE,
        params={"base": plain.name, "strategy": "best_of_n", "n": 1, "max_new_tokens": 24, "temperature": 0,
                "verifiers": {"loglik": 1.0}})
    def run(mode: str, count: int) -> list[dict]:
        models = ["plain-model", "search-model"] if mode == "named" else None
        with ThreadPoolExecutor(PARALLEL) as pool:
            return list(pool.map(lambda i: _watch(web, prompt=PROMPTS[i % len(PROMPTS)], mode=mode,
                                                  models=models[::1 if i % 2 else -1] if models else None),
                                 range(count)))

    blind = classify(run("anony", BLIND_BATTLES))
    control = classify(run("named", CONTROL_BATTLES))
    report = "\n".join(f"  {f:40s} blind {blind[f]:.2f}   unpaced control {control[f]:.2f}" for f in blind)
    print(f"\nleave-one-out accuracy identifying the search side ({BLIND_BATTLES} blind battles):\n{report}")

    assert max(control.values()) >= 0.9, f"the control should find the search side:\n{report}"
    assert max(blind.values()) <= 0.65, f"a feature gives the search side away:\n{report}"

"""Can a voter tell the search contestant apart before voting? The attack, played on the demo.

Brings up the arena as `make run` does (PostgreSQL, Redis, the web server, a worker serving the
demo's SmolLM2 contestants), plays anonymous battles through the public API with several clients
at once, and records everything a voter's client can see before the vote: every API field, every
stream event with its id and arrival time. For the battles that pair a search contestant with a
plain one, a classifier per feature ("the search side is the one with the larger value", the
direction learnt on the other battles) says which side searched; its balanced leave-one-out
accuracy is printed per feature (chance is 0.50). It also prints the time from Send until both
sides show text, p50 and p95, for pairs with and without a search contestant.

    .venv/bin/python bench/blind_attack.py --battles 40 --parallel 4

The answers' own text differs between contestants (that is what the vote is about), so the text
features (length, markers) are reported beside the presentation ones.
"""

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from the repository root

PROMPTS = [
    "What is 17 + 25?", "A shop has 48 apples and sells 19. How many are left?", "Name three colours.",
    "Explain what a list is in Python.", "Why is the sky blue?", "Write a haiku about tea.",
    "What is the capital of France?", "How many legs does a spider have?", "Give me a tip for sleeping well.",
    "What is 6 times 7?", "Describe a cat in one sentence.", "How do I reverse a string in Python?",
]
NEVER = 1e9


def watch_battle(web: str, *, prompt: str, mode: str = "anony", models: list[str] | None = None,
                 timeout: float = 600, arena: str | None = None, client: httpx.Client | None = None) -> dict:
    """One battle as a client sees it before voting: its events with arrival times (to the
    10 ms, finer than a client across a network can trust its clock), then its JSON. ``client``: a
    voter's own (its cookie, CSRF header and address), left open; by default a fresh one."""
    with nullcontext(client) if client else httpx.Client(base_url=web, timeout=timeout) as http:
        if "X-CSRFToken" not in http.headers:
            http.headers["X-CSRFToken"] = http.get("/api/session").json()["csrf_token"]
        sent = time.monotonic()
        body = {"prompt": prompt, "mode": mode, "models": models, **({"arena": arena} if arena else {})}
        created = http.post("/api/battles", json=body)
        if created.status_code != 201:
            raise RuntimeError(f"POST /api/battles answered {created.status_code}: {created.text[:200]}")
        battle_id = created.json()["id"]
        events, current = [], {}
        with http.stream("GET", f"/api/battles/{battle_id}/stream") as response:
            for line in response.iter_lines():
                if line == "":
                    if "event" in current:
                        at = round(time.monotonic() - sent, 2)
                        events.append({**current, "at": at, "data": json.loads(current["data"])})
                        if current["event"] in ("idle", "timeout"):
                            break
                    current = {}
                    continue
                field, _, value = line.partition(":")
                if field in ("id", "event", "data"):
                    current[field] = value[1:] if value.startswith(" ") else value
        deadline = time.monotonic() + timeout
        while not (battle := http.get(f"/api/battles/{battle_id}").json())["finished"]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"battle {battle_id} did not finish")
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
    features = {
        "time to start event": starts[0] if starts else NEVER,
        "time to first text": deltas[0]["at"] if deltas else NEVER,
        "size of first text event": len(deltas[0]["data"]["text"]) if deltas else 0,
        "largest text event": max((len(e["data"]["text"]) for e in deltas), default=0),
        "text events": len(deltas),
        "mean gap between text events": statistics.fmean(gaps) if gaps else 0.0,
        "spread of gaps between text events": statistics.pstdev(gaps) if len(gaps) > 1 else 0.0,
        "time from first text to end": (ends[0] - deltas[0]["at"]) if ends and deltas else 0.0,
        "time to end event": ends[0] if ends else NEVER,
        "event ids look like timestamps": float(any(e.get("id", "").split("-")[0].isdigit() for e in mine)),
        "answer length": len(message["text"]),
        "Sources: footer": float("Sources:" in message["text"]),
        "cut at the length limit": float(bool(message.get("cut"))),
        "API fields present": float(len(message)),
    }
    for field in ("tokens", "ttft_ms", "duration_ms"):
        features[f"API field {field}"] = -1.0 if message.get(field) is None else float(message[field])
    for kind in ("start", "delta", "end"):
        features[f"{kind} event fields"] = float(len({k for e in mine if e["event"] == kind for k in e["data"]}))
    return features


TEXT_FEATURES = ("answer length", "Sources: footer", "cut at the length limit")


def leave_one_out_accuracy(rows: list[tuple[dict, dict, str]], feature: str) -> float:
    """Balanced accuracy of "the search side is the one with the larger (or smaller) value", the
    direction chosen on the other battles for each battle in turn; a tie counts as a coin flip.
    Balanced (the mean over battles where the search side was A and where it was B), so that a rule
    that always says "A" scores 0.5 however the sides happened to fall. ``rows``: (features of A,
    features of B, "a" or "b" for the search side)."""
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


def split(rows: list[tuple[dict, dict, str]], feature: str) -> str:
    """In how many battles the search side's value was larger, smaller and equal to the plain side's."""
    differences = [(a[feature] - b[feature]) * (1 if truth == "a" else -1) for a, b, truth in rows]
    return f"{sum(d > 0 for d in differences)}/{sum(d < 0 for d in differences)}/{sum(d == 0 for d in differences)}"


def wilson_interval(accuracy: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of an accuracy measured on n battles: on 15 battles 0.74 is still
    [0.48, 0.89], so a figure near the target needs more battles to settle."""
    if n == 0:
        return 0.0, 1.0
    centre = (accuracy + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(accuracy * (1 - accuracy) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def both_show_text(seen: dict) -> float:
    """Seconds from Send until both sides have shown text (never: the battle had a side without)."""
    firsts = [next((e["at"] for e in seen["events"] if e["event"] == "delta" and e["data"]["side"] == side), NEVER)
              for side in "ab"]
    return max(firsts)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--battles", type=int, default=40, help="anonymous battles to play")
    parser.add_argument("--parallel", type=int, default=4, help="clients at once")
    args = parser.parse_args()

    state = Path(tempfile.mkdtemp(prefix="arena-blind-"))
    state.chmod(0o755)  # PostgreSQL runs as its own user and must reach its data folder
    from arena.localservices import free_port  # noqa: PLC0415 (after sys.path has the repository)
    from arena.stack import Stack  # noqa: PLC0415 (after sys.path has the repository)

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    stack = Stack(state=state, env=env)
    stack.stop_on_sigterm()  # a killed bench stops its services too
    try:
        stack.start_databases(pg_port=free_port(), redis_port=free_port())
        os.environ.update(DATABASE_URL=stack.env["DATABASE_URL"], REDIS_URL=stack.env["REDIS_URL"],
                          DJANGO_SETTINGS_MODULE="arena.settings")
        stack.manage("migrate", "--noinput", "-v", "0")
        stack.manage("load_demo")
        import django  # noqa: PLC0415 (set up only once the databases run)

        django.setup()
        from arena.models import Backend, Battle, ModelEndpoint  # noqa: PLC0415 (Django is set up just above)
        from workers.heartbeat import live_queues  # noqa: PLC0415 (Django is set up just above)

        stack.start_worker("worker", ["arena", "smollm2"])
        port = free_port()
        stack.start_web(port)
        web = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 600
        while "smollm2" not in live_queues():
            if time.monotonic() > deadline:
                sys.exit(f"the worker did not come up; see {stack.logs / 'worker.log'}")
            time.sleep(0.5)
        contestants = {e.name: e.backend for e in ModelEndpoint.objects.enabled()}
        print(f"[blind] contestants: {', '.join(f'{n} ({b})' for n, b in sorted(contestants.items()))}", flush=True)

        done = []

        def play(i: int) -> dict:
            seen = watch_battle(web, prompt=PROMPTS[i % len(PROMPTS)])
            done.append(seen)
            if len(done) % 5 == 0:
                print(f"[blind] {len(done)}/{args.battles} battles", flush=True)
            return seen

        started = time.monotonic()
        with ThreadPoolExecutor(args.parallel) as pool:
            seen_battles = list(pool.map(play, range(args.battles)))
        took = time.monotonic() - started

        rows, waits = [], {True: [], False: []}
        for seen in seen_battles:
            battle = Battle.objects.select_related("endpoint_a", "endpoint_b").get(uuid=seen["id"])
            search = [side for side in "ab" if battle.endpoint_for(side).backend == Backend.SEARCH]
            waits[bool(search)].append(both_show_text(seen))
            if len(search) == 1:
                rows.append((side_features(seen, "a"), side_features(seen, "b"), search[0]))
    finally:
        stack.stop()

    print(f"\n{args.battles} anonymous battles in {took:.0f} s ({args.parallel} clients at once); "
          f"{len(rows)} paired one search contestant with a plain one\n")
    print("Time from Send until both sides show text:")
    print(f"  {'pair':28s} {'battles':>8s} {'p50':>8s} {'p95':>8s}")
    for has_search, label in ((False, "no search contestant"), (True, "with a search contestant")):
        values = waits[has_search]
        print(f"  {label:28s} {len(values):8d} {percentile(values, 50):7.1f}s {percentile(values, 95):7.1f}s")
    if len(rows) < 2:
        print("\ntoo few battles with one search contestant to classify")
        return
    print(f"\nBalanced leave-one-out accuracy identifying the search side before the vote (chance 0.50), "
          f"with its 95% interval over {len(rows)} battles, and in how many battles the search side's value was "
          f"larger / smaller / equal:")
    accuracies = {feature: leave_one_out_accuracy(rows, feature) for feature in rows[0][0]}
    for feature, accuracy in sorted(accuracies.items(), key=lambda item: -item[1]):
        kind = "text" if feature in TEXT_FEATURES else "presentation"
        low, high = wilson_interval(accuracy, len(rows))
        print(f"  {feature:40s} {kind:13s} {accuracy:5.2f}  [{low:.2f}, {high:.2f}]  {split(rows, feature)}")
    print("  (Far below 0.50 is leave-one-out's artifact on a feature that splits the battles evenly: leaving one\n"
          "   battle out tips the learnt direction against it. A rule fixed in advance scores 0.50 on such a feature.)")
    presentation = max(v for f, v in accuracies.items() if f not in TEXT_FEATURES)
    text = max(v for f, v in accuracies.items() if f in TEXT_FEATURES)
    print(f"\nbest presentation feature {presentation:.2f}, best text feature {text:.2f} "
          f"(target: at most 0.65) -> {'MET' if max(presentation, text) <= 0.65 else 'NOT MET'}")


if __name__ == "__main__":
    main()

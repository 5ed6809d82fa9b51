"""The seed's experiment replayed end to end: simulated voters through the real arena recover who is better.

Brings up the arena as `make run` does (PostgreSQL, Redis, the web server, a Celery worker serving
the demo's SmolLM2 contestants, and beat where the defences are on), registers the demo's
contestants plus `smollm2-best-of-4-calc` (best-of-4 with the calculator in the loop, over
smollm2-precise), and plays anonymous battles through the public API: arithmetic word problems and
unit conversions in the text arena, questions the Python documentation answers in the search arena
(bench/search_eval_tasks.py, held-out seed). Each simulated voter is its own client (cookie, CSRF
token, its own loopback address), reads the stream to its end and the battle's JSON, i.e. exactly
what the page has before the vote, grades both answers with the search eval's checker, and votes
by its policy (arena_replay_report.VoterPolicy), solving the proof of work as the page does.
An attacker of --attacker battles pushes one contestant by answer length, the best tell there is.

Afterwards it runs the defences the deployment runs (where they are on), recomputes the
leaderboard, and reports: each contestant's accuracy beside the leaderboard (Kendall tau), the
best-of-4-calc contestant's lead over its base with its interval, the votes until that lead is
significant under uniform and active sampling (the recorded votes replayed through the pure rating
code), the same under style control, and the board with the attacker's votes as counted and as if
every vote counted.

    .venv/bin/python bench/arena_replay.py --battles 400 --search-battles 60 --attacker 40
    .venv/bin/python bench/arena_replay.py --battles 100            # part 1 ...
    .venv/bin/python bench/arena_replay.py --battles 400            # ... resumes with the same --state
    .venv/bin/python bench/arena_replay.py --report-only           # the report from what is recorded

Every battle is appended to <state>/battles.jsonl as it is voted on; a run with the same --state
plays only the battles still missing (sampling, defences and seed must match the first run).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from the repository root
sys.path.insert(0, str(ROOT / "bench"))

from arena_replay_report import (  # noqa: E402
    LengthTell,
    VoterPolicy,
    fit_board,
    honest_choice,
    kendall_tau,
    lead,
    outcome_code,
    ratings_svg,
    replay_summary,
    separated,
    votes_until_separated,
)
from blind_attack import watch_battle  # noqa: E402
from search_eval_tasks import (  # noqa: E402
    FEW_SHOT,
    Task,
    arithmetic_tasks,
    conversion_tasks,
    corpus_tasks,
    is_correct,
)

from arena.localservices import free_port  # noqa: E402
from arena.proof_of_work import solve  # noqa: E402
from arena.stack import Stack  # noqa: E402
from ratings.features import STYLE_COLUMNS  # noqa: E402

SEARCH_CONTESTANT, BASE = "smollm2-best-of-4-calc", "smollm2-precise"
CALC_PARAMS = {"base": BASE, "strategy": "best_of_n", "n": 4, "choose_after": 32, "max_new_tokens": 200,
               "calculator": True, "verifiers": {"loglik": 1.0, "consensus": 1.0, "checker": 2.0}}
HELD_OUT_SEED = 7  # the search eval tests on seed 0, chose on 1 and trained on 2 and 3
MATH_HINT = "Write the calculation as one equation, then the answer as 'Answer: <number>'."
ATTACKER_ADDRESS = "127.0.0.250"
ATTACKER_VOTES_PER_COOKIE = 40  # a fresh cookie before the per-browser cap (50 a day) would bite
# The published attacks' share of the votes (see attack_figures): hundreds among ~1.7M, and "sub-1%".
PUBLISHED_SHARES = {"Min et al. 2025, ~0.03%": 0.0003, "sub-1%, Oyarhoseini et al. 2026": 0.01}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--battles", type=int, default=400, help="honest battles in the text arena")
    parser.add_argument("--search-battles", type=int, default=60, help="honest battles in the search arena")
    parser.add_argument("--tiers", default="easy,medium",
                        help="arithmetic tiers of the text arena's prompts, beside the conversions (the hard tier is "
                             "right for almost no contestant, so its battles are decided by length alone)")
    parser.add_argument("--examples", choices=["on", "off"], default="on",
                        help="on: every demo text contestant gets the search eval's two worked examples as its "
                             "endpoint's `examples` (the same for all; without them SmolLM2-135M is almost never "
                             "right and accuracy hardly varies)")
    parser.add_argument("--arena", choices=["text", "search", "both"], default="both", help="arenas to play")
    parser.add_argument("--style-strength", type=float, default=0.3,
                        help="probability that a voter picks the longer of two equally right (or wrong) answers")
    parser.add_argument("--policy", choices=["correct-then-length"], default="correct-then-length",
                        help="the honest voters' policy (arena_replay_report.VoterPolicy)")
    parser.add_argument("--careless", type=float, default=0.1, help="share of voters who vote a or b at random")
    parser.add_argument("--attacker", type=int, default=0, help="battles the attacker plays in the text arena")
    parser.add_argument("--attack-target", default="smollm2-creative", help="the contestant the attacker pushes")
    parser.add_argument("--sampling", choices=["uniform", "active"], default="uniform",
                        help="how the arena draws pairs (ARENA_ACTIVE_SAMPLING)")
    parser.add_argument("--defences", choices=["on", "off"], default="on",
                        help="off: no daily caps on counted votes, no anomalous-voter flagging")
    parser.add_argument("--addresses", type=int, default=8, help="loopback addresses the honest voters spread over")
    parser.add_argument("--votes-per-voter", type=int, default=25, help="battles each honest voter plays")
    parser.add_argument("--parallel", type=int, default=4, help="battles in flight at once")
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED, help="task and voter seed")
    parser.add_argument("--replays", type=int, default=20, help="replays per sampling rule for votes-to-significance")
    parser.add_argument("--state", type=Path, default=ROOT / ".state" / "arena-replay",
                        help="where the stack's data and battles.jsonl live (resume by reusing it)")
    parser.add_argument("--stop-after", type=float, default=0,
                        help="start no battle after this many seconds of play (0: play them all); rerun to go on")
    parser.add_argument("--report-only", action="store_true", help="play nothing; report what is recorded")
    parser.add_argument("--json", type=Path, help="write the report as JSON here (default <state>/report.json)")
    parser.add_argument("--svg", type=Path, help="write the plot here (default <state>/ratings.svg)")
    return parser.parse_args(argv)


# --- tasks and voters -------------------------------------------------------------------------------

def text_tasks(count: int, seed: int, tiers: str, stream: str = "honest") -> list:
    """Arithmetic (the given tiers) and conversions in turn, `count` of them, all distinct prompts."""
    def rng(name):
        return random.Random(f"{seed}:{stream}:{name}")

    names = [tier for tier in tiers.split(",") if tier]
    per = math.ceil(count / (len(names) + 1))
    groups = [arithmetic_tasks(per, rng(f"arith-{tier}"), tier=tier) for tier in names]
    groups.append(conversion_tasks(per, rng("conversions")))
    return [groups[i % len(groups)][i // len(groups)] for i in range(count)]


def search_tasks(count: int, seed: int) -> list:
    pool = corpus_tasks(10_000, random.Random(f"{seed}:corpus"))
    return [pool[i % len(pool)] for i in range(count)]


def prompt_of(task, examples: str) -> str:
    """The voter's prompt: the question alone where the contestants have worked examples (they show the
    answer's form), else the question and a line asking for that form."""
    return task.question if task.kind == "corpus" or examples == "on" else f"{task.question}\n{MATH_HINT}"


def schedule(args) -> list[tuple[str, str, int]]:
    """(arena, role, index) of every battle, the attacker's spread evenly among the honest ones."""
    jobs = []
    if args.arena in ("text", "both"):
        jobs += [(i / max(args.battles, 1), ("text", "honest", i)) for i in range(args.battles)]
        jobs += [((j + 0.5) / max(args.attacker, 1), ("text", "attacker", j)) for j in range(args.attacker)]
    if args.arena in ("search", "both"):
        jobs += [(i / max(args.search_battles, 1) + 1e-9, ("search", "honest", i)) for i in range(args.search_battles)]
    return [job for _, job in sorted(jobs)]


class Voters:
    """Every simulated voter's client state (cookies, CSRF token, address), kept in the state folder
    so that a resumed run's voters are the same browsers."""

    def __init__(self, path: Path, web: str, args) -> None:
        self.path, self.web, self.args = path, web, args
        self.saved = json.loads(path.read_text()) if path.exists() else {}
        self.lock = threading.Lock()

    def client(self, name: str, address: str) -> httpx.Client:
        http = httpx.Client(base_url=self.web, timeout=900, transport=httpx.HTTPTransport(local_address=address))
        with self.lock:
            saved = self.saved.get(name)
        if saved is None:
            token = http.get("/api/session").json()["csrf_token"]
            saved = {"cookies": dict(http.cookies), "csrf": token, "address": address}
            with self.lock:
                self.saved[name] = saved
                self.path.write_text(json.dumps(self.saved, indent=1))
        for key, value in saved["cookies"].items():
            http.cookies.set(key, value)
        http.headers["X-CSRFToken"] = saved["csrf"]
        return http

    def honest(self, index: int, arena: str) -> tuple[str, str, VoterPolicy]:
        number = index // self.args.votes_per_voter
        name = f"{arena}-voter-{number}"
        careless = random.Random(f"{self.args.seed}:{name}").random() < self.args.careless
        address = f"127.0.0.{10 + number % self.args.addresses}"
        return name, address, VoterPolicy(style_strength=self.args.style_strength, careless=careless)


def vote(http: httpx.Client, battle: dict, choice: str, *, timeout: float = 120) -> dict:
    """Vote as the page does (the answers it saw, the proof of work); waits while the pacer has not
    shown everything yet (409), which a page never sees because its button is not there."""
    path = f"/api/battles/{battle['id']}/vote"
    last = battle["turns"][-1]
    proof = battle.get("proof_of_work")
    body = {"choice": choice, "attempts": {side: last[side]["attempt"] for side in "ab"},
            "turn": len(battle["turns"]) - 1, "proof": solve(proof["challenge"], proof["bits"]) if proof else ""}
    deadline = time.monotonic() + timeout
    while True:
        response = http.post(path, json=body)
        if response.status_code == 200:
            return response.json()
        if response.status_code != 409 or time.monotonic() > deadline or "failed" in response.text:
            raise RuntimeError(f"vote answered {response.status_code}: {response.text[:200]}")
        time.sleep(0.2)


# --- playing -----------------------------------------------------------------------------------------

def play_all(args, web: str, jobs: list[tuple[str, str, int]], records: list[dict], out: Path) -> None:
    from arena.models import Battle, ModelEndpoint  # noqa: PLC0415 (Django is set up by the caller)

    tasks = {"text": text_tasks(args.battles, args.seed, args.tiers),
             "search": search_tasks(args.search_battles, args.seed),
             "attack": text_tasks(args.attacker, args.seed, args.tiers, stream="attack")}
    target_public = ModelEndpoint.objects.get(name=args.attack_target).public_name
    voters = Voters(args.state / "voters.json", web, args)
    tell = LengthTell()
    for row in records:
        if row["role"] == "attacker":
            learn(tell, row, target_public)
    lock = threading.Lock()
    started, played = time.monotonic(), []
    stop_at = started + args.stop_after if args.stop_after else math.inf

    def play(job):
        arena, role, index = job
        task = tasks["attack" if role == "attacker" else arena][index]
        if role == "attacker":
            name, address, policy = f"attacker-{index // ATTACKER_VOTES_PER_COOKIE}", ATTACKER_ADDRESS, None
        else:
            name, address, policy = voters.honest(index, arena)
        rng = random.Random(f"{args.seed}:{arena}:{role}:{index}")
        if time.monotonic() > stop_at:
            return
        http = voters.client(name, address)
        try:
            seen = watch_battle(web, prompt=prompt_of(task, args.examples), arena=arena, client=http, timeout=900)
            battle = seen["battle"]
            texts = [battle["turns"][-1][side]["text"] for side in "ab"]
            correct = tuple(is_correct(task, text) for text in texts)
            lengths = tuple(len(text) for text in texts)
            with lock:
                choice = tell.guess(lengths, rng) if role == "attacker" else None
            if choice is None:
                choice = honest_choice(policy, correct=correct, lengths=lengths, rng=rng)
            voted = vote(http, battle, choice)
        finally:
            http.close()
        stored = Battle.objects.select_related("endpoint_a", "endpoint_b").get(uuid=battle["id"])
        row = {"arena": arena, "role": role, "index": index, "voter": name, "address": address,
               "careless": bool(policy and policy.careless), "kind": task.kind, "question": task.question,
               "answer": task.answer, "battle": battle["id"],
               "models": [stored.endpoint_a.name, stored.endpoint_b.name],
               "shown_as": [voted["models"][side] for side in "ab"], "correct": list(correct),
               "lengths": list(lengths), "texts": texts, "choice": choice, "counts": voted["vote"]["counts"],
               "excluded_reason": voted["vote"]["excluded_reason"]}
        with lock:
            if role == "attacker":
                learn(tell, row, target_public)
            records.append(row)
            played.append(row)
            with out.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
            if len(played) % 5 == 0 or len(played) == len(jobs):
                print(f"[replay {time.strftime('%H:%M:%S')}] {len(played)}/{len(jobs)} battles of this run, "
                      f"{len(records)} recorded; {(time.monotonic() - started) / len(played):.1f} s a battle",
                      flush=True)

    def safely(job):
        try:
            play(job)
        except Exception as exc:  # noqa: BLE001 (a failed battle is retried by the next run)
            print(f"[replay] {job} failed, left for the next run: {exc}", flush=True)

    pool = ThreadPoolExecutor(args.parallel)
    try:
        list(pool.map(safely, jobs))
    finally:
        # On SIGTERM or Ctrl-C start nothing more and do not wait: the battles in flight end with an
        # error once the stack is stopped, and are played again by the next run.
        pool.shutdown(wait=False, cancel_futures=True)


def learn(tell: LengthTell, row: dict, target_public: str) -> None:
    for side, length in enumerate(row["lengths"]):
        tell.learn(length, is_target=row["shown_as"][side] == target_public)


def run_stack(args, records: list[dict], out: Path) -> dict:
    """Play the missing battles on a fresh stack over the kept databases; return the leaderboards."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    # A best-of-4 answer on a busy 2-core machine can take longer than the reaper's 300 s.
    env.update(ARENA_ACTIVE_SAMPLING="1" if args.sampling == "active" else "0", HF_HUB_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false",
               ARENA_GENERATION_TIMEOUT=os.environ.get("ARENA_GENERATION_TIMEOUT", "1800"))
    if args.defences == "off":
        env.update(ARENA_COUNTED_VOTES_PER_CLIENT_DAY="0", ARENA_COUNTED_VOTES_PER_ADDRESS_DAY="0",
                   ARENA_RIGGING_ALPHA="0")  # no rigging tests before the recompute
    stack = Stack(state=args.state, env=env)
    stack.stop_on_sigterm()  # a killed bench stops its services too
    try:
        stack.start_databases(pg_port=free_port(), redis_port=free_port())
        os.environ.update({k: v for k, v in stack.env.items() if k.startswith(("ARENA_", "DATABASE_URL", "REDIS_URL"))},
                          DJANGO_SETTINGS_MODULE="arena.settings")
        stack.manage("migrate", "--noinput", "-v", "0")
        stack.manage("load_demo")
        stack.manage("add_endpoint", "--name", SEARCH_CONTESTANT, "--backend", "search", "--queue", "smollm2",
                     "--organisation", "Hugging Face (demo)", "--arena", "text",
                     *[f"--param={key}={json.dumps(value)}" for key, value in CALC_PARAMS.items()])
        import django  # noqa: PLC0415 (set up only once the databases run)

        django.setup()
        from arena.models import Backend, ModelEndpoint  # noqa: PLC0415 (Django is set up just above)
        from ratings.snapshots import recompute  # noqa: PLC0415 (Django is set up just above)
        from workers.heartbeat import live_queues  # noqa: PLC0415 (Django is set up just above)

        if args.examples == "on":  # the search contestants read them from their base endpoint
            for endpoint in ModelEndpoint.objects.filter(backend=Backend.TRANSFORMERS, arenas__contains=["text"]):
                endpoint.params = {**endpoint.params, "examples": FEW_SHOT}
                endpoint.save(update_fields=["params"])
        done = {(r["arena"], r["role"], r["index"]) for r in records}
        jobs = [job for job in schedule(args) if job not in done]
        port = free_port()
        web = f"http://127.0.0.1:{port}"
        if jobs and not args.report_only:
            stack.start_worker("worker", ["arena", "smollm2"])
            if args.defences == "on":
                stack.start_beat()  # the reaper, and the recompute (which runs the rigging tests first)
            stack.start_web(port)
            deadline = time.monotonic() + 900
            while "smollm2" not in live_queues():
                if time.monotonic() > deadline:
                    sys.exit(f"the worker did not come up; see {stack.logs / 'worker.log'}")
                time.sleep(0.5)
            print(f"[replay] {len(jobs)} battles to play ({len(done)} recorded before); "
                  f"sampling {args.sampling}, defences {args.defences}", flush=True)
            play_all(args, web, jobs, records, out)
        else:
            stack.start_web(port)
        recompute()  # with the defences on, the rigging tests run first, as in every recompute
        boards = {}
        with httpx.Client(base_url=web, timeout=60) as http:
            for arena in ("text", "search"):
                for style in (False, True):
                    boards[f"{arena}{' style' if style else ''}"] = http.get(
                        "/api/leaderboard", params={"arena": arena, "min_votes": 0, "style_control": style}).json()
        return {"leaderboards": boards, "votes": vote_rows([r["battle"] for r in records])}
    finally:
        stack.stop()


def vote_rows(battle_ids: list[str]) -> dict[str, dict]:
    """Per battle: whether its vote counts now (counted, and not flagged by the rigging tests), and
    its relative style differences, as the leaderboard reads them."""
    from arena.models import ModelEndpoint, Vote  # noqa: PLC0415 (Django is set up by the caller)

    rows = {}
    for battle, counts, flag_id, cleared, *style in Vote.objects.filter(battle__uuid__in=battle_ids).values_list(
            "battle__uuid", "counts", "flag__vote_id", "flag__cleared", *STYLE_COLUMNS):
        flagged = flag_id is not None and not cleared
        rows[str(battle)] = {"counts": counts and not flagged, "flagged": flagged,
                             "style": [float(x) for x in style]}
    rows["_public_names"] = {e.public_name: e.name for e in ModelEndpoint.objects.all()}
    return rows


# --- the report ----------------------------------------------------------------------------------------

def arrays(rows: list[dict], names: list[str]):
    index = {n: i for i, n in enumerate(names)}
    a = np.array([index[r["models"][0]] for r in rows], dtype=np.int64)
    b = np.array([index[r["models"][1]] for r in rows], dtype=np.int64)
    outcome = np.array([outcome_code(r["choice"]) for r in rows], dtype=np.int64)
    style = np.array([r["style"] for r in rows], dtype=float).reshape(len(rows), -1)
    return a, b, outcome, style


def accuracy_by_model(rows: list[dict]) -> dict[str, tuple[float, int]]:
    """Each contestant's share of right answers over the prompts it answered, graded again from the
    recorded texts (so a fix to the grader reaches battles recorded before it)."""
    tally: dict[str, list[int]] = {}
    for row in rows:
        task = Task(row["kind"], row["question"], row["answer"])
        for name, text in zip(row["models"], row["texts"]):
            tally.setdefault(name, []).append(int(is_correct(task, text)))
    return {name: (float(np.mean(v)), len(v)) for name, v in tally.items()}


def report(args, records: list[dict], stack_result: dict, took: float) -> dict:
    votes = stack_result["votes"]
    public = votes.pop("_public_names")
    for row in records:
        row.update(votes.get(row["battle"], {"counts": False, "flagged": False, "style": []}))
    result = {"battles": len(records), "wall_s": round(took), "settings": {
        k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    print(f"\n=== arena replay: {len(records)} battles recorded; this run {took:.0f} s "
          f"(load average {os.getloadavg()[0]:.1f}) ===")
    print(f"sampling {args.sampling}, defences {args.defences}, style strength {args.style_strength}, "
          f"careless share {args.careless}, attacker battles {args.attacker} (target {args.attack_target})")

    for arena in ("text", "search"):
        rows = [r for r in records if r["arena"] == arena]
        if not rows:
            continue
        honest = [r for r in rows if r["role"] == "honest"]
        counted = [r for r in honest if r["counts"]]
        accuracy = accuracy_by_model(rows)
        board = stack_result["leaderboards"][arena]
        styled = {public.get(r["model"], r["model"]): r.get("style_rating")
                  for r in stack_result["leaderboards"][f"{arena} style"]["rows"]}
        rated = {public.get(r["model"], r["model"]): r for r in board["rows"]}
        print(f"\n--- {arena} arena: {len(rows)} battles ({len(honest)} honest, {len(counted)} of them counted; "
              f"{len(rows) - len(honest)} attacker) ; leaderboard over {board['total_votes']} counted votes")
        print("| contestant | accuracy (answers) | rating | 95% interval | style-controlled rating | votes |")
        print("|---|---|---|---|---|---|")
        for name in sorted(accuracy, key=lambda n: -accuracy[n][0]):
            acc, n = accuracy[name]
            r = rated.get(name)
            rating = f"{r['rating']:.0f} | {r['ci_lower']:.0f} - {r['ci_upper']:.0f}" if r else "unrated | -"
            style = f"{styled[name]:.0f}" if styled.get(name) is not None else "-"
            print(f"| {name} | {acc:.2f} ({n}) | {rating} | {style} | {r['votes'] if r else 0} |")
        truth = {n: acc for n, (acc, _) in accuracy.items()}
        ratings = {n: r["rating"] for n, r in rated.items()}
        tau_all, pairs_all = kendall_tau(truth, ratings)
        tau, pairs = kendall_tau(truth, ratings, min_gap=0.10)
        tau_style, _ = kendall_tau(truth, {n: v for n, v in styled.items() if v is not None}, min_gap=0.10)
        verdict = ("no pair to judge" if not pairs else
                   "met" if tau >= 0.8 and board["total_votes"] >= 300 else "NOT MET")
        print(f"Kendall tau, leaderboard vs accuracy: {tau:.2f} over the {pairs} pairs whose accuracies differ by "
              f"more than 10 points (target >= 0.8 with >= 300 counted votes: {verdict}); "
              f"{tau_all:.2f} over all {pairs_all} pairs; style-controlled {tau_style:.2f}")
        result[arena] = {"accuracy": accuracy, "leaderboard": board["rows"], "unrated": board["unrated"],
                         "style_leaderboard": styled,
                         "kendall_tau_gap10": tau, "pairs_gap10": pairs, "kendall_tau_all": tau_all,
                         "kendall_tau_style_gap10": tau_style, "counted_votes": board["total_votes"]}
        if arena == "text":
            result["text"].update(text_arena_figures(args, counted, rows, sorted(accuracy)))
    return result


def text_arena_figures(args, counted: list[dict], rows: list[dict], names: list[str]) -> dict:
    figures: dict = {}
    if SEARCH_CONTESTANT not in names or BASE not in names or not counted:
        return figures
    model, base = names.index(SEARCH_CONTESTANT), names.index(BASE)
    a, b, outcome, style = arrays(counted, names)
    for label, s in (("plain", None), ("style control", style)):
        board = fit_board(a, b, outcome, len(names), style=s)
        if board is None:
            print(f"{label}: not every contestant is rated yet (no counted vote, or never won or never lost)")
            continue
        gap, low, high = lead(board, model, base)
        figures[f"lead {label}"] = [gap, low, high, separated(board, model, base)]
        print(f"{SEARCH_CONTESTANT} over {BASE} ({label}): {gap:+.0f} points, 95% interval {low:+.0f} to {high:+.0f}; "
              f"intervals {'do not overlap' if separated(board, model, base) else 'OVERLAP'} "
              f"({len(counted)} counted honest votes; target >= 300: {'met' if len(counted) >= 300 else 'NOT MET'})")
    rng = np.random.default_rng(args.seed)
    print(f"\nVotes until {SEARCH_CONTESTANT} sits above {BASE} with non-overlapping 95% intervals "
          f"(the recorded counted honest votes replayed, {args.replays} replays, batches of 10, cap 2000):")
    print("| sampling | plain Bradley-Terry | style control |")
    print("|---|---|---|")
    for sampling in ("uniform", "active"):
        cells = []
        for s in (None, style):
            found = [votes_until_separated(a, b, outcome, len(names), model=model, base=base, sampling=sampling,
                                           rng=rng, style=s) for _ in range(args.replays)]
            figures[f"votes to significance {sampling}{' style' if s is not None else ''}"] = found
            cells.append(replay_summary(found))
        print(f"| {sampling} | {cells[0]} | {cells[1]} |")
    steps, boards = [], []
    for n in range(10, len(counted) + 1, 10):
        board = fit_board(a[:n], b[:n], outcome[:n], len(names))
        if board is not None:
            steps.append(n)
            boards.append(board)
    if boards:
        svg = args.svg or args.state / "ratings.svg"
        svg.write_text(ratings_svg(steps, boards, names, title="Text arena: rating and 95% interval against "
                                                              "counted honest votes (recorded order)"))
        print(f"\nplot: {svg}")
    attack = [r for r in rows if r["role"] == "attacker"]
    if attack:
        figures["attack"] = attack_figures(args, counted, attack, names)
    return figures


def attack_figures(args, counted: list[dict], attack: list[dict], names: list[str]) -> dict:
    if args.attack_target not in names:  # a short run may never have drawn it
        print(f"\nAttacker: {len(attack)} battles; {args.attack_target} is in no counted battle yet, so it has no "
              "rank to compare")
        return {}
    target = names.index(args.attack_target)
    kept = [r for r in attack if r["counts"]]
    reasons = sorted({r["excluded_reason"] or "its client was flagged" for r in attack if not r["counts"]})
    print(f"\nAttacker: {len(attack)} battles, {len(kept)} of its votes count after the defences "
          f"({args.defences}); why the others do not: {reasons}")
    print(f"| board | {args.attack_target} rank | its rating | Kendall tau vs the honest board |")
    print("|---|---|---|---|")
    honest = fit_board(*arrays(counted, names)[:3], len(names))
    figures = {}
    for label, rows in (("honest votes only", counted), ("with the attacker's votes as counted", counted + kept),
                        ("with every attacker vote counted (no defences)", counted + attack)):
        board = fit_board(*arrays(rows, names)[:3], len(names))
        if board is None or honest is None:
            continue
        rank = 1 + int((board.rating > board.rating[target]).sum())
        tau, _ = kendall_tau(dict(zip(names, honest.rating)), dict(zip(names, board.rating)))
        figures[label] = {"rank": rank, "rating": float(board.rating[target]), "tau_vs_honest": tau}
        print(f"| {label} | {rank} | {board.rating[target]:.0f} | {tau:.2f} |")
    if honest is None:
        return figures
    # The published attacks are a small share of the votes: Min et al. (ICML 2025) move a model with
    # hundreds of rigged votes among ~1.7M (about 0.03%), and sub-1% targeted changes can reorder a
    # board (Oyarhoseini et al. 2026). Scaled here that is one vote, or a few at 1%; the attacker's
    # first k votes are added with none removed, i.e. as if there were no defences at all.
    published = {name: math.ceil(share * len(counted)) for name, share in PUBLISHED_SHARES.items()}
    sizes = sorted({k for k in (*published.values(), 10, 20, len(attack)) if k <= len(attack)})
    print(f"\nThe attacker's first k votes, all counted (no defences), against the honest board; the published "
          f"shares scaled to {len(counted)} honest votes: "
          + ", ".join(f"{name}: {votes} vote(s)" for name, votes in published.items()))
    print(f"| attacker votes | share of all votes | {args.attack_target} rank | Kendall tau vs the honest board |")
    print("|---|---|---|---|")
    honest_rank = 1 + int((honest.rating > honest.rating[target]).sum())
    figures["published sizes"], figures["by size, no defences"] = published, {}
    for k in sizes:
        board = fit_board(*arrays(counted + attack[:k], names)[:3], len(names))
        if board is None:
            continue
        rank = 1 + int((board.rating > board.rating[target]).sum())
        tau, _ = kendall_tau(dict(zip(names, honest.rating)), dict(zip(names, board.rating)))
        figures["by size, no defences"][k] = {"rank": rank, "tau_vs_honest": tau}
        print(f"| {k} | {k / (len(counted) + k):.1%} | {rank} (honest {honest_rank}) | {tau:.2f} |")
    return figures


def main(argv=None) -> None:
    args = parse_args(argv)
    args.state = args.state.resolve()  # initdb runs as PostgreSQL's own user, from another folder
    args.state.mkdir(parents=True, exist_ok=True)
    args.state.chmod(0o755)  # PostgreSQL runs as its own user and must reach its data folder
    config = {"sampling": args.sampling, "defences": args.defences, "seed": args.seed, "tiers": args.tiers,
              "examples": args.examples}
    config_path = args.state / "config.json"
    if config_path.exists() and json.loads(config_path.read_text()) != config:
        sys.exit(f"{args.state} holds a run with {config_path.read_text().strip()}; resume it with the same "
                 f"--sampling, --defences, --seed, --tiers and --examples, or give another --state.")
    config_path.write_text(json.dumps(config))
    out = args.state / "battles.jsonl"
    records = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    started = time.monotonic()
    stack_result = run_stack(args, records, out)
    took = time.monotonic() - started
    result = report(args, records, stack_result, took)
    path = args.json or args.state / "report.json"
    path.write_text(json.dumps(result, indent=1, default=str))
    print(f"report: {path}")


if __name__ == "__main__":
    main()

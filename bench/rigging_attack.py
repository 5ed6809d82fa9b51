"""The published rigging attack (Huang et al. 2025, Min et al. 2025) played through the real stack
with default settings: does it move the target?

Brings up the arena as `make run` does (PostgreSQL, Redis, the web server with no trusted proxy, a
worker serving the demo's SmolLM2 contestants and the maintenance queue, beat), seeds an honest
leaderboard of the text arena (votes by known strengths, from many browsers and addresses), then
plays one machine that starts every battle with a fresh cookie and a made-up X-Forwarded-For,
tells the target's answers apart (--tell) and votes for the side it takes for the target (a tie
where it sees none: a vote that looks honest, and one that reveals the models to learn from). It
keeps at it for --minutes (default 10), with --parallel battles at once.

--tell perfect (the default) is the upper bound of the published attacks, whose classifiers tell a
model from its reply with over 95% accuracy (Huang et al. 2025): an oracle, in which this process
reads the battle's models from the database once both answers are complete and before it votes.
Nothing else goes around the public API. --tell length is the best tell learnt from the demo's
answers themselves: answer length, fitted on the battles the attacker has seen revealed (the
target, smollm2-concise, is told to answer in three sentences).

Printed: battles played, how well the tell identified the target, votes for the target attempted,
how many the arena counted when cast and how many still count after its rigging tests, the
attacker's other votes counted, and the target's rank before and after.
Targets: at most 10 rigged votes count, and the target moves by at most one rank.

    .venv/bin/python bench/rigging_attack.py [--minutes 10] [--parallel 2] [--honest-votes 3000]
                                             [--tell perfect|length]
"""

import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from the repository root

TARGET = "smollm2-concise"
# The honest crowd's view of the text arena's contestants (natural log-odds), the target mid-table.
STRENGTHS = {"smollm2-tutor": 0.7, "smollm2-best-of-4": 0.35, TARGET: 0.0, "smollm2-precise": -0.35,
             "smollm2-creative": -0.7}
PROMPTS = ["What is 17 + 25?", "Name three colours.", "Explain what a list is in Python.", "Why is the sky blue?",
           "Write a haiku about tea.", "What is the capital of France?", "Give me a tip for sleeping well.",
           "How do I reverse a string in Python?", "Describe a cat.", "What is a prime number?"]
MAX_RIGGED_COUNTED = 10
MAX_RANK_SHIFT = 1


def seed_honest_votes(path: Path, strengths: dict[str, float], n: int, *, voters: int = 300, seed: int = 0) -> None:
    """``n`` honest anonymous votes in the text arena between the named models (LMSYS records through
    import_battles), then spread over ``voters`` browsers, each at an address of its own."""
    from django.core.management import call_command  # noqa: PLC0415 (Django is set up by the caller)
    from django.db import connection  # noqa: PLC0415 (Django is set up by the caller)

    rng = random.Random(seed)
    names = list(strengths)
    records = []
    for i in range(n):
        a, b = rng.sample(names, 2)
        p = 1 / (1 + math.exp(strengths[b] - strengths[a]))
        winner = "tie" if rng.random() < 0.1 else "model_a" if rng.random() < p else "model_b"
        records.append({"model_a": a, "model_b": b, "winner": winner, "anony": True,
                        "conversation_a": [{"role": "user", "content": f"Question {i}"},
                                           {"role": "assistant", "content": "An answer."}],
                        "conversation_b": [{"role": "user", "content": f"Question {i}"},
                                           {"role": "assistant", "content": "Another answer."}]})
    path.write_text("\n".join(json.dumps(r) for r in records))
    call_command("import_battles", str(path), verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE arena_vote SET client_id = 'honest-' || (id %% %s)::text, "
                       "address_key = 'honest-address-' || (id %% %s)::text, created_at = now() "
                       "WHERE client_id = 'import'", [voters, voters])


def target_rank(target: str, arena: str = "text") -> int | None:
    """The target's place by rating on the latest leaderboard (1 = top), None when unrated."""
    from ratings.presenters import leaderboard_json  # noqa: PLC0415 (Django is set up by the caller)

    rows = leaderboard_json(arena=arena)["rows"]
    mine = [r["rating"] for r in rows if r["model"] == target]
    return 1 + sum(r["rating"] > mine[0] for r in rows) if mine else None


def recomputed_at(snapshot) -> float:
    """When the table in force was last recomputed: a recompute that changes nothing publishes no
    new table, so the table's own publication time does not move."""
    stamp = snapshot.data.get("recomputed_at")
    return datetime.fromisoformat(stamp).timestamp() if stamp else snapshot.computed_at.timestamp()


def wait_for_recomputes(timeout: float = 300) -> None:
    """Until the leaderboard has been recomputed twice from now (the rigging tests run first in
    each): the second began after the first had finished, so after every vote cast before now."""
    from ratings.snapshots import latest  # noqa: PLC0415 (Django is set up by the caller)

    deadline = time.monotonic() + timeout
    for _ in range(2):
        after = time.time()
        while (snapshot := latest("overall", arena="text")) is None or recomputed_at(snapshot) <= after:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the leaderboard was not recomputed twice within {timeout} s")
            time.sleep(0.5)


@dataclass
class LengthTell:
    """Tells the target's answer from its length: a normal model of log length for the target and
    for the others, learnt from battles whose models were revealed after the vote."""

    target: str
    seen: dict[bool, list[float]] = field(default_factory=lambda: {True: [], False: []})
    lock: threading.Lock = field(default_factory=threading.Lock)
    description = "length (learnt from the battles revealed after each vote)"

    def learn(self, text: str, is_target: bool) -> None:
        with self.lock:
            self.seen[is_target].append(math.log1p(len(text)))

    def guess(self, battle_id: str, text_a: str, text_b: str) -> str | None:
        """The side it takes for the target, or None when it sees none (or has not learnt yet)."""
        with self.lock:
            if min(len(self.seen[True]), len(self.seen[False])) < 3:
                return None
            fits = {k: (statistics.fmean(v), max(statistics.pstdev(v), 0.05)) for k, v in self.seen.items()}

        def density(x: float, is_target: bool) -> float:
            mean, sd = fits[is_target]
            return math.exp(-0.5 * ((x - mean) / sd) ** 2) / sd

        la, lb = math.log1p(len(text_a)), math.log1p(len(text_b))
        # Each side is the target in about one battle in five; neither, in three.
        odds = {"a": density(la, True) * density(lb, False), "b": density(la, False) * density(lb, True),
                None: 3 * density(la, False) * density(lb, False)}
        return max(odds, key=odds.get)


@dataclass
class PerfectTell:
    """A perfect identifier, the upper bound of the published classifiers (over 95% accurate,
    Huang et al. 2025). It is an oracle: the bench's own process reads the battle's models from the
    database, so it needs Django set up with the arena's database. The attacker asks it only once
    both answers are complete, just before voting, as it would run a classifier on them."""

    target: str
    description = ("perfect: an ORACLE reading the battle's models from the database, standing in for "
                   "a >95% classifier (Huang et al. 2025)")

    def learn(self, text: str, is_target: bool) -> None:
        pass

    def guess(self, battle_id: str, text_a: str, text_b: str) -> str | None:
        from arena.models import Battle  # noqa: PLC0415 (Django is set up by the caller)

        names = Battle.objects.filter(uuid=battle_id).values_list("endpoint_a__name", "endpoint_b__name").get()
        return next((side for side, name in zip("ab", names) if name == self.target), None)


TELLS = {"perfect": PerfectTell, "length": LengthTell}
Tell = PerfectTell | LengthTell


@dataclass
class AttackLog:
    battles: int = 0
    votes: int = 0
    target_present: int = 0  # battles the target was in, as revealed after the vote
    identified: int = 0  # battles where the tell's side (or none) was the target's
    for_target: int = 0
    right: int = 0
    voted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def play_one(web: str, tell: Tell, log: AttackLog, rng: random.Random, *, timeout: float = 600) -> None:
    """One battle from a fresh cookie and a made-up X-Forwarded-For; vote for the side taken for the target."""
    from tests.apiclient import ApiClient  # noqa: PLC0415 (after sys.path has the repository)

    spoofed = f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    with httpx.Client(base_url=web, timeout=timeout, headers={"X-Forwarded-For": spoofed}) as http:
        api = ApiClient(http)  # GET /api/session: a new cookie
        created = api.post("/api/battles", {"prompt": rng.choice(PROMPTS), "mode": "anony"})
        if created.status_code != 201:
            with log.lock:
                log.errors.append(f"start {created.status_code}: {created.text[:120]}")
            time.sleep(1)
            return
        battle_id = created.json()["id"]
        api.events(battle_id, timeout=timeout)  # as the page does: follow the stream to its end
        battle = api.wait_finished(battle_id, timeout=timeout)
        turn = battle["turns"][-1]
        texts = {side: (turn.get(side) or {}).get("text", "") for side in "ab"}
        side = tell.guess(battle_id, texts["a"], texts["b"])
        response = api.post(f"/api/battles/{battle_id}/vote", {"choice": side or "tie"})
        with log.lock:
            log.battles += 1
        if response.status_code != 200:
            with log.lock:
                log.errors.append(f"vote {response.status_code}: {response.text[:120]}")
            return
        models = response.json()["models"]
        for s in "ab":
            tell.learn(texts[s], models[s] == tell.target)
        truth = next((s for s in "ab" if models[s] == tell.target), None)
        with log.lock:
            log.votes += 1
            log.voted.append(battle_id)
            log.target_present += truth is not None
            log.identified += side == truth
            if side is not None:
                log.for_target += 1
                log.right += models[side] == tell.target


def attack(web: str, tell: Tell, *, seconds: float, parallel: int, votes_for_target: int | None = None,
           seed: int = 0) -> AttackLog:
    """Play the attacker for ``seconds`` with ``parallel`` battles at once, or until it has voted
    ``votes_for_target`` times for the side ``tell`` took for its target, if that comes first."""
    log = AttackLog()
    stop_at = time.monotonic() + seconds

    def loop(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        while time.monotonic() < stop_at and (votes_for_target is None or log.for_target < votes_for_target):
            try:
                play_one(web, tell, log, rng)
            except (httpx.HTTPError, AssertionError) as error:
                with log.lock:
                    log.errors.append(f"{type(error).__name__}: {str(error)[:120]}")

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return log


def rigged_votes_counted(battle_ids: list[str], target: str) -> dict[str, int]:
    """Of the attacker's votes: how many the arena counted when cast, how many votes for the
    target were counted when cast and still count (not flagged by the rigging tests), and the same
    for its other votes (ties, and any vote for a side that was not the target)."""
    from arena.models import Vote  # noqa: PLC0415 (Django is set up by the caller)
    from ratings.queries import counted_votes  # noqa: PLC0415 (Django is set up by the caller)

    mine = Vote.objects.filter(battle__uuid__in=battle_ids)
    for_target = (mine.filter(choice="a", endpoint_a__name=target) | mine.filter(choice="b", endpoint_b__name=target))
    others = mine.exclude(id__in=for_target.values("id"))
    still = counted_votes().filter(battle__uuid__in=battle_ids)
    return {"counted when cast": mine.filter(counts=True).count(),
            "for the target, counted when cast": for_target.filter(counts=True).count(),
            "for the target, still counted": still.filter(id__in=for_target.values("id")).count(),
            "other votes": others.count(),
            "other votes, counted when cast": others.filter(counts=True).count(),
            "other votes, still counted": still.filter(id__in=others.values("id")).count(),
            "flagged": mine.filter(flag__isnull=False).count()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the attacker votes")
    parser.add_argument("--parallel", type=int, default=2, help="battles at once")
    parser.add_argument("--honest-votes", type=int, default=3000)
    parser.add_argument("--tell", choices=list(TELLS), default="perfect",
                        help="how the attacker identifies the target: perfect (an oracle, the default) or length")
    args = parser.parse_args()

    state = Path(tempfile.mkdtemp(prefix="arena-rigging-"))
    state.chmod(0o755)  # PostgreSQL runs as its own user and must reach its data folder
    from arena.localservices import free_port  # noqa: PLC0415 (after sys.path has the repository)
    from arena.stack import Stack  # noqa: PLC0415 (after sys.path has the repository)

    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "FORWARDED_ALLOW_IPS") and not k.startswith("ARENA_")
           or k == "ARENA_MODEL_CACHE"}
    stack = Stack(state=state, env=env)
    stack.stop_on_sigterm()  # a killed bench stops its services too
    tell = TELLS[args.tell](TARGET)
    try:
        stack.start_databases(pg_port=free_port(), redis_port=free_port())
        os.environ.update(DATABASE_URL=stack.env["DATABASE_URL"], REDIS_URL=stack.env["REDIS_URL"],
                          DJANGO_SETTINGS_MODULE="arena.settings")
        stack.manage("migrate", "--noinput", "-v", "0")
        stack.manage("load_demo")
        import django  # noqa: PLC0415 (set up only once the databases run)

        django.setup()
        from ratings.snapshots import recompute  # noqa: PLC0415 (Django is set up just above)
        from workers.heartbeat import live_queues  # noqa: PLC0415 (Django is set up just above)

        seed_honest_votes(state / "honest.jsonl", STRENGTHS, args.honest_votes)
        recompute()
        before = target_rank(TARGET)
        stack.start_worker("worker", ["arena", "smollm2"])
        stack.start_beat()
        port = free_port()
        stack.start_web(port)
        web = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 600
        while "smollm2" not in live_queues():
            if time.monotonic() > deadline:
                sys.exit(f"the worker did not come up; see {stack.logs / 'worker.log'}")
            time.sleep(0.5)
        print(f"[rigging] honest leaderboard seeded ({args.honest_votes} votes); {TARGET} is rank {before}; "
              f"attacking for {args.minutes:g} min with the {args.tell} tell", flush=True)
        started = time.monotonic()
        log = attack(web, tell, seconds=args.minutes * 60, parallel=args.parallel)
        took = time.monotonic() - started
        wait_for_recomputes()
        after = target_rank(TARGET)
        counted = rigged_votes_counted(log.voted, TARGET)
    finally:
        stack.stop()

    print(f"\none machine, a fresh cookie and X-Forwarded-For for every battle, {took / 60:.1f} min, "
          f"{args.parallel} battles at once (default settings)")
    print(f"tell: {tell.description}\n")
    accuracy = f"{log.identified / log.votes:.0%}" if log.votes else "-"
    rows = [("battles played (voted on)", f"{log.battles} ({log.votes})"),
            ("battles with the target in them", log.target_present),
            ("identification accuracy (target's side, or none)", f"{accuracy} of {log.votes}"),
            ("votes for the target attempted", log.for_target),
            ("  of which were really the target", log.right),
            ("  counted when cast", counted["for the target, counted when cast"]),
            ("  still counted after the rigging tests", counted["for the target, still counted"]),
            ("other votes (ties to look honest; misidentified)", counted["other votes"]),
            ("  counted when cast", counted["other votes, counted when cast"]),
            ("  still counted after the rigging tests", counted["other votes, still counted"]),
            ("attacker's votes flagged as rigging", counted["flagged"]),
            (f"{TARGET} rank before", before), (f"{TARGET} rank after", after),
            ("request errors", len(log.errors))]
    for label, value in rows:
        print(f"  {label:52s} {value}")
    if log.errors:
        print(f"  first error: {log.errors[0]}")
    shift = (before or 0) - (after or 0)
    if log.right <= MAX_RIGGED_COUNTED:
        print(f"\nthe attacker cast only {log.right} rigged votes (at most {MAX_RIGGED_COUNTED} could count anyway): "
              "NOT SHOWN; run longer, or on a machine where the contestants answer faster")
        return
    met_votes = counted["for the target, still counted"] <= MAX_RIGGED_COUNTED
    met_rank = abs(shift) <= MAX_RANK_SHIFT
    print(f"\nrigged votes still counted {counted['for the target, still counted']} (target: at most "
          f"{MAX_RIGGED_COUNTED}) -> {'MET' if met_votes else 'NOT MET'}")
    print(f"rank shift {shift:+d} (target: at most {MAX_RANK_SHIFT}) -> {'MET' if met_rank else 'NOT MET'}")


if __name__ == "__main__":
    main()

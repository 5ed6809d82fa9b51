"""Battles the ratings tests share: LMSYS records written out by hand, and seeded synthetic ones."""

import json
import math
import random
from datetime import datetime
from pathlib import Path

from django.core.management import call_command
from django.utils import timezone

from arena.models import ModelEndpoint
from ratings.models import LeaderboardSnapshot, PromptHeadFit
from ratings.snapshots import recompute
from ratings.tasks import train_prompt_heads
from tests.conftest import wait_until

# Four hand-written LMSYS records: three models, every outcome but one, one two-turn battle.
RECORDS = [
    {
        "model_a": "gpt-x",
        "model_b": "llama-y",
        "winner": "model_a",
        "turn": 1,
        "anony": True,
        "language": "English",
        "tstamp": 1700000000.5,
        "conversation_a": [
            {"role": "user", "content": "Write a haiku"},
            {"role": "assistant", "content": "# Title\n**Soft** rain on the roof\n- one\n- two"},
        ],
        "conversation_b": [
            {"role": "user", "content": "Write a haiku"},
            {"role": "assistant", "content": "Rain falls"},
        ],
    },
    {
        "model_a": "llama-y",
        "model_b": "claude-z",
        "winner": "tie (bothbad)",
        "turn": 2,
        "anony": False,
        "language": "German",
        "tstamp": 1700000001.0,
        "conversation_a": [
            {"role": "user", "content": "Hallo"},
            {"role": "assistant", "content": "Hallo!"},
            {"role": "user", "content": "Wie geht es dir?"},
            {"role": "assistant", "content": "Gut."},
        ],
        "conversation_b": [
            {"role": "user", "content": "Hallo"},
            {"role": "assistant", "content": "Hi"},
            {"role": "user", "content": "Wie geht es dir?"},
            {"role": "assistant", "content": "Sehr gut, danke."},
        ],
    },
    {"model_a": "claude-z", "model_b": "gpt-x", "winner": "tie", "turn": 1, "anony": True,
     "language": "English", "tstamp": 1700000002.0,
     "conversation_a": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
     "conversation_b": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "**4**"}]},
    {"model_a": "gpt-x", "model_b": "claude-z", "winner": "model_b", "turn": 1, "anony": True,
     "language": "English", "tstamp": 1700000003.0,
     "conversation_a": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
     "conversation_b": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey there"}]},
]


STRENGTH = {"m-strong": 1.0, "m-mid": 0.3, "m-weak": -0.6, "m-new": 0.0}


def synthetic_records(n: int, seed: int = 3) -> list[dict]:
    rng = random.Random(seed)
    names = list(STRENGTH)
    records = []
    for i in range(n):
        a, b = rng.sample(names, 2)
        p = 1 / (1 + 10 ** (-(STRENGTH[a] - STRENGTH[b])))
        u = rng.random()
        winner = "tie" if u < 0.1 else "tie (bothbad)" if u < 0.15 else "model_a" if rng.random() < p else "model_b"
        prompt = rng.choice(["What is 2+2?", "Write a python function to sort a list", "Bonjour, comment ça va ?",
                             f"Tell me about topic {i % 7}"])
        turns = 1 + (i % 5 == 0)
        conv = lambda answer: [m for t in range(turns) for m in ({"role": "user", "content": prompt},
                                                                  {"role": "assistant", "content": answer})]
        records.append({"model_a": a, "model_b": b, "winner": winner, "anony": True, "tstamp": 1.7e9 + i,
                        "conversation_a": conv("**Sure**\n- one\n- two " * rng.randint(1, 3)),
                        "conversation_b": conv("# Answer\nplain words " * rng.randint(1, 3))})
    return records


def ids_and_names() -> tuple[list[int], list[str]]:
    """The endpoints' ids and public names in id order, as the recompute lists them."""
    endpoints = list(ModelEndpoint.objects.order_by("id"))
    return [e.id for e in endpoints], [e.public_name for e in endpoints]


def import_votes(path: Path, votes: list[tuple[str, str, str]]) -> None:
    """Counted votes (model a, model b, winner) into the arena's database, through import_battles."""
    path.write_text("\n".join(json.dumps({"model_a": a, "model_b": b, "winner": w, "anony": True})
                              for a, b, w in votes))
    call_command("import_battles", str(path))


def small_arena_votes(n: int = 50, seed: int = 5) -> list[tuple[str, str, str]]:
    """A new arena's first `n` votes: three models that win and lose by their strengths, and
    "delta", which won twice and tied once and never lost (so it has no rating yet)."""
    rng = random.Random(seed)
    strength = {"alpha": 0.6, "beta": 0.0, "gamma": -0.6}
    votes = [("delta", "alpha", "model_a"), ("beta", "delta", "model_b"), ("delta", "gamma", "tie")]
    while len(votes) < n:
        a, b = rng.sample(list(strength), 2)
        p = 1 / (1 + math.exp(strength[b] - strength[a]))
        votes.append((a, b, "model_a" if rng.random() < p else "model_b"))
    return votes


def votes_by_strength(strength: dict[str, float], n: int, seed: int = 7) -> list[tuple[str, str, str]]:
    """`n` decisive votes between the models of `strength` (natural units), each pair drawn at random."""
    rng = random.Random(seed)
    votes = []
    while len(votes) < n:
        a, b = rng.sample(list(strength), 2)
        p = 1 / (1 + math.exp(strength[b] - strength[a]))
        votes.append((a, b, "model_a" if rng.random() < p else "model_b"))
    return votes


# Three published days: gamma leads at first, alpha overtakes it as votes come in.
HISTORY_DAYS = {
    "2026-03-01": {"alpha": -0.8, "beta": 0.0, "gamma": 0.8},
    "2026-04-01": {"alpha": 1.5, "beta": 0.0, "gamma": -0.5},
    "today": {"alpha": 2.5, "beta": 0.0, "gamma": -1.0},
}


def publish_history(tmp_path: Path, votes_per_day: int = 60) -> dict[str, int]:
    """Vote and recompute once per day of HISTORY_DAYS, moving each day's new snapshots to noon of
    that day (as if the recompute had run then). Returns the votes counted by the end of each day."""
    total, counted = 0, {}
    for i, (day, strength) in enumerate(HISTORY_DAYS.items()):
        import_votes(tmp_path / f"votes-{i}.jsonl", votes_by_strength(strength, votes_per_day, seed=i))
        started = timezone.now()
        recompute()
        if day != "today":
            LeaderboardSnapshot.objects.filter(computed_at__gte=started).update(
                computed_at=datetime.fromisoformat(f"{day}T12:00:00+00:00"))
        total += votes_per_day
        counted[day] = total
    return counted


FORMS = ["a short poem", "a haiku", "a sonnet", "a limerick", "a few lines of verse"]
SUBJECTS = ["the sea", "autumn leaves", "a lost cat", "the moon", "winter mornings", "a lighthouse", "first love",
            "the city at night", "an old oak tree", "rain on the roof", "a mountain lake", "the last train home"]


def arithmetic_prompt(rng: random.Random) -> str:
    a, b = rng.randint(12, 999), rng.randint(12, 999)
    return rng.choice([f"What is {a} times {b}?", f"Compute {a} + {b}.", f"What is {a} minus {b}?",
                       f"Calculate {a} divided by {b} to two decimals."])


def poetry_prompt(rng: random.Random) -> str:
    return f"Write {rng.choice(FORMS)} about {rng.choice(SUBJECTS)}."


def import_topic_votes(tmp_path, strengths: dict[str, dict[str, float]], n: int = 360, seed: int = 3) -> None:
    """`n` counted votes, half on arithmetic prompts and half on poetry, won by each topic's strengths."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        topic = "arithmetic" if i % 2 else "poetry"
        prompt = arithmetic_prompt(rng) if topic == "arithmetic" else poetry_prompt(rng)
        a, b = rng.sample(sorted(strengths[topic]), 2)
        p = 1 / (1 + math.exp(strengths[topic][b] - strengths[topic][a]))
        conversation = [{"role": "user", "content": prompt}, {"role": "assistant", "content": "…"}]
        records.append({"model_a": a, "model_b": b, "winner": "model_a" if rng.random() < p else "model_b",
                        "conversation_a": conversation, "conversation_b": conversation})
    path = tmp_path / "votes.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records))
    call_command("import_battles", str(path))
    recompute()


# "solver" wins on arithmetic and loses on poetry, "poet" the other way round, "steady" in between.
TOPIC_STRENGTHS = {"arithmetic": {"solver": 1.2, "steady": 0.0, "poet": -1.2},
                   "poetry": {"solver": -1.2, "steady": 0.0, "poet": 1.2}}


def trained_head() -> PromptHeadFit:
    """What the worker's maintenance queue trains (beat sends the same task every ARENA_P2L_SECONDS)."""
    train_prompt_heads.apply_async(queue="arena")
    return wait_until(lambda: PromptHeadFit.objects.newest("text"), timeout=60, what="a trained prompt head")

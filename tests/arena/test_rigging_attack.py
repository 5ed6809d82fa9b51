"""The published rigging attack, short, through the real stack with default settings: one
machine starts every battle with a fresh cookie and a made-up X-Forwarded-For, tells the target's
answers by their length and votes for it thirty times. At most ten of those votes may count, and
the target may move by at most one rank (bench/rigging_attack.py plays it for ten minutes on the
demo's SmolLM2 contestants)."""

import pytest

from arena.redis_client import get_redis
from bench.rigging_attack import (
    MAX_RANK_SHIFT,
    MAX_RIGGED_COUNTED,
    LengthTell,
    attack,
    rigged_votes_counted,
    seed_honest_votes,
    target_rank,
    wait_for_recomputes,
)
from ratings.snapshots import recompute
from tests.arena.web_servers import web_with
from tests.conftest import tiny_endpoint

pytestmark = pytest.mark.slow

TARGET = "target-model"
STRENGTHS = {"top-model": 0.7, "second-model": 0.35, TARGET: 0.0, "last-model": -0.35}
RIGGED_VOTES = 3 * MAX_RIGGED_COUNTED  # then it stops: well under a minute on a machine to itself
ATTACK_DEADLINE = 600


@pytest.fixture
def default_web(stack, supervised_worker, arena_db, tiny_model_dir):
    supervised_worker.ensure()
    for i, name in enumerate(STRENGTHS):  # the target answers shorter: its tell
        tiny_endpoint(name, tiny_model_dir, seed=i, max_new_tokens=6 if name == TARGET else 24)
    for key in get_redis().scan_iter("arena:counted-votes:*"):  # today's counts of the session's other tests
        get_redis().delete(key)
    with web_with(stack, {}, unset=("ARENA_LIMITS", "FORWARDED_ALLOW_IPS")) as url:
        yield url


def test_thirty_rigged_votes_from_one_machine_move_nothing(default_web, tmp_path):
    seed_honest_votes(tmp_path / "honest.jsonl", STRENGTHS, 1500)
    recompute()
    before = target_rank(TARGET)
    assert before == 3

    log = attack(default_web, LengthTell(TARGET), seconds=ATTACK_DEADLINE, parallel=4, votes_for_target=RIGGED_VOTES)
    wait_for_recomputes()
    counted = rigged_votes_counted(log.voted, TARGET)

    assert log.right > MAX_RIGGED_COUNTED, (log.battles, log.for_target, log.right, log.errors[:3])
    assert counted["for the target, counted when cast"] > MAX_RIGGED_COUNTED, counted  # the caps let them in
    assert counted["for the target, still counted"] <= MAX_RIGGED_COUNTED, counted
    assert abs(before - target_rank(TARGET)) <= MAX_RANK_SHIFT

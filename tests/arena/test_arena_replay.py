"""The arena replay (bench/arena_replay.py): a few battles through the real stack give a leaderboard
and a report, and the pure parts (voter policy, the attacker's tell, Kendall tau, votes until a lead
is significant) give known answers."""

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from bench.arena_replay import prompt_of, text_tasks
from bench.arena_replay_report import (
    LengthTell,
    VoterPolicy,
    fit_board,
    honest_choice,
    kendall_tau,
    votes_until_separated,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_it_plays_battles_through_the_stack_and_reports_a_leaderboard():
    state = Path(tempfile.mkdtemp(prefix="arena-replay-test-"))
    state.chmod(0o755)  # PostgreSQL runs as its own user and must reach its data folder (pytest's tmp_path is 0700)
    try:
        check_smoke_run(state)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def check_smoke_run(state: Path) -> None:
    env = {**os.environ, "ARENA_ANSWER_TOKEN_CAP": "16", "ARENA_PACING_CHARS_PER_SECOND": "1000"}
    process = subprocess.Popen(
        [sys.executable, "bench/arena_replay.py", "--arena", "text", "--battles", "3", "--attacker", "1",
         "--search-battles", "0", "--parallel", "2", "--replays", "1", "--state", str(state)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = process.communicate(timeout=840)
    except subprocess.TimeoutExpired:
        process.terminate()  # the bench stops every service it started on SIGTERM
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stdout[-3000:] + stderr[-3000:]
    report = json.loads((state / "report.json").read_text())
    battles = [json.loads(line) for line in (state / "battles.jsonl").read_text().splitlines()]
    assert report["battles"] == len(battles) == 4
    assert {b["role"] for b in battles} == {"honest", "attacker"}
    assert len({b["voter"] for b in battles}) == 2  # one honest browser (25 battles each), one attacker
    text = report["text"]
    played = {name for b in battles for name in b["models"]}
    assert set(text["accuracy"]) == played
    assert text["counted_votes"] >= 1
    # A handful of votes rates no one yet: the leaderboard lists the models as "not enough data".
    listed = [row["model"] for row in text["leaderboard"] + text["unrated"]]
    assert len(listed) >= 2
    assert "Kendall tau, leaderboard vs accuracy" in stdout


def test_text_prompts_take_the_chosen_tiers_and_conversions_in_turn():
    tasks = text_tasks(9, seed=7, tiers="easy,medium")
    assert [t.kind for t in tasks] == ["arith-easy", "arith-medium", "conversion"] * 3
    assert len({t.question for t in tasks}) == 9
    # with worked examples on the endpoints the question stands alone; without, it asks for the form
    assert prompt_of(tasks[0], "on") == tasks[0].question
    assert prompt_of(tasks[0], "off").startswith(tasks[0].question + "\n") and "Answer:" in prompt_of(tasks[0], "off")


def test_a_voter_prefers_the_correct_answer_whatever_its_length():
    rng = random.Random(0)
    policy = VoterPolicy(style_strength=1.0)
    assert honest_choice(policy, correct=(False, True), lengths=(900, 10), rng=rng) == "b"
    assert honest_choice(policy, correct=(True, False), lengths=(10, 900), rng=rng) == "a"


def test_between_equal_answers_a_voter_ties_or_takes_the_longer_at_the_set_strength():
    rng = random.Random(0)
    never = VoterPolicy(style_strength=0.0)
    assert honest_choice(never, correct=(True, True), lengths=(10, 900), rng=rng) == "tie"
    assert honest_choice(never, correct=(False, False), lengths=(10, 900), rng=rng) == "bothbad"
    half = VoterPolicy(style_strength=0.5)
    choices = [honest_choice(half, correct=(True, True), lengths=(10, 900), rng=rng) for _ in range(2000)]
    assert set(choices) == {"b", "tie"}
    assert 0.45 < choices.count("b") / len(choices) < 0.55


def test_a_careless_voter_votes_either_side_at_random():
    rng = random.Random(0)
    choices = [honest_choice(VoterPolicy(careless=True), correct=(True, False), lengths=(5, 5), rng=rng)
               for _ in range(2000)]
    assert 0.45 < choices.count("b") / len(choices) < 0.55


def test_the_attackers_tell_picks_the_side_whose_length_looks_like_its_targets():
    tell = LengthTell()
    rng = random.Random(0)
    for length in (40, 50, 60):
        tell.learn(length, is_target=True)
    for length in (400, 500, 600):
        tell.learn(length, is_target=False)
    assert tell.guess((450, 55), rng) == "b"
    assert tell.guess((45, 550), rng) == "a"


def test_kendall_tau_counts_only_pairs_whose_truth_differs_by_more_than_the_gap():
    truth = {"x": 0.9, "y": 0.5, "z": 0.45}
    assert kendall_tau(truth, {"x": 3, "y": 2, "z": 1}) == (1.0, 3)
    assert kendall_tau(truth, {"x": 3, "y": 1, "z": 2}) == (1 / 3, 3)
    assert kendall_tau(truth, {"x": 3, "y": 1, "z": 2}, min_gap=0.1) == (1.0, 2)
    assert kendall_tau(truth, {"x": 1, "y": 2, "z": 3}, min_gap=0.1) == (-1.0, 2)


def recorded_votes(p_win: float, n: int, seed: int):
    """Three models; model 0 beats model 1 with probability p_win, the rest even."""
    rng = np.random.default_rng(seed)
    pairs = rng.integers(0, 3, size=(n * 3, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]][:n]
    p = np.where((pairs[:, 0] == 0) & (pairs[:, 1] == 1), p_win,
                 np.where((pairs[:, 0] == 1) & (pairs[:, 1] == 0), 1 - p_win, 0.5))
    outcome = np.where(rng.random(len(pairs)) < p, 0, 1)
    return pairs[:, 0], pairs[:, 1], outcome


def test_a_clear_lead_becomes_significant_in_the_replay_and_no_lead_does_not():
    a, b, outcome = recorded_votes(0.95, 300, seed=1)
    found = votes_until_separated(a, b, outcome, 3, model=0, base=1, sampling="uniform",
                                  rng=np.random.default_rng(0), max_votes=600)
    assert found is not None and found <= 600
    board = fit_board(a, b, outcome, 3)
    assert board.lower[0] > board.upper[1]
    a, b, outcome = recorded_votes(0.5, 300, seed=2)
    assert votes_until_separated(a, b, outcome, 3, model=0, base=1, sampling="active",
                                 rng=np.random.default_rng(0), max_votes=300) is None

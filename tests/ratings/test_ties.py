"""The Davidson tie model: known answers, agreement with leaderbot, held-out log-loss, the command."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from ratings.battle_arrays import pair_counts_from_arrays
from ratings.bradley_terry import fit_bradley_terry, to_rating_scale
from ratings.synthetic import simulate_davidson_battles
from ratings.ties import compare_on_held_out, davidson_probabilities, fit_davidson
from tests.ratings.helpers import synthetic_records

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "leaderbot_davidson.json"


def counts_of(pairs, wins_ties) -> object:
    c = np.asarray(wins_ties, dtype=np.float64)
    return pair_counts_from_arrays(int(np.max(pairs)) + 1, np.asarray(pairs),
                                   np.column_stack([c[:, 0], c[:, 1], c[:, 2], np.zeros(len(c))]))


def test_it_recovers_the_strengths_and_the_tie_parameter_it_simulated():
    theta = np.array([0.8, 0.3, 0.0, -0.4, -0.7])
    theta -= theta.mean()
    # Expected counts, not drawn ones: the MLE of exact expectations is the truth itself.
    pairs = np.array([(i, j) for i in range(5) for j in range(i + 1, 5)])
    pa, pb, pt, _ = davidson_probabilities(theta[pairs[:, 0]] - theta[pairs[:, 1]], np.log(0.6))
    fit = fit_davidson(counts_of(pairs, 1000.0 * np.column_stack([pa, pb, pt])))
    assert np.abs(fit.theta - theta).max() < 1e-8
    assert fit.nu == pytest.approx(0.6, rel=1e-8)
    assert fit.tie_between_equals == pytest.approx(0.6 / 2.6, rel=1e-8)


def test_it_refuses_counts_without_ties():
    with pytest.raises(ValueError, match="needs both ties and decisive votes"):
        fit_davidson(counts_of([(0, 1), (1, 2)], [(3, 2, 0), (4, 1, 0)]))


def test_it_agrees_with_leaderbot_on_the_same_counts():
    reference = json.loads(FIXTURE.read_text())
    for case in reference["cases"]:
        counts = counts_of(case["pairs"], case["counts"])
        fit = fit_davidson(counts)
        ours, theirs = to_rating_scale(fit.theta), to_rating_scale(np.array(case["leaderbot_scores"]))
        assert np.abs(ours - theirs).max() / np.abs(theirs).max() <= 1e-4, case["seed"]
        assert abs(fit.log_nu - case["leaderbot_log_nu"]) <= 1e-4 * abs(case["leaderbot_log_nu"]), case["seed"]


def test_davidson_predicts_held_out_votes_better_when_ties_follow_it():
    theta = np.linspace(1.2, -1.2, 10)
    scores = compare_on_held_out(simulate_davidson_battles(theta, 0.5, 60_000, seed=3), seed=1)
    assert scores["davidson"] < scores["bradley_terry"]
    assert scores["votes"] == pytest.approx(12_000, rel=0.05)


def test_the_two_models_rank_decisive_votes_alike():
    """Among decisive votes both are sigmoids of a rating gap, fitted to nearly the same gaps."""
    battles = simulate_davidson_battles(np.linspace(1.0, -1.0, 6), 0.3, 30_000, seed=5)
    scores = compare_on_held_out(battles)
    assert scores["davidson_decisive"] == pytest.approx(scores["bradley_terry_decisive"], rel=0.01)
    bt = fit_bradley_terry(counts := pair_counts_from_arrays(6, np.c_[battles.model_a, battles.model_b],
                                                            np.eye(4)[battles.outcome]))
    assert np.argsort(bt).tolist() == np.argsort(fit_davidson(counts).theta).tolist()


def test_the_leaderboard_command_reports_the_tie_parameter_and_the_held_out_log_loss(tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in synthetic_records(600, seed=2)))
    out = io.StringIO()
    call_command("leaderboard", "--battles", str(path), "--ties", "davidson", "--format", "json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["davidson_nu"] > 0
    assert {"bradley_terry", "davidson", "votes"} <= result["held_out_log_loss"].keys()
    assert all(row["davidson_ci_lower"] < row["davidson_rating"] < row["davidson_ci_upper"] for row in result["rows"])
    out = io.StringIO()
    call_command("leaderboard", "--battles", str(path), "--ties", "davidson", stdout=out)
    assert "Davidson tie parameter nu = " in out.getvalue()
    assert "predicts the held-out votes better" in out.getvalue()


def test_the_leaderboard_command_explains_a_file_without_ties(tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_text("\n".join(json.dumps({"model_a": a, "model_b": b, "winner": "model_a"})
                              for a, b in [("x", "y"), ("y", "z"), ("z", "x")] * 3))
    with pytest.raises(CommandError, match="needs both ties and decisive votes"):
        call_command("leaderboard", "--battles", str(path), "--ties", "davidson")

"""A new arena's leaderboard through the HTTP API: after one vote, two votes and fifty votes no
model has a finite rating without a win and a loss, no interval has zero width, models under the
minimum vote count are listed as not enough data, and ratings from few votes are preliminary."""

import math

import httpx
import pytest

from ratings.snapshots import recompute
from tests.ratings.helpers import import_votes, small_arena_votes


@pytest.fixture
def cast(arena_db, tmp_path):
    """Import counted votes (model a, model b, winner) and recompute, as the background task does."""
    def cast(votes: list[tuple[str, str, str]]) -> None:
        import_votes(tmp_path / "votes.jsonl", votes)
        recompute()

    return cast


@pytest.fixture
def board(web):
    with httpx.Client(base_url=web, timeout=30) as http:
        def get(**params) -> dict:
            response = http.get("/api/leaderboard", params=params)
            assert response.status_code == 200, response.text
            return response.json()

        yield get


def assert_honest(board: dict) -> None:
    for row in board["rows"]:
        assert math.isfinite(row["rating"]) and row["ci_lower"] < row["rating"] < row["ci_upper"], row
        assert row["ci_plus"] > 0 and row["ci_minus"] > 0, row
        assert row["preliminary"] == (row["votes"] < board["preliminary_votes"])
    for row in board["unrated"]:
        assert "rating" not in row and "ci_lower" not in row and row["reason"], row


def test_one_vote_rates_nobody(cast, board):
    cast([("alpha", "beta", "model_a")])
    data = board()
    assert data["total_votes"] == 1 and data["rows"] == []
    assert {r["model"]: r["reason"] for r in data["unrated"]} == {
        "alpha": "has not lost a vote yet", "beta": "has not won a vote yet"}
    assert_honest(data)


def test_two_votes_rate_nobody_by_default_and_a_wide_interval_when_asked(cast, board):
    cast([("alpha", "beta", "model_a"), ("beta", "alpha", "model_a")])
    data = board()
    assert data["min_votes"] == 10 and data["rows"] == []
    assert {r["reason"] for r in data["unrated"]} == {"fewer than 10 votes"}
    everyone = board(min_votes=0)
    assert {r["model"] for r in everyone["rows"]} == {"alpha", "beta"} and everyone["unrated"] == []
    for row in everyone["rows"]:
        assert row["rating"] == pytest.approx(1000.0) and row["ci_plus"] > 100 and row["preliminary"] is True
    assert_honest(everyone)


def test_fifty_votes_rate_the_models_that_won_and_lost_as_preliminary(cast, board):
    votes = small_arena_votes(50)
    cast(votes)
    data = board()
    assert data["total_votes"] == 50
    assert {r["model"] for r in data["rows"]} == {"alpha", "beta", "gamma"}
    assert all(r["preliminary"] for r in data["rows"])
    assert data["unrated"] == [{"model": "delta", "votes": 3, "wins": 2.0, "losses": 0.0, "ties": 1.0,
                                "reason": "has not lost a vote yet", "deprecated": False}]
    assert_honest(data)

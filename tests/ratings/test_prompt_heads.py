"""Prompt-to-leaderboard in the arena: the worker trains a head on the votes' prompt embeddings; it answers
the leaderboard for a prompt only when it beat the global fit on held-out votes, else similar prompts do, and
only then gives each category its view."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from arena.models import Vote
from ratings.models import PromptHeadFit
from tests.ratings.helpers import TOPIC_STRENGTHS, import_topic_votes, trained_head


def test_a_head_that_beats_the_global_fit_answers_the_leaderboard_for_a_prompt(api, arena_db, tmp_path):
    import_topic_votes(tmp_path, TOPIC_STRENGTHS)
    head = trained_head()
    assert head.published, head.verdict()
    assert head.prompt_log_loss < head.global_log_loss and head.votes == 360
    assert sorted(head.model_names) == ["poet", "solver", "steady"]

    sums = api.post("/api/leaderboard/for-prompt", {"prompt": "What is 314 times 27?"}).json()
    assert sums["method"] == "p2l_head" and sums["p2l"]["published"]
    assert [row["model"] for row in sums["rows"]][0] == "solver"
    assert all("ci_lower" not in row for row in sums["rows"]) and "no intervals" in sums["intervals"]
    verse = api.post("/api/leaderboard/for-prompt", {"prompt": "Write a poem about the stars."}).json()
    assert [row["model"] for row in verse["rows"]][0] == "poet"

    page = api.get("/leaderboard/").text
    assert "held-out votes" in page and "published, so it answers the leaderboard for a prompt" in page
    assert "view of this category" not in page


def gap(board: dict, winner: str, loser: str) -> float:
    rating = {row["model"]: row["rating"] for row in board["rows"]}
    return rating[winner] - rating[loser]


def test_a_published_head_gives_a_category_its_view_at_the_mean_of_its_prompts(api, arena_db, tmp_path):
    import_topic_votes(tmp_path, TOPIC_STRENGTHS)
    assert trained_head().published

    # "Compute 12 + 34." and "Calculate 12 divided by 34" are math by the vote's features; no poem is.
    response = api.get("/api/leaderboard/p2l", params={"category": "math"})
    assert response.status_code == 200, response.text
    math = response.json()
    assert math["method"] == "p2l_head" and math["p2l"]["published"] and "no intervals" in math["intervals"]
    assert [row["model"] for row in math["rows"]][0] == "solver"
    assert math["votes"] == Vote.objects.filter(is_math=True).count() > 0
    assert sum(row["votes"] for row in math["rows"]) == 2 * math["votes"]
    overall = api.get("/api/leaderboard/p2l", params={"category": "overall", "arena": "text"}).json()
    assert overall["votes"] == 360 and gap(math, "solver", "poet") > gap(overall, "solver", "poet") + 100

    page = api.get("/leaderboard/", params={"category": "math"}).text
    assert "P2L head's view of this category" in page and f"this category's {math['votes']} prompts" in page


def test_a_head_that_does_not_beat_the_global_fit_is_not_published(api, arena_db, tmp_path):
    same = {"solver": 0.6, "steady": 0.0, "poet": -0.6}
    import_topic_votes(tmp_path, {"arithmetic": same, "poetry": same})
    head = trained_head()
    assert not head.published, head.verdict()

    board = api.post("/api/leaderboard/for-prompt", {"prompt": "What is 314 times 27?"}).json()
    assert board["method"] == "similar_prompts" and board["p2l"]["published"] is False
    assert "effective_votes" in board
    assert "not published" in api.get("/leaderboard/").text

    response = api.get("/api/leaderboard/p2l", params={"category": "math"})
    assert response.status_code == 404 and "not published" in response.json()["detail"]
    assert "view of this category" not in api.get("/leaderboard/", params={"category": "math"}).text


def test_the_category_view_is_a_404_before_any_head_and_a_422_for_an_unknown_category(api, arena_db):
    response = api.get("/api/leaderboard/p2l", params={"category": "math"})
    assert response.status_code == 404
    assert response.json()["detail"] == "No prompt-to-leaderboard head has been trained for this arena yet."
    response = api.get("/api/leaderboard/p2l", params={"category": "poetry"})
    assert response.status_code == 422 and response.json()["detail"].startswith("Unknown category 'poetry'; ")


@pytest.fixture
def staff(arena_db):
    User.objects.filter(username="staff").delete()
    user = User.objects.create_superuser("staff", "staff@example.org", "pw-staff-123")
    client = Client()
    client.force_login(user)
    yield client
    User.objects.filter(username="staff").delete()


def test_the_admin_shows_each_heads_held_out_test_and_changes_nothing(staff, worker, tmp_path):
    import_topic_votes(tmp_path, {"arithmetic": {"solver": 1.2, "poet": -1.2}, "poetry": {"solver": -1.2, "poet": 1.2}})
    head = trained_head()
    assert f"{2 * head.gain_standard_error:.4f}" in staff.get("/admin/ratings/promptheadfit/").content.decode()
    detail = staff.get(f"/admin/ratings/promptheadfit/{head.pk}/change/").content.decode()
    assert "held-out votes (of 360)" in detail and f"{head.prompt_log_loss:.4f}" in detail
    assert "poet (" in detail and "solver (" in detail
    assert staff.get("/admin/ratings/promptheadfit/add/").status_code == 403
    assert staff.post(f"/admin/ratings/promptheadfit/{head.pk}/delete/", {"post": "yes"}).status_code == 403
    assert PromptHeadFit.objects.filter(pk=head.pk).exists()

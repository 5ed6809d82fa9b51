"""Prompt-to-leaderboard in the arena: the worker trains a head on the votes' prompt embeddings; it answers
the leaderboard for a prompt only when it beat the global fit on held-out votes, else similar prompts do."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

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


def test_a_head_that_does_not_beat_the_global_fit_is_not_published(api, arena_db, tmp_path):
    same = {"solver": 0.6, "steady": 0.0, "poet": -0.6}
    import_topic_votes(tmp_path, {"arithmetic": same, "poetry": same})
    head = trained_head()
    assert not head.published, head.verdict()

    board = api.post("/api/leaderboard/for-prompt", {"prompt": "What is 314 times 27?"}).json()
    assert board["method"] == "similar_prompts" and board["p2l"]["published"] is False
    assert "effective_votes" in board
    assert "not published" in api.get("/leaderboard/").text


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

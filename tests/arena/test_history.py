""""Your battles" through the HTTP API: this browser's battles, newest first, models only once a blind
battle is voted, and deletion that hides a battle but never takes back its vote."""

import httpx

from arena.models import Battle, Vote
from tests.apiclient import ApiClient


def _other_browser(api: ApiClient) -> ApiClient:
    return ApiClient(httpx.Client(base_url=api.http.base_url, timeout=30))


def test_it_lists_this_browsers_battles_newest_first(api, endpoints):
    first = api.start("First prompt")
    second = api.start("Second prompt", mode="named", models=["alpha-model", "beta-model"])
    other = _other_browser(api)
    someone_elses = other.start("Someone else's prompt")

    battles = api.get("/api/history").json()["battles"]
    assert [b["id"] for b in battles] == [second, first]
    assert [b["prompt"] for b in battles] == ["Second prompt", "First prompt"]
    assert battles[0]["models"] == {"a": "alpha-model", "b": "beta-model"}
    assert battles[1]["models"] is None and battles[1]["vote"] is None  # a blind battle before its vote
    assert [b["id"] for b in other.get("/api/history").json()["battles"]] == [someone_elses]
    for battle_id in (first, second, someone_elses):
        api.wait_finished(battle_id)


def test_it_names_the_models_and_the_vote_once_voted(api, endpoints):
    battle_id = api.start("Which is better?")
    api.wait_finished(battle_id)
    assert api.post(f"/api/battles/{battle_id}/vote", {"choice": "tie"}).status_code == 200

    [entry] = api.get("/api/history").json()["battles"]
    assert entry["vote"] == "tie"
    assert set(entry["models"].values()) == {"alpha-model", "beta-model"}


def test_deleting_hides_the_battle_but_its_vote_still_counts(api, endpoints):
    battle_id = api.start("Delete me later")
    api.wait_finished(battle_id)
    assert api.post(f"/api/battles/{battle_id}/vote", {"choice": "a"}).status_code == 200
    counted = Vote.objects.get(battle__uuid=battle_id).counts

    assert api.http.delete(f"/api/history/{battle_id}").status_code == 204

    assert api.get("/api/history").json()["battles"] == []
    assert api.get(f"/api/battles/{battle_id}").status_code == 404
    assert api.get(f"/b/{battle_id}/").status_code == 404  # the share link is down too
    vote = Vote.objects.get(battle__uuid=battle_id)  # the vote is kept and counts as before
    assert vote.counts == counted and vote.choice == "a"
    again = api.http.delete(f"/api/history/{battle_id}")
    assert again.status_code == 404 and again.json()["detail"] == "None of your battles has this id."


def test_deleting_a_battle_still_being_written_stops_it(api, endpoints):
    battle_id = api.start("Stop when deleted")
    assert api.http.delete(f"/api/history/{battle_id}").status_code == 204
    battle = Battle.objects.get(uuid=battle_id)
    assert battle.hidden_at is not None
    api_vote = api.post(f"/api/battles/{battle_id}/vote", {"choice": "a", "proof": ""})
    assert api_vote.status_code == 404  # nothing is voted on a deleted battle


def test_it_refuses_to_delete_another_browsers_battle(api, endpoints):
    battle_id = api.start("Mine")
    other = _other_browser(api)
    response = other.http.delete(f"/api/history/{battle_id}")
    assert response.status_code == 404 and response.json()["detail"] == "None of your battles has this id."
    assert [b["id"] for b in api.get("/api/history").json()["battles"]] == [battle_id]
    api.wait_finished(battle_id)


def test_it_refuses_a_deletion_without_the_csrf_token(api, endpoints):
    battle_id = api.start("Mine")
    response = api.http.delete(f"/api/history/{battle_id}", headers={"X-CSRFToken": ""})
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert Battle.objects.get(uuid=battle_id).hidden_at is None
    api.wait_finished(battle_id)


def test_it_refuses_a_limit_out_of_range(api, endpoints):
    response = api.get("/api/history", params={"limit": 0})
    assert response.status_code == 422 and response.json()["detail"].startswith("limit:")

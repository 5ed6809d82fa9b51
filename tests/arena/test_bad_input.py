"""Bad input gets a 4xx with a sentence, and the database stays as it was."""

import uuid

import httpx
import pytest

from arena.models import Battle, Message, Turn, Vote
from tests.conftest import tiny_endpoint


def _snapshot():
    return (Battle.objects.count(), Turn.objects.count(), Message.objects.count(), Vote.objects.count())


def _refused(response, status: int, *words: str):
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail.endswith(".")
    for word in words:
        assert word in detail.lower()


@pytest.mark.parametrize("body, status, word", [
    ({"prompt": ""}, 422, "empty"),
    ({"prompt": "   \n "}, 422, "empty"),
    ({"prompt": "x" * 8001}, 413, "limit"),
    ({"prompt": "hi", "mode": "royale"}, 422, "mode"),
    ({"prompt": 5}, 422, "prompt"),
    ({}, 422, "prompt"),
    ({"prompt": "hi", "mode": "named", "models": ["alpha-model"]}, 422, "exactly 2"),
    ({"prompt": "hi", "mode": "named", "models": ["alpha-model", "nope"]}, 422, "unknown model"),
    ({"prompt": "hi", "mode": "named", "models": ["alpha-model", "alpha-model"]}, 422, "different"),
    ({"prompt": "hi", "models": ["alpha-model", "beta-model"]}, 422, "anonymous"),
])
def test_it_refuses_bad_battles(api, endpoints, body, status, word):
    before = _snapshot()
    _refused(api.post("/api/battles", body), status, word)
    assert _snapshot() == before


def test_it_refuses_malformed_json(api, endpoints):
    before = _snapshot()
    response = api.http.post("/api/battles", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "json" in response.json()["detail"].lower()
    assert _snapshot() == before


def test_it_refuses_unknown_battles(api, endpoints):
    missing = uuid.uuid4()
    _refused(api.get(f"/api/battles/{missing}"), 404, "no battle")
    _refused(api.post(f"/api/battles/{missing}/vote", {"choice": "a"}), 404, "no battle")
    _refused(api.get(f"/api/battles/{missing}/stream"), 404, "no battle")
    assert api.get("/api/battles/not-a-uuid").status_code == 422


def test_it_refuses_an_invalid_choice_a_second_vote_and_an_early_vote(api, arena_db, tiny_model_dir, endpoints):
    battle_id = api.start("Hello")
    early = api.post(f"/api/battles/{battle_id}/vote", {"choice": "a"})
    # The tiny model may already be done; if not, the vote must wait.
    if early.status_code == 409:
        assert "finish" in early.json()["detail"]
        assert Vote.objects.count() == 0
    else:
        pytest.skip("both answers finished before the early vote could be sent")
    api.wait_finished(battle_id)
    _refused(api.post(f"/api/battles/{battle_id}/vote", {"choice": "maybe"}), 422, "choice")
    assert Vote.objects.count() == 0
    assert api.post(f"/api/battles/{battle_id}/vote", {"choice": "bothbad"}).status_code == 200
    _refused(api.post(f"/api/battles/{battle_id}/vote", {"choice": "a"}), 409, "already")
    assert Vote.objects.count() == 1
    assert Vote.objects.get().choice == "bothbad"


def test_it_refuses_a_vote_before_the_answers_finish(api, arena_db, tiny_model_dir):
    tiny_endpoint("slow-a", tiny_model_dir, max_new_tokens=4000)
    tiny_endpoint("slow-b", tiny_model_dir, max_new_tokens=4000)
    battle_id = api.start("Write a long essay.")
    _refused(api.post(f"/api/battles/{battle_id}/vote", {"choice": "a"}), 409, "finish")
    assert Vote.objects.count() == 0
    api.post(f"/api/battles/{battle_id}/stop")
    api.wait_finished(battle_id)


def test_it_refuses_without_csrf_and_from_another_session(api, endpoints, web):
    battle_id = api.start("Hello")
    api.wait_finished(battle_id)
    with httpx.Client(base_url=web) as bare:
        _refused(bare.post("/api/battles", json={"prompt": "hi"}), 403, "csrf")
        token = bare.get("/api/session").json()["csrf_token"]
        _refused(bare.post(f"/api/battles/{battle_id}/vote", json={"choice": "a"}, headers={"X-CSRFToken": token}),
                 403, "only the person")
    assert Vote.objects.count() == 0


def test_it_answers_503_with_too_few_models(api, arena_db, tiny_model_dir):
    before = _snapshot()
    _refused(api.post("/api/battles", {"prompt": "hi"}), 503, "fewer than two")
    tiny_endpoint("only-one", tiny_model_dir)
    _refused(api.post("/api/battles", {"prompt": "hi"}), 503, "fewer than two")
    assert _snapshot() == before
    page = api.get("/")
    assert page.status_code == 200 and "Fewer than two models are available" in page.text


def test_it_refuses_bodies_that_are_not_json(api, endpoints):
    before = _snapshot()
    for content_type in ("multipart/form-data", "text/plain", "application/x-www-form-urlencoded"):
        response = api.http.post("/api/battles", content=b'{"prompt": "hi"}', headers={"Content-Type": content_type})
        assert response.status_code == 415 and "JSON" in response.json()["detail"]
    huge = api.http.post("/api/battles", content=b'{"prompt": "' + b"x" * 400_000 + b'"}',
                         headers={"Content-Type": "application/json"})
    assert 400 <= huge.status_code < 500
    invalid_utf8 = api.http.post("/api/battles", content=b'{"prompt": "\xff\xfe"}',
                                 headers={"Content-Type": "application/json"})
    assert 400 <= invalid_utf8.status_code < 500 and invalid_utf8.json()["detail"]
    assert _snapshot() == before

"""Bad input gets a 4xx with a sentence, and the database stays as it was."""

import json
import uuid
from types import SimpleNamespace

import httpx
import pytest

from arena.models import Backend, Battle, Message, ModelEndpoint, Status, Turn, Vote
from arena.presenters import RenderCache
from tests.conftest import TINY_QUEUE, tiny_endpoint
from tests.stub_openai import StubServer
from tests.testenv import V1_KEY


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
    _refused(huge, 413, "larger than 256 kb")
    invalid_utf8 = api.http.post("/api/battles", content=b'{"prompt": "\xff\xfe"}',
                                 headers={"Content-Type": "application/json"})
    assert 400 <= invalid_utf8.status_code < 500 and invalid_utf8.json()["detail"]
    assert _snapshot() == before


def test_a_body_over_the_limit_gets_a_json_413_on_v1_too(web):
    response = httpx.post(f"{web}/v1/chat/completions", content=b'{"model": "' + b"x" * 400_000 + b'"}',
                          headers={"Content-Type": "application/json", "Authorization": f"Bearer {V1_KEY}"})
    assert response.status_code == 413 and "larger than 256 KB" in response.json()["error"]["message"]


def test_a_lone_surrogate_in_a_prompt_is_refused_with_a_sentence(api, endpoints):
    before = _snapshot()
    response = api.http.post("/api/battles", content=b'{"prompt": "left \\ud800 right"}',
                             headers={"Content-Type": "application/json"})
    _refused(response, 422, "u+d800", "lone surrogate")
    assert _snapshot() == before


@pytest.fixture
def unstorable_stub(arena_db):
    replies = {"nul": "Before\x00after, and more words.", "surrogate": "Left \ud800 right, and more words."}
    with StubServer(replies) as server:
        for model in replies:
            ModelEndpoint.objects.create(name=f"stub-{model}", backend=Backend.OPENAI, queue=TINY_QUEUE,
                                         params={"base_url": server.url, "model": model})
        yield server


def test_a_nul_or_lone_surrogate_in_an_answer_is_stored_replaced_and_streamed_as_valid_text(api, unstorable_stub):
    battle_id = api.start("Say something odd.", mode="named", models=["stub-nul", "stub-surrogate"])
    data = api.wait_finished(battle_id, timeout=30)  # not "streaming" until the generation timeout
    turn = data["turns"][0]
    assert (turn["a"]["status"], turn["b"]["status"]) == ("done", "done")
    assert turn["a"]["text"] == "Before\ufffdafter, and more words."
    assert turn["b"]["text"] == "Left \ufffd right, and more words."
    events, _ = api.events(battle_id)
    streamed = {side: "".join(e["data"]["text"] for e in events if e["event"] == "delta" and e["data"]["side"] == side)
                for side in "ab"}
    assert streamed == {"a": turn["a"]["text"], "b": turn["b"]["text"]}
    raw = api.get(f"/api/battles/{battle_id}").content
    raw.decode("utf-8")  # valid UTF-8 throughout
    assert b"\\u0000" not in raw and b"\\ud800" not in raw


def test_a_last_event_id_past_64_bits_is_refused_and_the_largest_one_resumes(api, unstorable_stub):
    battle_id = api.start("Say something odd.", mode="named", models=["stub-nul", "stub-surrogate"])
    api.wait_finished(battle_id, timeout=30)
    refused = api.get(f"/api/battles/{battle_id}/stream", headers={"Last-Event-ID": "99999999999999999999-0"})
    _refused(refused, 422, "last-event-id")
    events, meta = api.events(battle_id, last_event_id="18446744073709551615-0")
    assert [e["event"] for e in events] == ["idle"]  # nothing comes after the largest id
    assert meta["raw"].startswith("retry: ")


def test_a_one_megabyte_answer_is_served_whole_on_every_get(api, endpoints):
    battle_id = api.start("Hello", mode="named", models=["alpha-model", "beta-model"])
    api.wait_finished(battle_id)
    big = "Some **bold** text with a [link](http://example.org) and words.\n\n" * 16_000
    Message.objects.filter(turn__battle__uuid=battle_id, side="a").update(text=big, status=Status.DONE)
    for _ in range(3):
        data = json.loads(api.get(f"/api/battles/{battle_id}").content)
        assert data["turns"][0]["a"]["html"].count("<strong>") == 16_000


def test_a_long_answer_is_rendered_once_per_text():
    cache = RenderCache(size=2)
    answer = SimpleNamespace(id=1, attempt=1)
    text = "Some **bold** words. " * 400
    first = cache.html(answer, text)
    assert cache.html(answer, text) is first  # the same string: served from the cache, not rendered again
    assert cache.html(SimpleNamespace(id=1, attempt=2), text) is not first  # a regenerated answer renders anew
    longer = cache.html(answer, text + "More.")
    assert longer is not first and longer.endswith("More.</p>\n")

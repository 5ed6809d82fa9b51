"""Every vote counts once; votes on battles that are not blind are kept but excluded, with the reason shown."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from arena.models import Backend, ModelEndpoint, Vote
from tests.arena.test_markdown import elements
from tests.conftest import TINY_QUEUE
from tests.stub_openai import StubServer


def test_concurrent_double_submits_make_one_vote(api, endpoints):
    battle_id = api.start("Hello")
    api.wait_finished(battle_id)
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda c: api.post(f"/api/battles/{battle_id}/vote", {"choice": c}).status_code,
                                 ["a", "b", "tie", "bothbad"] * 4))
    assert statuses.count(200) == 1 and statuses.count(409) == 15
    assert Vote.objects.filter(battle__uuid=battle_id).count() == 1


@pytest.fixture
def stub(arena_db):
    replies = {
        "honest": "The capital of France is Paris.",
        "leaky": "As Acme-Chat, trained by **Acme Labs**, I say: Paris.",
    }
    with StubServer(replies) as server:
        for name, model, organisation, aliases in [("stub-honest", "honest", "Honest Org", ""),
                                                   ("stub-leaky", "leaky", "Acme Labs", "Acme-Chat")]:
            ModelEndpoint.objects.create(name=name, organisation=organisation, aliases=aliases, backend=Backend.OPENAI,
                                         queue=TINY_QUEUE, params={"base_url": server.url, "model": model})
        yield server


def test_an_answer_naming_a_model_excludes_the_vote_and_says_why(api, stub):
    battle_id = api.start("What is the capital of France?")
    data = api.wait_finished(battle_id)
    assert {data["turns"][0][s]["status"] for s in "ab"} == {"done"}
    response = api.post(f"/api/battles/{battle_id}/vote", {"choice": "a"})
    vote = response.json()["vote"]
    assert vote["counts"] is False
    assert "names a model or its maker" in vote["excluded_reason"] and "does not count" in vote["excluded_reason"]
    assert Vote.objects.get(battle__uuid=battle_id).counts is False


def test_hostile_markup_from_a_model_is_rendered_inert(api, arena_db):
    payload = ('<script>alert(1)</script><img src=x onerror=alert(2)> [x](javascript:alert(3)) '
               '<a href="javascript:alert(4)">y</a>')
    with StubServer({"xss": payload, "plain": "fine"}) as server:
        for name, model in [("stub-xss", "xss"), ("stub-plain", "plain")]:
            ModelEndpoint.objects.create(name=name, backend=Backend.OPENAI, queue=TINY_QUEUE,
                                         params={"base_url": server.url, "model": model})
        battle_id = api.start("Say something", mode="named", models=["stub-xss", "stub-plain"])
        data = api.wait_finished(battle_id)
    answer = data["turns"][0]["a"]
    assert answer["text"] == payload  # stored exactly as the model said it
    tags = elements(answer["html"])
    assert [tag for tag, _ in tags] == ["p"]  # everything else arrived as text, not markup
    assert "&lt;script&gt;" in answer["html"]

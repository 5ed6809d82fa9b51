"""Every vote counts once; votes on battles that are not blind are kept but excluded, with the reason shown."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from arena.models import Backend, Message, ModelEndpoint, Vote
from tests.arena.html_elements import elements
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


HONEST, LEAKY = "The capital of France is Paris.", "As Acme-Chat, trained by **Acme Labs**, I say: Paris."


@pytest.fixture
def stub(arena_db):
    with StubServer({"honest": HONEST, "leaky": LEAKY}) as server:
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


def test_votes_on_one_prompt_are_numbered_one_after_another(api, endpoints):
    battle_ids = [api.start("The same question for everyone") for _ in range(6)]
    for battle_id in battle_ids:
        api.wait_finished(battle_id)
    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda b: api.post(f"/api/battles/{b}/vote", {"choice": "a"}).status_code, battle_ids))
    assert statuses == [200] * 6
    votes = Vote.objects.filter(battle__uuid__in=battle_ids)
    assert all(v.counts for v in votes) and len({v.prompt_hash for v in votes}) == 1
    assert sorted(v.prompt_nth for v in votes) == [1, 2, 3, 4, 5, 6]


def test_the_worker_notes_what_a_vote_needs_when_an_answer_finishes(api, stub):
    battle_id = api.start("What is the capital of France?")
    api.wait_finished(battle_id)
    notes = {m.text: (m.identity_leak, m.style_counts) for m in Message.objects.filter(turn__battle__uuid=battle_id)}
    assert notes == {HONEST: ("", {"tokens": 7, "headers": 0, "lists": 0, "bold": 0}),
                     LEAKY: ("Acme-Chat", {"tokens": 19, "headers": 0, "lists": 0, "bold": 1})}


def test_answers_stored_without_those_notes_are_checked_when_voting(api, stub):
    battle_id = api.start("What is the capital of France?")
    api.wait_finished(battle_id)
    messages = Message.objects.filter(turn__battle__uuid=battle_id)
    messages.update(identity_leak=None, style_counts=None)  # as answers stored before workers noted them
    leaky_side = messages.get(text=LEAKY).side
    vote = api.post(f"/api/battles/{battle_id}/vote", {"choice": "a"}).json()["vote"]
    assert vote["counts"] is False and "(Acme-Chat)" in vote["excluded_reason"]
    meta = Vote.objects.get(battle__uuid=battle_id).features["conv_metadata"]
    honest_side = "b" if leaky_side == "a" else "a"
    assert (meta[f"sum_assistant_{leaky_side}_tokens"], meta[f"bold_count_{leaky_side}"]) == (19, 1)
    assert (meta[f"sum_assistant_{honest_side}_tokens"], meta[f"bold_count_{honest_side}"]) == (7, 0)

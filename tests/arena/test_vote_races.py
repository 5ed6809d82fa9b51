"""A vote is about the answers the voter saw: it races neither a regeneration nor a follow-up."""

import threading

import pytest

from arena.models import Backend, ModelEndpoint, Vote
from tests.conftest import TINY_QUEUE
from tests.stub_openai import StubServer

TRIES = 12


@pytest.fixture
def stubs(arena_db):
    with StubServer({"one": "The first model answers.", "two": "The second model answers."}) as server:
        for name, model in [("stub-one", "one"), ("stub-two", "two")]:
            ModelEndpoint.objects.create(name=name, backend=Backend.OPENAI, queue=TINY_QUEUE,
                                         params={"base_url": server.url, "model": model})
        yield server


def _finished_battle(api) -> tuple[str, dict]:
    battle_id = api.start("Say something.", mode="named", models=["stub-one", "stub-two"])
    data = api.wait_finished(battle_id)
    return battle_id, data


def _seen(data: dict) -> dict:
    turn = data["turns"][-1]
    return {"choice": "a", "attempts": {s: turn[s]["attempt"] for s in "ab"}, "turn": turn["index"]}


def _race(*calls) -> list[int]:
    """Run the calls at once (as nearly as threads can) and return their status codes."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        results[i] = call().status_code

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_a_vote_and_a_regeneration_never_both_succeed(api, stubs):
    for _ in range(TRIES):
        battle_id, data = _finished_battle(api)
        vote, regen = _race(lambda: api.post(f"/api/battles/{battle_id}/vote", _seen(data)),
                            lambda: api.post(f"/api/battles/{battle_id}/regenerate"))
        assert (vote, regen) in [(200, 409), (409, 202)], (vote, regen)
        assert Vote.objects.filter(battle__uuid=battle_id).count() == (vote == 200)


def test_a_vote_and_a_follow_up_never_both_succeed(api, stubs):
    for _ in range(TRIES):
        battle_id, data = _finished_battle(api)
        vote, turn = _race(lambda: api.post(f"/api/battles/{battle_id}/vote", _seen(data)),
                           lambda: api.post(f"/api/battles/{battle_id}/turns", {"prompt": "And then?"}))
        assert (vote, turn) in [(200, 409), (409, 201)], (vote, turn)


def test_a_vote_for_replaced_answers_is_refused_with_a_sentence(api, stubs):
    battle_id, data = _finished_battle(api)
    assert api.post(f"/api/battles/{battle_id}/regenerate").status_code == 202
    api.wait_finished(battle_id)
    response = api.post(f"/api/battles/{battle_id}/vote", _seen(data))
    assert response.status_code == 409
    assert "regenerated since you saw them" in response.json()["detail"]
    assert not Vote.objects.filter(battle__uuid=battle_id).exists()
    current = api.battle(battle_id)
    assert api.post(f"/api/battles/{battle_id}/vote", _seen(current)).status_code == 200


def test_a_vote_for_an_earlier_turn_is_refused_with_a_sentence(api, stubs):
    battle_id, data = _finished_battle(api)
    assert api.post(f"/api/battles/{battle_id}/turns", {"prompt": "And then?"}).status_code == 201
    api.wait_finished(battle_id)
    response = api.post(f"/api/battles/{battle_id}/vote", _seen(data))
    assert response.status_code == 409 and "moved on to turn 2" in response.json()["detail"]


def test_a_vote_naming_the_wrong_sides_is_refused(api, stubs):
    battle_id, _ = _finished_battle(api)
    response = api.post(f"/api/battles/{battle_id}/vote", {"choice": "a", "attempts": {"a": 1}})
    assert response.status_code == 422 and "each of the sides a, b" in response.json()["detail"]

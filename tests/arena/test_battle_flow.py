"""A whole anonymous battle through the HTTP API, on a real PostgreSQL, Redis, Celery worker and
ASGI server: create, stream, follow up, vote, reveal; plus stream resume after a reconnect."""

import os

from arena.models import Arena, Battle, Message, ModelEndpoint, Vote
from tests.conftest import tiny_endpoint
from workers.generation import conversation_for


def test_it_runs_an_anonymous_battle_end_to_end(api, endpoints):
    battle_id = api.start("Tell me a short story about a cat.")

    events, _ = api.events(battle_id)
    kinds = [e["event"] for e in events]
    assert kinds[-1] == "idle"
    streamed = {"a": "", "b": ""}
    for e in events:
        if e["event"] == "delta":
            streamed[e["data"]["side"]] += e["data"]["text"]
    ends = {e["data"]["side"]: e["data"] for e in events if e["event"] == "end"}
    assert set(ends) == {"a", "b"} and all(end["status"] == "done" for end in ends.values())
    assert sum(1 for e in events if e["event"] == "delta") >= 4  # streamed piece by piece, not at once

    data = api.battle(battle_id)
    assert data["mode"] == "anony" and data["models"] is None and data["vote"] is None
    turn = data["turns"][0]
    for side in "ab":
        assert turn[side]["status"] == "done"
        assert turn[side]["text"] == streamed[side] != ""
        # nothing before the vote says how an answer was made
        assert turn[side]["tokens"] is None and turn[side]["ttft_ms"] is None and turn[side]["duration_ms"] is None
    assert all(set(e["data"]) <= {"type", "turn", "side", "attempt", "text", "status", "detail"} for e in events)
    assert not any(e.get("id", "").split("-")[0].isdigit() for e in events)  # ids are no timestamps

    assert api.post(f"/api/battles/{battle_id}/turns", {"prompt": "And then?"}).status_code == 201
    data = api.wait_finished(battle_id)
    assert [t["prompt"] for t in data["turns"]] == ["Tell me a short story about a cat.", "And then?"]
    assert all(data["turns"][1][s]["status"] == "done" for s in "ab")

    response = api.post(f"/api/battles/{battle_id}/vote", {"choice": "a"})
    assert response.status_code == 200, response.text
    revealed = response.json()
    assert set(revealed["models"].values()) == {"alpha-model", "beta-model"}
    assert revealed["vote"]["choice"] == "a"
    battle = Battle.objects.select_related("endpoint_a", "endpoint_b").get(uuid=battle_id)
    assert revealed["models"] == {"a": battle.endpoint_a.name, "b": battle.endpoint_b.name}
    assert Vote.objects.get(battle=battle).counts in (True, False)
    assert api.battle(battle_id)["models"] == revealed["models"]
    for side in "ab":
        shown = revealed["turns"][0][side]
        assert shown["tokens"] > 0 and shown["ttft_ms"] is not None and shown["duration_ms"] >= shown["ttft_ms"]

    after = api.post(f"/api/battles/{battle_id}/turns", {"prompt": "More?"})
    assert after.status_code == 409 and "voted" in after.json()["detail"]


def test_it_gives_each_side_its_own_history(api, endpoints):
    battle_id = api.start("First question")
    api.wait_finished(battle_id)
    api.post(f"/api/battles/{battle_id}/turns", {"prompt": "Second question"})
    api.wait_finished(battle_id)

    second_a = Message.objects.get(turn__battle__uuid=battle_id, turn__index=1, side="a")
    first_a = Message.objects.get(turn__battle__uuid=battle_id, turn__index=0, side="a")
    assert conversation_for(second_a) == [
        {"role": "user", "content": "First question"},
        {"role": "assistant", "content": first_a.text},
        {"role": "user", "content": "Second question"},
    ]


def test_it_resumes_a_stream_after_reconnect_without_loss_or_repeat(api, endpoints):
    battle_id = api.start("Count to ten.", mode="named", models=["alpha-model", "beta-model"])
    first, _ = api.events(battle_id, limit=5)
    assert len(first) == 5
    rest, _ = api.events(battle_id, last_event_id=first[-1]["id"])
    whole, _ = api.events(battle_id)

    ids = [e["id"] for e in first + rest if "id" in e]
    assert ids == [e["id"] for e in whole if "id" in e]
    assert len(ids) == len(set(ids))
    resumed_text = "".join(e["data"]["text"] for e in first + rest
                           if e["event"] == "delta" and e["data"]["side"] == "a")
    data = api.wait_finished(battle_id)
    assert resumed_text == data["turns"][0]["a"]["text"]


def test_a_paced_stream_resumes_after_reconnect_without_loss_or_repeat(api, endpoints):
    battle_id = api.start("Count to ten.")
    first, _ = api.events(battle_id, limit=3)
    assert len(first) == 3
    rest, _ = api.events(battle_id, last_event_id=first[-1]["id"])
    data = api.wait_finished(battle_id)
    for side in "ab":
        pieces = [e["data"]["text"] for e in first + rest if e["event"] == "delta" and e["data"]["side"] == side]
        assert "".join(pieces) == data["turns"][0][side]["text"] != ""
        assert [e["event"] for e in first + rest if e.get("data", {}).get("side") == side].count("start") == 1
    ids = [e["id"] for e in first + rest if "id" in e]
    assert len(ids) == len(set(ids))


def test_every_contestant_of_an_anonymous_battle_has_one_token_cap(api, arena_db, tiny_model_dir):
    tiny_endpoint("short-cap", tiny_model_dir, max_new_tokens=24, seed=1)  # its own cap applies, silently
    tiny_endpoint("no-cap", tiny_model_dir, max_new_tokens=4000, seed=2)  # above the arena's: cut there
    battle_id = api.start("Write a very long essay.")
    data = api.wait_finished(battle_id, timeout=120)
    tokens = sorted(Message.objects.filter(turn__battle__uuid=battle_id).values_list("tokens", flat=True))
    assert tokens == [24, int(os.environ["ARENA_ANSWER_TOKEN_CAP"])]
    assert all(data["turns"][0][side]["cut"] is True for side in "ab")  # the same mark on both sides
    assert all(data["turns"][0][side]["tokens"] is None for side in "ab")


def test_an_arena_sets_its_own_token_cap_and_pacing(api, arena_db, tiny_model_dir):
    Arena.objects.create(slug="unpaced", title="Unpaced", answer_token_cap=40, pacing=False)
    for name, cap in [("short-cap", 24), ("no-cap", 4000)]:
        endpoint = tiny_endpoint(name, tiny_model_dir, max_new_tokens=cap)
        endpoint.arenas = ["unpaced"]
        endpoint.save()
    response = api.post("/api/battles", {"prompt": "Write a very long essay.", "mode": "anony", "arena": "unpaced"})
    assert response.status_code == 201, response.text
    battle_id = response.json()["id"]
    events, _ = api.events(battle_id)
    assert any(e.get("id", "").split("-")[0].isdigit() for e in events)  # the stream's own ids: not paced
    api.wait_finished(battle_id, timeout=120)
    tokens = sorted(Message.objects.filter(turn__battle__uuid=battle_id).values_list("tokens", flat=True))
    assert tokens == [24, 40]  # the arena's cap, not the site's


def test_it_stops_and_regenerates(api, arena_db, tiny_model_dir):
    tiny_endpoint("long-a", tiny_model_dir, max_new_tokens=4000, seed=1)
    tiny_endpoint("long-b", tiny_model_dir, max_new_tokens=4000, seed=2)
    battle_id = api.start("Write a very long essay.")
    api.events(battle_id, limit=6)  # generation is under way
    assert api.post(f"/api/battles/{battle_id}/stop").status_code == 202
    data = api.wait_finished(battle_id, timeout=30)
    assert {data["turns"][0][s]["status"] for s in "ab"} == {"stopped"}
    assert all(m.tokens < 4000 for m in Message.objects.filter(turn__battle__uuid=battle_id))

    assert api.post(f"/api/battles/{battle_id}/regenerate").status_code == 202
    data = api.battle(battle_id)
    assert all(data["turns"][0][s]["attempt"] == 2 for s in "ab")
    api.wait_for_text(battle_id)  # a vote on two empty answers is refused (see below)
    api.post(f"/api/battles/{battle_id}/stop")
    data = api.wait_finished(battle_id, timeout=30)
    assert {data["turns"][0][s]["status"] for s in "ab"} == {"stopped"}
    response = api.post(f"/api/battles/{battle_id}/vote", {"choice": "tie"})
    assert response.status_code == 200
    assert response.json()["vote"]["counts"] is False  # stopped answers never count toward ratings


def test_named_and_direct_modes_show_models_and_never_count(api, endpoints):
    battle_id = api.start("Hi", mode="named", models=["beta-model", "alpha-model"])
    data = api.wait_finished(battle_id)
    assert data["models"] == {"a": "beta-model", "b": "alpha-model"}
    vote = api.post(f"/api/battles/{battle_id}/vote", {"choice": "b"}).json()["vote"]
    assert vote["counts"] is False and "anonymous" in vote["excluded_reason"]

    direct_id = api.start("Hi", mode="direct", models=["alpha-model"])
    data = api.wait_finished(direct_id)
    assert data["models"] == {"a": "alpha-model"}
    assert set(data["turns"][0]) == {"index", "prompt", "created_at", "a"}


def test_models_endpoint_lists_enabled_public_models(api, endpoints):
    ModelEndpoint.objects.filter(name="beta-model").update(enabled=False)
    names = [m["name"] for m in api.get("/api/models").json()]
    assert names == ["alpha-model"]

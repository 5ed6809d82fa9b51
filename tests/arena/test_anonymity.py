"""Nothing an anonymous battle sends before the vote may name a model or an endpoint id."""

import re

import httpx

from tests.conftest import tiny_endpoint


def _forbidden_words(endpoints):
    words = []
    for e in endpoints:
        words += [e.name, e.organisation, f"endpoint_{e.id}"]
    return words


def _assert_clean(blob: str, endpoints, where: str):
    for e in endpoints:
        for word in (e.name, e.organisation):
            assert word.lower() not in blob.lower(), f"{word!r} leaked in {where}"
        assert not re.search(rf'"endpoint[^"]*"\s*:\s*{e.id}\b', blob), f"endpoint id leaked in {where}"


def test_it_reveals_nothing_before_the_vote(api, arena_db, tiny_model_dir, web):
    endpoints = [tiny_endpoint(name, tiny_model_dir, seed=i)
                 for i, name in enumerate(["zircon-secret-model", "quartz-hidden-model", "onyx-private-model"])]
    for _ in range(3):
        battle_id = api.start("Who are you?")
        responses = []
        events, stream = api.events(battle_id)
        _assert_clean(stream["raw"], endpoints, "the event stream")
        _assert_clean(repr(stream["headers"]), endpoints, "stream headers")
        for path in [f"/api/battles/{battle_id}", "/", f"/b/{battle_id}/", f"/api/battles/{battle_id}/stream"]:
            responses.append(api.get(path))
        responses.append(api.post(f"/api/battles/{battle_id}/regenerate"))
        api.wait_finished(battle_id)
        responses.append(api.post(f"/api/battles/{battle_id}/turns", {"prompt": ""}))
        responses.append(api.post(f"/api/battles/{battle_id}/vote", {"choice": "nope"}))
        with httpx.Client(base_url=web) as stranger:  # another session: refused, but also silent
            responses.append(stranger.post(f"/api/battles/{battle_id}/vote", json={"choice": "a"}))
        for response in responses:
            _assert_clean(response.text, endpoints, f"{response.request.method} {response.request.url}")
            _assert_clean(repr(dict(response.headers)), endpoints, f"headers of {response.request.url}")
        assert api.post(f"/api/battles/{battle_id}/vote", {"choice": "a"}).status_code == 200
        revealed = api.battle(battle_id)
        assert revealed["models"]["a"] in {e.name for e in endpoints}

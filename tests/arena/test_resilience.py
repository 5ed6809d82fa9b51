"""Faults with real processes: PostgreSQL and Redis restarted under a running arena."""

import httpx
import pytest
from django.db import connection

from arena.models import Message
from tests.conftest import tiny_endpoint, wait_until

pytestmark = pytest.mark.slow


def test_a_postgres_outage_answers_503_and_recovers_by_itself(api, web, endpoints, stack):
    battle_id = api.start("Hello")
    api.wait_finished(battle_id)
    stack.postgres.stop()
    try:
        for path in (f"/api/battles/{battle_id}", "/api/models", "/"):
            response = httpx.get(web + path, timeout=30)
            assert response.status_code == 503, (path, response.text[:300])
            assert "database is unavailable" in response.text
        refused = api.post("/api/battles", {"prompt": "during the outage"})
        assert refused.status_code == 503 and refused.json()["detail"].endswith(".")
    finally:
        stack.postgres.start()
        connection.close()  # this test process's own connection died with the server
    wait_until(lambda: httpx.get(f"{web}/api/battles/{battle_id}").status_code == 200, timeout=30,
               what="the API to recover")
    assert api.battle(battle_id)["turns"][0]["a"]["status"] == "done"
    again = api.start("after the outage")
    assert api.wait_finished(again)["turns"][0]["b"]["status"] == "done"


def test_a_redis_restart_during_a_stream_loses_no_stored_text(api, arena_db, tiny_model_dir, stack, supervised_worker):
    tiny_endpoint("long-1", tiny_model_dir, max_new_tokens=400)
    tiny_endpoint("long-2", tiny_model_dir, max_new_tokens=400)
    battle_id = api.start("Write at length.")
    first, _ = api.events(battle_id, limit=6)
    stack.redis.stop()
    try:
        data = api.battle(battle_id)  # the database still answers while Redis is away
        assert data["turns"][0]["a"]["status"] in ("streaming", "done")
    finally:
        stack.redis.start()
    rest, _ = api.events(battle_id, last_event_id=first[-1]["id"], timeout=120)
    assert rest[-1]["event"] == "idle"
    ids = [e["id"] for e in first + rest if "id" in e]
    assert len(ids) == len(set(ids))
    data = api.wait_finished(battle_id, timeout=120)
    assert all(data["turns"][0][side]["status"] == "done" for side in "ab")
    stored = Message.objects.filter(turn__battle__uuid=battle_id)
    # every token is kept, even those streamed while Redis was down
    assert all(m.tokens == 400 and len(m.text) >= 400 for m in stored)
    supervised_worker.ensure()  # restarted if the broker reconnect crashed it (a known kombu issue)
    again = api.start("after the restart")
    assert api.wait_finished(again)["turns"][0]["a"]["status"] == "done"

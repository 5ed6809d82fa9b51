"""Two worker "hosts" on one machine, each consuming its own queue: battles route to the right
worker, and a killed worker leaves the sampling pool while its in-flight answers fail cleanly."""

import os
import signal

import pytest

from arena.models import Backend, Message, ModelEndpoint
from tests.conftest import wait_for_queue, wait_until
from tests.stub_openai import StubServer
from workers.heartbeat import live_queues

pytestmark = pytest.mark.slow


def _endpoint(name, queue, tiny_model_dir, **params):
    return ModelEndpoint.objects.create(
        name=name, organisation="org", backend=Backend.TRANSFORMERS, queue=queue,
        params={"model": str(tiny_model_dir), "temperature": 0, "max_new_tokens": 24, **params})


@pytest.fixture
def slow():
    with StubServer({"slow": "word " * 1000}, delay=0.1) as server:
        yield server


def test_battles_route_to_their_workers_and_a_killed_worker_fails_cleanly(api, stack, arena_db, tiny_model_dir, slow):
    host_a = stack.start_worker("host-a", ["queue-a"], concurrency=4)
    host_b = stack.start_worker("host-b", ["queue-b"], concurrency=4)
    try:
        wait_for_queue("queue-a", host_a, stack, name="host-a")
        wait_for_queue("queue-b", host_b, stack, name="host-b")
        _endpoint("on-host-a", "queue-a", tiny_model_dir)
        # Host b answers slowly (a remote model streaming for a minute), so it is surely mid-answer when killed.
        ModelEndpoint.objects.create(name="on-host-b", organisation="org", backend=Backend.OPENAI, queue="queue-b",
                                     params={"base_url": slow.url, "model": "slow"})

        battle_id = api.start("Hello", mode="named", models=["on-host-a", "on-host-b"])
        wait_until(lambda: Message.objects.filter(turn__battle__uuid=battle_id, side="b", status="streaming").exists(),
                   what="host b to start streaming")
        workers = {m.side: m.worker for m in Message.objects.filter(turn__battle__uuid=battle_id)}
        assert workers["b"].startswith("host-b@")
        wait_until(lambda: Message.objects.filter(turn__battle__uuid=battle_id, side="a", status="done").exists(),
                   what="host a to finish")
        assert Message.objects.get(turn__battle__uuid=battle_id, side="a").worker.startswith("host-a@")

        os.killpg(host_b.pid, signal.SIGKILL)  # no goodbye: the heartbeat just stops
        host_b.wait()
        wait_until(lambda: "queue-b" not in live_queues(), timeout=15, what="host b to leave the pool")
        models = {m["name"]: m["available"] for m in api.get("/api/models").json()}
        assert models["on-host-a"] is True and models["on-host-b"] is False
        refused = api.post("/api/battles", {"prompt": "hi", "mode": "named", "models": ["on-host-a", "on-host-b"]})
        assert refused.status_code == 503 and "no running worker" in refused.json()["detail"]

        data = api.wait_finished(battle_id, timeout=30)  # the reaper fails the orphaned answer
        assert data["turns"][0]["b"]["status"] == "failed"
        assert data["turns"][0]["b"]["error"] and "host-b" not in data["turns"][0]["b"]["error"]
        assert data["turns"][0]["a"]["status"] == "done"
        refused = api.post(f"/api/battles/{battle_id}/vote", {"choice": "a"})
        assert refused.status_code == 409 and "regenerate it before voting" in refused.json()["detail"]

        ModelEndpoint.objects.filter(name="on-host-b").update(
            backend=Backend.TRANSFORMERS, params={"model": str(tiny_model_dir), "temperature": 0, "max_new_tokens": 16})
        host_b = stack.start_worker("host-b", ["queue-b"], concurrency=4)
        wait_for_queue("queue-b", host_b, stack, name="host-b")
        assert api.post(f"/api/battles/{battle_id}/regenerate").status_code == 202
        data = api.wait_finished(battle_id, timeout=60)
        assert data["turns"][0]["b"]["status"] == "done" and data["turns"][0]["a"]["status"] == "done"
        assert api.post(f"/api/battles/{battle_id}/vote", {"choice": "b"}).status_code == 200
    finally:
        for process in (host_a, host_b):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)

"""A worker killed mid-answer is noticed even when its supervisor restarts it under the same name:
the answers it was writing fail within the heartbeat TTL with their partial text kept, and the
user can regenerate at once; answers of which nothing was shown yet are asked again instead."""

import os
import signal
import threading
import time

import pytest
from django.conf import settings

from arena.models import Backend, Message, ModelEndpoint, Status
from tests.conftest import TINY_QUEUE, wait_until
from tests.stub_openai import StubServer

REPLY = "A slow and steady answer, one short piece at a time, so that it is still going. " * 4


@pytest.fixture
def slow_stubs(arena_db):
    with StubServer({"slow-1": REPLY, "slow-2": REPLY}, delay=0.2) as server:
        for model in ("slow-1", "slow-2"):
            ModelEndpoint.objects.create(name=f"stub-{model}", backend=Backend.OPENAI, queue=TINY_QUEUE,
                                         params={"base_url": server.url, "model": model})
        yield server


def test_a_killed_worker_restarted_under_its_name_fails_its_answers_within_the_ttl(api, slow_stubs,
                                                                                    supervised_worker):
    process = supervised_worker.ensure()
    restarts = supervised_worker.restarts
    battle_id = api.start("Take your time.", mode="named", models=["stub-slow-1", "stub-slow-2"])
    messages = Message.objects.filter(turn__battle__uuid=battle_id)
    wait_until(lambda: all(m.status == Status.STREAMING and m.text for m in messages.all()), timeout=30,
               what="both answers streaming with text stored")
    assert {m.worker for m in messages.all()} == {m.worker for m in messages.all()[:1]}
    claim = messages.first().worker
    assert claim.startswith("worker-tiny@") and f"/{process.pid}/" in claim  # the process instance, not the host

    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = time.monotonic()
    slow_stubs.delay = 0  # the regenerated answers need not be slow
    supervisor = threading.Thread(target=supervised_worker.ensure)  # restarted at once, under the same name
    supervisor.start()
    data = wait_until(lambda: (d := api.battle(battle_id))["finished"] and d, timeout=30,
                      what="the orphaned answers to fail")
    took = time.monotonic() - killed_at
    supervisor.join()
    assert supervised_worker.restarts == restarts + 1
    assert took <= settings.ARENA["HEARTBEAT_TTL"] + 2, took  # + one reaper period and polling
    turn = data["turns"][0]
    assert (turn["a"]["status"], turn["b"]["status"]) == ("failed", "failed")
    for message in messages.all():
        assert message.text and REPLY.startswith(message.text)  # the partial text is kept
        assert message.error == "The worker generating this answer stopped."

    assert api.post(f"/api/battles/{battle_id}/regenerate").status_code == 202
    again = api.wait_finished(battle_id, timeout=60)["turns"][0]
    assert (again["a"]["status"], again["b"]["status"]) == ("done", "done") and again["a"]["text"] == REPLY


def test_answers_of_a_killed_worker_with_nothing_shown_yet_are_asked_again(api, slow_stubs, supervised_worker):
    """Killed while both models were still thinking: nobody saw a word, so both answers are asked
    again (a fresh attempt on the restarted worker) instead of failing."""
    process = supervised_worker.ensure()
    slow_stubs.thinking.set()
    battle_id = api.start("Take your time.", mode="named", models=["stub-slow-1", "stub-slow-2"])
    messages = Message.objects.filter(turn__battle__uuid=battle_id)
    wait_until(lambda: all(m.status == Status.STREAMING for m in messages.all()), timeout=30,
               what="both answers claimed by the worker")
    wait_until(lambda: slow_stubs.requests["slow-1"] and slow_stubs.requests["slow-2"], timeout=30,
               what="both models asked")

    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    slow_stubs.delay = 0
    supervised_worker.ensure()  # restarted under the same name, as the supervisor does
    slow_stubs.thinking.clear()
    data = api.wait_finished(battle_id, timeout=60)
    turn = data["turns"][0]
    stored = [(m.side, m.attempt, m.status, m.error, m.worker) for m in messages.all()]
    assert (turn["a"]["status"], turn["b"]["status"]) == ("done", "done"), (stored, slow_stubs.requests)
    assert turn["a"]["text"] == turn["b"]["text"] == REPLY
    assert (turn["a"]["attempt"], turn["b"]["attempt"]) == (2, 2)
    assert slow_stubs.requests["slow-1"] == slow_stubs.requests["slow-2"] == 2
    assert all(m.error == "" for m in messages.all())

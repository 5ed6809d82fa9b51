"""Limits are settings, counted per client in Redis, and answered with 429 + Retry-After."""

import json
import sys

import httpx
import pytest

from arena.localservices import free_port, port_open
from arena.models import Battle
from tests.apiclient import ApiClient
from tests.conftest import wait_until


@pytest.fixture(scope="module")
def limited_web(stack, supervised_worker):
    port = free_port()
    limits = {"battles": "3/m", "battles_ip": "1000/m", "votes": "1/d", "votes_ip": "1000/d",
              "regenerations": "2/m", "regenerations_ip": "1000/m", "stops": "2/m", "stops_ip": "1000/m"}
    process = stack.spawn("web-limited", [stack_python(), "-m", "uvicorn", "arena.asgi:application",
                                          "--port", str(port), "--no-access-log"], ARENA_LIMITS=json.dumps(limits))
    wait_until(lambda: port_open(port), timeout=60, what="the limited web server")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=20)


def stack_python():
    return sys.executable


def test_it_limits_battles_per_client_with_retry_after(limited_web, endpoints):
    with httpx.Client(base_url=limited_web, timeout=30) as http:
        api = ApiClient(http)
        for _ in range(3):
            api.start("hello")
        before = Battle.objects.count()
        refused = api.post("/api/battles", {"prompt": "one too many"})
        assert refused.status_code == 429
        assert "limit is 3/m" in refused.json()["detail"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert Battle.objects.count() == before
    with httpx.Client(base_url=limited_web, timeout=30) as other:  # another client is not affected
        assert ApiClient(other).post("/api/battles", {"prompt": "hi"}).status_code == 201


def test_it_limits_votes_per_day(limited_web, endpoints):
    with httpx.Client(base_url=limited_web, timeout=30) as http:
        api = ApiClient(http)
        first, second = api.start("one"), api.start("two")
        api.wait_finished(first)
        api.wait_finished(second)
        assert api.post(f"/api/battles/{first}/vote", {"choice": "a"}).status_code == 200
        refused = api.post(f"/api/battles/{second}/vote", {"choice": "a"})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 60
        assert api.battle(second)["vote"] is None


def test_it_limits_regenerations_and_stops_per_client(limited_web, endpoints):
    with httpx.Client(base_url=limited_web, timeout=30) as http:
        api = ApiClient(http)
        battle_id = api.start("hello")
        api.wait_finished(battle_id)
        for action in ("regenerate", "stop"):
            # back to back, so that one window counts them all; a refused call (409) counts too
            statuses = [api.post(f"/api/battles/{battle_id}/{action}") for _ in range(3)]
            assert statuses[0].status_code == 202 and statuses[1].status_code in (202, 409)
            refused = statuses[2]
            assert refused.status_code == 429 and "limit is 2/m" in refused.json()["detail"]
            assert 1 <= int(refused.headers["Retry-After"]) <= 60
            api.wait_finished(battle_id)

"""One web process under many requests: open event streams and API calls share a bounded pool of
database connections instead of taking one each (which capped the streams at PostgreSQL's limit)."""

import asyncio

import httpx
from django.conf import settings
from django.db import connection

from arena.models import Backend, Battle, Message, Mode, ModelEndpoint, Turn
from arena.redis_client import get_redis
from tests.conftest import wait_until

STREAMS = 40


def _waiting_battle() -> Battle:
    """A battle whose answers stay pending: its streams stay open."""
    a, b = (ModelEndpoint.objects.create(name=f"idle-{side}", backend=Backend.TRANSFORMERS, queue="nobody",
                                         params={"model": "none"}) for side in "ab")
    battle = Battle.objects.create(mode=Mode.NAMED, endpoint_a=a, endpoint_b=b, client_id="streams")
    turn = Turn.objects.create(battle=battle, index=0, prompt="waiting")
    for side in "ab":
        Message.objects.create(turn=turn, side=side)
    return battle


def _connections() -> int:
    """Connections to the arena's database, other than the one asking (which is then closed)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND pid <> pg_backend_pid()")
            return cursor.fetchone()[0]
    finally:
        connection.close()


async def _open_streams(web: str, battle: Battle, count: int, while_open):
    opened = asyncio.Semaphore(0)

    async def one(http):
        async with http.stream("GET", f"/api/battles/{battle.uuid}/stream") as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line.startswith("retry:"):
                    opened.release()
                    await asyncio.Event().wait()  # held until cancelled

    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(base_url=web, timeout=60, limits=limits) as http:
        tasks = [asyncio.create_task(one(http)) for _ in range(count)]
        try:
            for _ in range(count):
                await asyncio.wait_for(opened.acquire(), timeout=60)
            return await asyncio.to_thread(while_open)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def test_open_streams_share_the_database_connections(web, arena_db):
    battle = _waiting_battle()
    before = _connections()
    during = asyncio.run(_open_streams(web, battle, STREAMS, _connections))
    assert during - before <= settings.ARENA["DB_THREADS"], (before, during)



def test_streams_end_when_their_clients_leave(web, arena_db):
    battle = _waiting_battle()
    asyncio.run(_open_streams(web, battle, 10, lambda: wait_until(
        lambda: _streams_following_redis() >= 10, timeout=20, what="ten streams following the battle")))
    wait_until(lambda: _streams_following_redis() == 0, timeout=20, what="the server to end the abandoned streams")


def _streams_following_redis() -> int:
    """Connections of the web process in a blocking XREAD now, or that started one in the last
    second or two: an abandoned stream's connection goes idle, a live one never does."""
    return sum(1 for client in get_redis().client_list()
               if client.get("cmd") == "xread" and ("b" in client.get("flags", "") or int(client.get("idle", 0)) < 2))


async def _open_and_close_streams(web: str, battle: Battle, count: int):
    """As a browser tab that closes: read the stream's first line, then close the connection."""
    async def one(http):
        async with http.stream("GET", f"/api/battles/{battle.uuid}/stream") as response:
            async for line in response.aiter_lines():
                if line.startswith("retry:"):
                    break
            await asyncio.sleep(0.5)

    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(base_url=web, timeout=60, limits=limits) as http:
        await asyncio.gather(*(one(http) for _ in range(count)))


def test_streams_closed_by_their_clients_stop_following_redis(web, arena_db):
    battle = _waiting_battle()
    asyncio.run(_open_and_close_streams(web, battle, 10))
    wait_until(lambda: _streams_following_redis() == 0, timeout=20, what="the server to stop the closed streams")

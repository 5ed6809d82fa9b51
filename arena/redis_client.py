import asyncio
import weakref
from functools import cache

import redis
import redis.asyncio as aioredis
from django.conf import settings

_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis]" = weakref.WeakKeyDictionary()


@cache
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL, decode_responses=True, socket_timeout=10, socket_connect_timeout=3,
        health_check_interval=30, retry_on_timeout=True,
    )


def get_async_redis() -> aioredis.Redis:
    """One client (and pool) per event loop: Django may run a view on a helper loop in another
    thread while the response streams on the server's main loop, and a pool is bound to its loop."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = _async_clients[loop] = aioredis.Redis.from_url(
            settings.REDIS_URL, decode_responses=True, socket_connect_timeout=3,
            health_check_interval=30, max_connections=5000,
        )
    return client

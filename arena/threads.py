"""Where async views run blocking code (the ORM, the sync Redis client).

Django runs ``sync_to_async`` code on a thread of the request's own: each request then starts a
thread, and each such thread opens a database connection of its own. Hot paths (votes, battle
reads, opening an event stream) instead share one small, long-lived pool: its threads keep their
connections, and the number of connections stays bounded however many requests or streams are open.
"""

import functools
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.ARENA["DB_THREADS"], thread_name_prefix="arena-db")


def off_thread(function):
    """``function`` as a coroutine run on the shared pool. Django only tidies connections on its own
    threads, so this does it here: a connection broken by a database restart, or past its age, is
    dropped before and after the call instead of failing every later call."""
    def run(*args, **kwargs):
        close_old_connections()
        try:
            return function(*args, **kwargs)
        finally:
            close_old_connections()

    @functools.wraps(function)
    async def call(*args, **kwargs):
        return await sync_to_async(run, thread_sensitive=False, executor=_pool())(*args, **kwargs)

    return call

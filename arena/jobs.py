"""Work the web process hands to a worker and waits for: a ``/v1`` completion, the admin's
endpoint check, a prompt leaderboard.

The web side enqueues a task under a fresh job id (``submit``) and follows the job's event stream
(``follow``, or ``follow_async`` on the event loop) until its ``end`` event or a deadline. The
worker appends events to that stream (arena/events.py) and always ends it with ``end``; a job that
answers all at once sends its result as that event (``publish_result``). The reader deletes the
stream once it has the end.
"""

import json
import secrets
import time
from collections.abc import AsyncIterator, Iterator

from celery import Task

from arena import events
from arena.redis_client import get_async_redis, get_redis

BLOCK_MS = 1000
READ_COUNT = 500
RESULT_TTL = 300  # a result nobody came for


class JobTimeout(Exception):
    """The job sent no ``end`` event before the deadline."""


def new_job_id() -> str:
    return secrets.token_hex(12)


def submit(task: Task, job_id: str, *args, queue: str) -> None:
    """Run ``task(job_id, *args)`` on a worker of ``queue``."""
    task.apply_async((job_id, *args), queue=queue)


def _block_ms(deadline: float) -> int:
    return max(1, min(BLOCK_MS, int((deadline - time.monotonic()) * 1000)))  # 0 would block for ever


def _entries(reply) -> list:
    return reply[0][1] if reply else []


def follow(stream_key: str, *, timeout: float) -> Iterator[dict]:
    """The job's events in order, its ``end`` event last; raises JobTimeout when ``timeout`` seconds
    pass without one."""
    r, last, deadline = get_redis(), "0-0", time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry_id, fields in _entries(r.xread({stream_key: last}, block=_block_ms(deadline), count=READ_COUNT)):
            last = entry_id
            event = json.loads(fields["data"])
            if event["type"] == "end":
                r.delete(stream_key)
                yield event
                return
            yield event
    raise JobTimeout


async def follow_async(stream_key: str, *, timeout: float) -> AsyncIterator[dict]:
    """``follow`` for the event loop."""
    r, last, deadline = get_async_redis(), "0-0", time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = await r.xread({stream_key: last}, block=_block_ms(deadline), count=READ_COUNT)
        for entry_id, fields in _entries(reply):
            last = entry_id
            event = json.loads(fields["data"])
            if event["type"] == "end":
                await r.delete(stream_key)
                yield event
                return
            yield event
    raise JobTimeout


def publish_result(stream_key: str, result: dict) -> None:
    """Worker side of a job that answers all at once: its result, as the ``end`` event."""
    events.publish(stream_key, events.result_end(result), ttl=RESULT_TTL)


async def result_async(stream_key: str, *, timeout: float) -> dict:
    """The result a worker sent with ``publish_result``; raises JobTimeout past ``timeout`` seconds."""
    async for event in follow_async(stream_key, timeout=timeout):
        end = event  # the stream holds the end event alone
    return end["result"]

"""Server-Sent Events for a battle, read from its Redis Stream without holding a thread.

The stream replays from the client's Last-Event-ID (or from the start) and follows new events
until no message of the battle is still pending or streaming, then sends ``idle`` and ends;
the client then reads the stored battle. If Redis goes away the stream ends with a ``retry``
hint and the browser's EventSource reconnects from its last id.
"""

import asyncio
import json
import logging
import time
from uuid import UUID

import redis.exceptions
from django.conf import settings
from django.db import DatabaseError
from django.http import StreamingHttpResponse

from arena.errors import Invalid, NotFound
from arena.events import valid_event_id
from arena.models import ACTIVE_STATUSES, Battle, Message
from arena.redis_client import get_async_redis

log = logging.getLogger(__name__)
BLOCK_MS = 5000
KEEPALIVE_SECONDS = 15
RETRY_MS = 1000
REDIS_PATIENCE_SECONDS = 15


def sse(event: str, data: dict | str, event_id: str | None = None) -> str:
    body = data if isinstance(data, str) else json.dumps(data)
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {body}\n\n"


async def _has_active_messages(battle_id: int) -> bool:
    return await Message.objects.filter(turn__battle_id=battle_id, status__in=ACTIVE_STATUSES).aexists()


async def battle_event_stream(request, battle_uuid: UUID) -> StreamingHttpResponse:
    battle = await Battle.objects.filter(uuid=battle_uuid).only("id", "uuid").afirst()
    if battle is None:
        raise NotFound("No battle has this id.")
    last_id = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id") or "0-0"
    if not valid_event_id(last_id):
        raise Invalid("Last-Event-ID must look like 1700000000000-0.")
    response = StreamingHttpResponse(_events(battle, last_id), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def _read(r, key: str, last_id: str, block_ms: int):
    """XREAD that rides out a short Redis restart instead of dropping the browser's stream."""
    deadline = time.monotonic() + REDIS_PATIENCE_SECONDS
    while True:
        try:
            return await r.xread({key: last_id}, count=500, block=block_ms)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def _events(battle: Battle, last_id: str):
    r = get_async_redis()
    key = battle.stream_key()
    deadline = time.monotonic() + settings.ARENA["SSE_MAX_SECONDS"]
    last_sent = time.monotonic()
    yield f"retry: {RETRY_MS}\n\n"
    try:
        while time.monotonic() < deadline:
            entries = await _read(r, key, last_id, BLOCK_MS)
            if entries:
                for entry_id, fields in entries[0][1]:
                    last_id = entry_id
                    payload = json.loads(fields["data"])
                    yield sse(payload.get("type", "message"), payload, entry_id)
                last_sent = time.monotonic()
                if await _has_active_messages(battle.id):
                    continue
            elif await _has_active_messages(battle.id):
                if time.monotonic() - last_sent > KEEPALIVE_SECONDS:
                    last_sent = time.monotonic()
                    yield ": keepalive\n\n"
                continue
            # Nothing left to generate: drain what the last writer added, then end.
            tail = await _read(r, key, last_id, 200)
            for entry_id, fields in (tail[0][1] if tail else []):
                payload = json.loads(fields["data"])
                yield sse(payload.get("type", "message"), payload, entry_id)
            yield sse("idle", {"detail": "No answer is being generated."})
            return
        yield sse("timeout", {"detail": "The stream was open too long; reconnect to continue."})
    except DatabaseError:
        yield sse("unavailable", {"detail": "The database is unavailable; reconnecting."})
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        log.warning("event stream of battle %s interrupted", battle.uuid, exc_info=True)
        yield sse("unavailable", {"detail": "The live stream is interrupted; reconnecting."})
    except asyncio.CancelledError:  # the client went away
        raise

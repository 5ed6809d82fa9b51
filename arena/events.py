"""The battle event stream in Redis: workers append, the SSE view replays and follows.

One Redis Stream per battle. Entry ids are Redis' own (``<ms>-<seq>``) and payloads carry turn,
side and attempt only, so nothing in an event says which model wrote it. A browser that
reconnects sends the last id it saw and continues exactly after it.
"""

import json
import logging
import re

import redis.exceptions

from django.conf import settings

from arena.redis_client import get_redis

log = logging.getLogger(__name__)
EVENT_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
MAX_EVENTS_PER_BATTLE = 200_000


def publish(stream_key: str, payload: dict) -> str | None:
    """Append an event; while Redis is unreachable the event is dropped (the database keeps the text,
    and readers fall back to it), so a Redis restart never kills a generation."""
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.xadd(stream_key, {"data": json.dumps(payload)}, maxlen=MAX_EVENTS_PER_BATTLE, approximate=True)
        pipe.expire(stream_key, settings.ARENA["STREAM_TTL"])
        return pipe.execute()[0]
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        log.warning("Redis unreachable: dropped a %s event of %s", payload.get("type"), stream_key)
        return None


def stop_key(message_id: int, attempt: int) -> str:
    return f"arena:stop:{message_id}:{attempt}"


def request_stop(message_id: int, attempt: int) -> None:
    get_redis().set(stop_key(message_id, attempt), "1", ex=settings.ARENA["GENERATION_TIMEOUT"] * 2)


def stop_requested(message_id: int, attempt: int) -> bool:
    try:
        return bool(get_redis().exists(stop_key(message_id, attempt)))
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        return False


def valid_event_id(value: str | None) -> bool:
    return bool(value) and bool(EVENT_ID.match(value))

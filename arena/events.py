"""Event streams in Redis: workers append, the web side replays and follows.

One Redis Stream per battle, per ``/v1`` completion and per job (arena/jobs.py); each ends with
an ``end`` event built here. Entry ids are Redis' own (``<ms>-<seq>``) and battle payloads carry
turn, side and attempt only, so nothing in an event says which model wrote it. A browser that
reconnects sends the last id it saw and continues exactly after it.
"""

import json
import logging
import re
import time

import redis.exceptions
from django.conf import settings

from arena import redis_keys
from arena.redis_client import get_redis

log = logging.getLogger(__name__)
EVENT_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
MAX_EVENTS_PER_BATTLE = 200_000
STOP_POLL_SECONDS = 0.2


def publish(stream_key: str, payload: dict, *, ttl: int | None = None) -> str | None:
    """Append an event; while Redis is unreachable the event is dropped (the database keeps the text,
    and readers fall back to it), so a Redis restart never kills a generation. The stream expires
    ``ttl`` seconds (default: the STREAM_TTL setting) after its last event."""
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.xadd(stream_key, {"data": json.dumps(payload)}, maxlen=MAX_EVENTS_PER_BATTLE, approximate=True)
        pipe.expire(stream_key, ttl or settings.ARENA["STREAM_TTL"])
        return pipe.execute()[0]
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        log.warning("Redis unreachable: dropped a %s event of %s", payload.get("type"), stream_key)
        return None


def battle_end(*, turn: int, side: str, attempt: int, status: str, tokens: int = 0, ttft_ms: int | None = None,
               duration_ms: int | None = None) -> dict:
    """The last event of one attempt at a battle message: the SSE view ticks the answer off with it
    and the browser then reads the stored message."""
    return {"type": "end", "turn": turn, "side": side, "attempt": attempt, "status": status, "tokens": tokens,
            "ttft_ms": ttft_ms, "duration_ms": duration_ms}


def completion_end(*, finish_reason: str, completion_tokens: int, error: str | None,
                   duration_ms: int | None) -> dict:
    """The last event of a ``/v1`` completion: how it finished, or the error to answer with."""
    return {"type": "end", "finish_reason": finish_reason, "completion_tokens": completion_tokens, "error": error,
            "duration_ms": duration_ms}


def result_end(result: dict) -> dict:
    """The only event of a job that answers all at once (arena/jobs.py ``publish_result``)."""
    return {"type": "end", "result": result}


def has_text(stream_key: str, *, turn: int, side: str, attempt: int) -> bool:
    """Whether the stream holds any text of this attempt at a battle message, i.e. whether a reader
    may have been shown some. Reads back from the newest event to the attempt's start. True when
    Redis cannot be read: then nobody can tell."""
    upper = "+"
    try:
        while True:
            entries = get_redis().xrevrange(stream_key, max=upper, count=500)
            for _id, fields in entries:
                event = json.loads(fields["data"])
                if (event.get("turn"), event.get("side"), event.get("attempt")) != (turn, side, attempt):
                    continue
                if event.get("type") == "delta":
                    return True
                if event.get("type") == "start":
                    return False
            if len(entries) < 500:
                return False
            upper = "(" + entries[-1][0]  # exclusive: older than the oldest read
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        return True


def request_stop(message_id: int, attempt: int) -> None:
    get_redis().set(redis_keys.stop(message_id, attempt), "1", ex=settings.ARENA["GENERATION_TIMEOUT"] * 2)


def stop_requested(message_id: int, attempt: int) -> bool:
    return _exists(redis_keys.stop(message_id, attempt))


class StopPoller:
    """A generation's ``should_stop``: whether ``stop_key`` is set, asking Redis at most every
    ``every`` seconds (and never again once it is). The engine's reader calls it between tokens and
    every few tens of milliseconds while it waits; a round trip each time costs the worker more
    than publishing the tokens, for a stop nobody would notice 0.2 s sooner."""

    def __init__(self, stop_key: str, *, every: float = STOP_POLL_SECONDS) -> None:
        self.stop_key, self.every = stop_key, every
        self.seen = False  # whether a call has answered True
        self._asked = -every

    def __call__(self) -> bool:
        if not self.seen and time.monotonic() - self._asked >= self.every:
            self._asked = time.monotonic()
            self.seen = _exists(self.stop_key)
        return self.seen


def _exists(key: str) -> bool:
    try:
        return bool(get_redis().exists(key))
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        return False


def valid_event_id(value: str | None) -> bool:
    """Whether Redis would take ``value`` as a stream entry id: both parts fit in 64 bits."""
    return bool(value) and bool(EVENT_ID.match(value)) and all(int(part) < 2**64 for part in value.split("-"))

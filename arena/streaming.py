"""Server-Sent Events for a battle, read from its Redis Stream without holding a thread.

The few database reads (the battle when the stream opens, its unfinished answers now and then)
run on the shared pool of arena/threads.py: a thread, or a database connection, per open stream
would cap the streams one process can hold at the database's connection limit.

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

from arena.battles import notice_dead_workers
from arena.errors import Invalid, NotFound
from arena.events import valid_event_id
from arena.models import ACTIVE_STATUSES, SITE_DEFAULTS, Battle, Message
from arena.pacing import Cursor, stream_events
from arena.presentation import LOST_EVENTS_SECONDS, is_paced, new_pacer, pacer_now_ms
from arena.redis_client import get_async_redis
from arena.threads import off_thread

log = logging.getLogger(__name__)
BLOCK_MS = 1000
DB_RECHECK_SECONDS = 5
KEEPALIVE_SECONDS = 15
RETRY_MS = 1000
REDIS_PATIENCE_SECONDS = 15


def sse(event: str, data: dict | str, event_id: str | None = None) -> str:
    body = data if isinstance(data, str) else json.dumps(data)
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {body}\n\n"


@off_thread
def _active_messages(battle: Battle) -> set[tuple[int, str, int]]:
    active = list(Message.objects.filter(turn__battle_id=battle.id, status__in=ACTIVE_STATUSES).select_related("turn")
                  .only("id", "side", "attempt", "status", "worker", "started_at", "tokens", "ttft_ms", "error",
                        "turn__index"))
    failed = notice_dead_workers(battle, active)  # a stream is often all a page reads while it waits
    return {(m.turn.index, m.side, m.attempt) for m in active if m.id not in failed}


@off_thread
def _battle(battle_uuid: UUID) -> Battle | None:
    return (Battle.objects.visible().filter(uuid=battle_uuid).select_related("vote", "arena")
            .only("id", "uuid", "mode", "vote__id", *(f"arena__{field}" for field in SITE_DEFAULTS)).first())


async def battle_event_stream(request, battle_uuid: UUID) -> StreamingHttpResponse:
    battle = await _battle(battle_uuid)
    if battle is None:
        raise NotFound("No battle has this id.")
    last_id = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id") or ""
    if is_paced(battle):
        cursor = Cursor.decode(last_id, len(battle.sides)) if last_id else Cursor()
        if cursor is None:
            raise Invalid("Last-Event-ID must be the id of an event of this stream.")
        events = _paced_events(battle, cursor)
    else:
        last_id = last_id or "0-0"
        if not valid_event_id(last_id):
            if Cursor.decode(last_id, len(battle.sides)) is None:
                raise Invalid("Last-Event-ID must be the id of an event of this stream.")
            last_id = "0-0"  # the battle was voted on since: replay it whole
        events = _events(battle, last_id)
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def _read(r, key: str, last_id: str, block_ms: int | None):
    """XREAD that rides out a short Redis restart instead of dropping the browser's stream.

    The read runs as a task of its own, shielded: when the client leaves and Django cancels the
    response, the read still ends by itself (within BLOCK_MS) and gives its connection back to the
    pool, instead of redis-py tearing the connection down mid-reply (where it has been seen to
    swallow the cancellation).
    """
    deadline = time.monotonic() + REDIS_PATIENCE_SECONDS
    while True:
        try:
            read = asyncio.ensure_future(r.xread({key: last_id}, count=500, block=block_ms))
            read.add_done_callback(_retrieve)
            return await asyncio.shield(read)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


def _retrieve(read: asyncio.Future) -> None:
    """Mark a read's outcome as seen: nobody awaits a read whose stream was cancelled."""
    if not read.cancelled():
        read.exception()


async def _events(battle: Battle, last_id: str):
    """Follow until every answer that was unfinished has sent its ``end`` event.

    Unfinished answers come from the database; each ``end`` event ticks one off. During quiet
    spells the database is asked again every few seconds (not every read: a thousand open streams
    must not become a thousand queries a second); an answer it reports finished without an ``end``
    event (lost while Redis was away) is ticked off too, so the stream always ends.
    """
    r = get_async_redis()
    key = battle.stream_key()
    deadline = time.monotonic() + settings.ARENA["SSE_MAX_SECONDS"]
    last_sent = time.monotonic()
    waiting = await _active_messages(battle)
    last_check = time.monotonic()
    yield f"retry: {RETRY_MS}\n\n"
    try:
        while time.monotonic() < deadline:
            if asyncio.current_task().cancelling():
                # The client left and Django cancelled this response, but a library on the way
                # (seen inside redis-py's blocking XREAD, now and then) swallowed the
                # CancelledError: without this the stream would follow Redis until its deadline.
                raise asyncio.CancelledError
            entries = await _read(r, key, last_id, BLOCK_MS if waiting else None)
            for entry_id, fields in (entries[0][1] if entries else []):
                last_id = entry_id
                payload = json.loads(fields["data"])
                _track(waiting, payload)
                yield sse(payload.get("type", "message"), payload, entry_id)
            if entries:
                last_sent = time.monotonic()
                continue
            if not waiting:
                yield sse("idle", {"detail": "No answer is being generated."})
                return
            if time.monotonic() - last_check > DB_RECHECK_SECONDS:  # a quiet spell: check the database
                last_check = time.monotonic()
                waiting = await _active_messages(battle)
            if time.monotonic() - last_sent > KEEPALIVE_SECONDS:
                last_sent = time.monotonic()
                yield ": keepalive\n\n"
        yield sse("timeout", {"detail": "The stream was open too long; reconnect to continue."})
    except (DatabaseError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        yield _unavailable(battle, exc)


async def _paced_events(battle: Battle, cursor: Cursor):
    """An anonymous battle before its vote: what the pacer shows, never the workers' own events.

    Every event of the battle is read (from the start, whatever the client has seen) and fed to a
    pacer; each loop advances it to now and sends what the client at ``cursor`` has not been shown.
    Event ids are cursors (what was shown, no time), so a reconnect resumes exactly. The stream ends
    when the database has no unfinished answer and the pacer has shown everything.
    """
    r = get_async_redis()
    key = battle.stream_key()
    pacer = new_pacer(battle)
    deadline = time.monotonic() + settings.ARENA["SSE_MAX_SECONDS"]
    raw_id = "0-0"
    waiting = await _active_messages(battle)
    last_check = last_sent = time.monotonic()
    idle_since = None  # when the database last began to have no unfinished answer
    yield f"retry: {RETRY_MS}\n\n"
    try:
        while time.monotonic() < deadline:
            if asyncio.current_task().cancelling():
                raise asyncio.CancelledError  # see _events
            due = pacer.next_tick_ms()
            block_ms = BLOCK_MS if due is None else min(BLOCK_MS, max(10, due - pacer_now_ms()))
            entries = await _read(r, key, raw_id, block_ms)
            for entry_id, fields in (entries[0][1] if entries else []):
                raw_id = entry_id
                payload = json.loads(fields["data"])
                _track(waiting, payload)
                pacer.feed(entry_id, payload)
            pacer.advance(pacer_now_ms())
            out, cursor = stream_events(cursor, pacer.round, pacer.shown(), battle.sides)
            for kind, payload, event_id in out:
                yield sse(kind, payload, event_id)
            if out:
                last_sent = time.monotonic()
            if waiting and time.monotonic() - last_check > DB_RECHECK_SECONDS:  # a quiet spell: ask the database
                last_check = time.monotonic()
                waiting = await _active_messages(battle)
            if waiting:
                idle_since = None
            else:
                idle_since = idle_since or time.monotonic()
                # an answer finished without its end event reaching us: Redis lost it; stop waiting for it
                lost = time.monotonic() - idle_since > LOST_EVENTS_SECONDS and not _all_ended(pacer)
                if pacer.round is None or pacer.finished() or lost:
                    yield sse("idle", {"detail": "No answer is being generated."})
                    return
            if time.monotonic() - last_sent > KEEPALIVE_SECONDS:
                last_sent = time.monotonic()
                yield ": keepalive\n\n"
        yield sse("timeout", {"detail": "The stream was open too long; reconnect to continue."})
    except (DatabaseError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        yield _unavailable(battle, exc)


def _track(waiting: set, payload: dict) -> None:
    """Keep the set of unfinished answers up to date: a start event adds one, an end event ticks it off."""
    where = (payload.get("turn"), payload.get("side"), payload.get("attempt"))
    if payload.get("type") == "start":
        waiting.add(where)
    elif payload.get("type") == "end":
        waiting.discard(where)


def _unavailable(battle: Battle, exc: Exception) -> str:
    """The event that ends a stream whose database or Redis went away; the browser reconnects."""
    if isinstance(exc, DatabaseError):
        return sse("unavailable", {"detail": "The database is unavailable; reconnecting."})
    log.warning("event stream of battle %s interrupted", battle.uuid, exc_info=exc)
    return sse("unavailable", {"detail": "The live stream is interrupted; reconnecting."})


def _all_ended(pacer) -> bool:
    return all(side in pacer.logs and pacer.logs[side].ended_ms is not None for side in pacer.sides)

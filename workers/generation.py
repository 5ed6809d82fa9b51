"""Generate one message: claim it, stream the backend's pieces to Redis, store the result.

No transaction is held across generation. Every write is conditional on the message still
being this attempt and still streaming, so a stop, a regenerate or the reaper always wins.

A transient backend error (a remote server's 5xx, a timeout, a refused connection) that comes
before the first piece of text hands the message back as pending and propagates, for the task to
try again after a pause (workers/tasks.py). Once text has streamed the error fails the message:
a second run would stream its text again after what the browser already shows.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from arena import events, redis_keys
from arena.codepoints import storable
from arena.identity import finished_answer_facts
from arena.models import ACTIVE_STATUSES, Battle, Message, Mode, Status, arena_setting
from workers.backends import BackendError, Delta, Usage, get_backend

log = logging.getLogger(__name__)
FLUSH_SECONDS = 2.0


def conversation_for(message: Message) -> list[dict]:
    """The history this side sees: every prompt so far and its own earlier answers."""
    turn = message.turn
    earlier = (
        Message.objects.filter(turn__battle_id=turn.battle_id, turn__index__lt=turn.index, side=message.side)
        .select_related("turn").order_by("turn__index")
    )
    conversation = []
    for previous in earlier:
        conversation += [{"role": "user", "content": previous.turn.prompt},
                         {"role": "assistant", "content": previous.text}]
    conversation.append({"role": "user", "content": turn.prompt})
    return conversation


def answer_limits(battle: Battle) -> dict:
    """One token cap for every contestant of an anonymous battle: a cap of its own would tell a voter
    which contestant an answer cut short comes from."""
    return {"max_tokens": arena_setting(battle.arena, "answer_token_cap")} if battle.mode == Mode.ANONYMOUS else {}


def _current(message_id: int, attempt: int):
    return Message.objects.filter(id=message_id, attempt=attempt, status=Status.STREAMING)


def generate(message_id: int, attempt: int, *, worker: str, retry: bool = False) -> None:
    """``retry``: whether a transient error before any text may hand the message back (see above)."""
    claimed = Message.objects.filter(id=message_id, attempt=attempt, status=Status.PENDING).update(
        status=Status.STREAMING, started_at=timezone.now(), worker=worker)
    if not claimed:
        return
    message = Message.objects.select_related("turn__battle__endpoint_a", "turn__battle__endpoint_b",
                                                   "turn__battle__arena").get(id=message_id)
    battle = message.turn.battle
    key = battle.stream_key()
    where = {"turn": message.turn.index, "side": message.side, "attempt": attempt}
    events.publish(key, {"type": "start", **where})

    started = time.monotonic()
    last_flush = started
    ttft_ms = None
    pieces: list[str] = []
    tokens = 0
    compute: dict = {}
    citations: list[dict] = []
    finish_reason = ""
    should_stop = events.StopPoller(redis_keys.stop(message_id, attempt))

    status, error = Status.DONE, ""
    try:
        backend = get_backend(battle.endpoint_for(message.side), overrides=answer_limits(battle))
        for item in backend.stream(conversation_for(message), should_stop=should_stop):
            if isinstance(item, Usage):
                tokens = item.completion_tokens if item.completion_tokens is not None else tokens
                compute, citations = item.compute, item.citations
                finish_reason = item.finish_reason or ""
                continue
            if not isinstance(item, Delta) or not item.text:
                continue
            item.text = storable(item.text)  # a NUL or lone surrogate must not cost the answer its text
            if ttft_ms is None:
                ttft_ms = int((time.monotonic() - started) * 1000)
            pieces.append(item.text)
            tokens += item.tokens
            events.publish(key, {"type": "delta", **where, "text": item.text})
            if time.monotonic() - last_flush > FLUSH_SECONDS:
                last_flush = time.monotonic()
                if not _current(message_id, attempt).update(text="".join(pieces), tokens=tokens, ttft_ms=ttft_ms):
                    return  # stopped, regenerated or reaped meanwhile: someone else owns the row now
            if should_stop():
                break
        if should_stop.seen:
            status = Status.STOPPED
    except BackendError as exc:
        if retry and not exc.permanent and not pieces and not should_stop():
            if _current(message_id, attempt).update(status=Status.PENDING, started_at=None, worker=""):
                raise
            return  # stopped, regenerated or reaped meanwhile
        status, error = Status.FAILED, str(exc)
    except Exception as exc:  # a model crash must end as a failed message, not a stuck one
        log.exception("generation of message %s failed", message_id)
        status, error = Status.FAILED, f"{type(exc).__name__}: {exc}"[:2000]

    duration_ms = int((time.monotonic() - started) * 1000)
    text = "".join(pieces)
    facts = finished_answer_facts(text) if status == Status.DONE else {}  # what a vote will read
    finished = _current(message_id, attempt).update(
        status=status, text=text, tokens=tokens, ttft_ms=ttft_ms, duration_ms=duration_ms,
        error=error, compute=compute, citations=citations, finish_reason=finish_reason[:20],
        finished_at=timezone.now(), **facts)
    if finished:
        events.publish(key, events.battle_end(**where, status=status, tokens=tokens, ttft_ms=ttft_ms,
                                              duration_ms=duration_ms))


WORKER_STOPPED = "The worker generating this answer stopped."
ASKED_AGAIN = "Asked again: the worker generating this answer stopped before it had any text."


def orphaned(messages: list[Message], *, instances: set[str]) -> list[Message]:
    """The streaming messages whose worker instance no longer beats (killed, and possibly restarted
    under the same name): they will never finish. ``instances``: the live ones
    (``workers.heartbeat.live_instances``). A claim only just made may not have its instance's
    first beat yet, so claims younger than a heartbeat interval are left alone."""
    since = timezone.now() - timedelta(seconds=settings.ARENA["HEARTBEAT_SECONDS"])
    return [m for m in messages if m.status == Status.STREAMING and m.worker not in instances
            and m.started_at and m.started_at < since]


def take_back(message: Message) -> int | None:
    """Hand an orphaned message back as pending, as a fresh attempt (so that the dead worker, were it
    only silent, can no longer write), when nothing of it can have been shown: no text stored and
    none in its stream. Once only: an answer whose worker dies twice may be what kills it. Returns
    the new attempt to enqueue, or None when the message must fail instead."""
    if message.ttft_ms is not None or message.tokens or message.error == ASKED_AGAIN:
        return None
    if events.has_text(message.turn.battle.stream_key(), turn=message.turn.index, side=message.side,
                       attempt=message.attempt):
        return None
    taken = Message.objects.filter(id=message.id, attempt=message.attempt, status=Status.STREAMING).update(
        attempt=F("attempt") + 1, status=Status.PENDING, worker="", started_at=None, error=ASKED_AGAIN,
        queued_at=timezone.now())
    return message.attempt + 1 if taken else None


def fail_message(message: Message, reason: str, *, statuses: tuple[str, ...] = ACTIVE_STATUSES) -> bool:
    """Mark an unfinished message failed (reaper, dead worker) and tell its stream. ``statuses``:
    what it may still be; a message failed for want of a worker must still be pending, not claimed
    by one that came up since it was read."""
    updated = Message.objects.filter(id=message.id, attempt=message.attempt, status__in=statuses).update(
        status=Status.FAILED, error=reason, finished_at=timezone.now(), duration_ms=None)
    if updated:
        events.publish(message.turn.battle.stream_key(), events.battle_end(
            turn=message.turn.index, side=message.side, attempt=message.attempt, status=Status.FAILED,
            tokens=message.tokens, ttft_ms=message.ttft_ms, duration_ms=None))
    return bool(updated)

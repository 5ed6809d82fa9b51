"""What a voter's client is shown of an anonymous battle before its vote: the pacer's view
(arena/pacing.py) of the battle's events, applied to the stored messages.

The battle's JSON, its event stream and the vote all go through here, so a script that polls the
API learns no more than the page shows: the last turn's answers appear together and grow in step,
and no answer's timing, token count or finish reason is given before the vote.
"""

import json
import time

import redis.exceptions

from arena.models import ACTIVE_STATUSES, Arena, Battle, Message, Mode, arena_setting
from arena.pacing import PENDING, STREAMING, Pacer, PacingSettings, Shown
from arena.redis_client import get_redis

# The pacer looks this far behind the clock, so that an event Redis stamped just before a tick has
# surely been read before that tick is computed: the stream and a later read then agree exactly.
LAG_MS = 300
# A finished answer whose end event has not shown up this long after it finished lost its events
# (Redis was away); it is shown as stored.
LOST_EVENTS_SECONDS = 5
HIDDEN_BEFORE_VOTE = ("tokens", "ttft_ms", "duration_ms")


def is_paced(battle: Battle) -> bool:
    return (battle.mode == Mode.ANONYMOUS and not hasattr(battle, "vote")
            and bool(arena_setting(battle.arena, "pacing")))


def pacing_settings(arena: Arena | None) -> PacingSettings:
    return PacingSettings(chars_per_second=arena_setting(arena, "pacing_chars_per_second"),
                          start_deadline_ms=arena_setting(arena, "pacing_start_deadline") * 1000)


def new_pacer(battle: Battle) -> Pacer:
    return Pacer(battle.sides, pacing_settings(battle.arena), seed=battle.uuid.int & 0xFFFFFFFF)


def pacer_now_ms() -> int:
    return int(time.time() * 1000) - LAG_MS


def _read_events(battle: Battle) -> list[tuple[str, dict]] | None:
    try:
        return [(entry_id, fields) for entry_id, fields in get_redis().xrange(battle.stream_key())]
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        return None


def shown_now(battle: Battle) -> Pacer | None:
    """The battle's pacer advanced to now, or None when its events cannot be read."""
    entries = _read_events(battle)
    if entries is None:
        return None
    pacer = new_pacer(battle)
    for entry_id, fields in entries:
        pacer.feed(entry_id, _payload(fields))
    pacer.advance(pacer_now_ms())
    return pacer


def _payload(fields: dict) -> dict:
    return json.loads(fields["data"])


def shown_message(message: Message, pacer: Pacer | None) -> Shown:
    """What the voter sees of one message of the last turn."""
    round_ = (message.turn.index, message.attempt)
    if pacer is not None and pacer.round == round_:
        return pacer.shown()[message.side]
    if message.status in ACTIVE_STATUSES:  # its events have not come yet, or cannot be read now
        return Shown("", STREAMING if pacer is None and message.status == STREAMING else PENDING)
    if pacer is not None and not _events_lost(message, pacer):
        return Shown("", STREAMING)  # finished a moment ago; its events are on their way
    return Shown(message.text, message.status)


def _events_lost(message: Message, pacer: Pacer) -> bool:
    ended = pacer.round == (message.turn.index, message.attempt) and pacer.logs.get(message.side) is not None \
        and pacer.logs[message.side].ended_ms is not None
    recent = message.finished_at is not None and time.time() - message.finished_at.timestamp() < LOST_EVENTS_SECONDS
    return not ended and not recent


def paced_statuses(battle: Battle, messages: list[Message]) -> dict[int, Shown]:
    """The shown state of each message of the battle's last turn, by message id."""
    last = max(m.turn.index for m in messages)
    current = [m for m in messages if m.turn.index == last]
    pacer = shown_now(battle)
    if pacer is not None and any(m.status not in ACTIVE_STATUSES and _events_lost(m, pacer) for m in current):
        pacer = None  # the stream lost events while Redis was away: a pacer would wait for them forever
    return {m.id: shown_message(m, pacer) for m in current}


def all_shown(battle: Battle, messages: list[Message]) -> bool:
    """Whether the voter has been shown every answer whole (a vote judges what was shown)."""
    if not is_paced(battle):
        return True
    return not any(shown.active for shown in paced_statuses(battle, messages).values())


"""One presentation for both sides of an anonymous battle before its vote.

A voter must not be able to tell the contestants apart by how their answers arrive: one that
searches for a minute and then has its whole answer at once, beside one that streams a token at a
time from the first second, would give the game away without a word being read. So before the
vote the voter is never shown the workers' events as they come; they are shown what this module
derives from them, a pure function of the events (each stamped with its arrival time by Redis)
and of the time now:

- nothing is shown until both sides have text (or have ended), or until ``start_deadline_ms``
  after the first event of the round;
- from then on a release length L, common to both sides, grows on a clock of ticks: by at most
  ``chars_per_second`` a second, and never past what the slower of the sides still writing has
  written, less a few characters that depend only on the tick's number (so that chunks do not end
  where the source's tokens end);
- each side shows its first L characters, and is shown finished once it has ended and all its
  text is shown; a side that was stopped or failed is shown as it is at once.

Because the result depends on the events and the time alone, the event stream, a reload and the
battle's JSON all show the same thing, and a reconnect resumes exactly where it left off. The cost,
documented in the README: the faster side waits for the slower one.
"""

import bisect
import math
from dataclasses import dataclass, field

# Statuses as the workers write them (arena.models.Status); this module stays free of Django.
PENDING, STREAMING, STOPPED, FAILED = "pending", "streaming", "stopped", "failed"
SHOWN_AT_ONCE = (STOPPED, FAILED)


@dataclass(frozen=True)
class PacingSettings:
    chars_per_second: float = 100.0
    tick_ms: int = 100
    start_deadline_ms: int = 60_000
    hold_chars: int = 12  # the most that a tick holds back from the slower side's text


@dataclass
class SideLog:
    """One side's events of the current round: its text as it grew, and how it ended."""

    first_ms: int
    times: list[int] = field(default_factory=list)  # arrival (ms) of each piece of text
    totals: list[int] = field(default_factory=list)  # the text's length after each piece
    pieces: list[str] = field(default_factory=list)
    length: int = 0
    ended_ms: int | None = None
    status: str | None = None

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def ready_ms(self) -> int | None:
        """When this side first had something to show: text, or its end."""
        known = [t for t in (self.times[0] if self.times else None, self.ended_ms) if t is not None]
        return min(known) if known else None

    def length_at(self, t: int) -> int:
        i = bisect.bisect_right(self.times, t)
        return self.totals[i - 1] if i else 0

    def ended_by(self, t: int) -> bool:
        return self.ended_ms is not None and self.ended_ms <= t


@dataclass(frozen=True)
class Shown:
    """What a voter sees of one side: its text so far and a status (pending until release starts)."""

    text: str
    status: str

    @property
    def active(self) -> bool:
        return self.status in (PENDING, STREAMING)


def event_time_ms(entry_id: str) -> int:
    """The arrival time Redis gave an event (its stream entry id is ``<ms>-<seq>``)."""
    return int(entry_id.split("-", 1)[0])


def hold(seed: int, tick: int, most: int) -> int:
    """How many characters tick number ``tick`` holds back: 0..most, fixed by the seed and the tick."""
    x = (seed * 0x9E3779B1 + tick * 0x85EBCA77) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x2C1B3C6D) & 0xFFFFFFFF
    x ^= x >> 12
    return x % (most + 1)


class Pacer:
    """Follows the events of a battle and says what each side shows at a given time.

    Feed it every event in order (``feed``), then ``advance(now_ms)``; ``shown()`` is the state at
    the last tick not after ``now_ms``. Only the latest round, (turn, attempt), is paced: earlier
    turns were finished before a later one could start, and events of an older attempt come from
    workers that lost to a regenerate. Advancing is incremental, so a stream pays for each tick once.
    """

    def __init__(self, sides: tuple[str, ...] | list[str], settings: PacingSettings, *, seed: int = 0):
        self.sides = tuple(sides)
        self.settings = settings
        self.seed = seed
        self.round: tuple[int, int] | None = None
        self._reset()

    def _reset(self) -> None:
        self.logs: dict[str, SideLog] = {}
        self.start_ms: int | None = None  # the first tick's time, once known
        self.tick = 0  # ticks done
        self.released = 0.0
        self.done = False

    # ---- input -------------------------------------------------------------------------------------

    def feed(self, entry_id: str, payload: dict) -> None:
        if payload.get("side") not in self.sides or "turn" not in payload or "attempt" not in payload:
            return
        at = event_time_ms(entry_id)
        event_round = (int(payload["turn"]), int(payload["attempt"]))
        if self.round is None or event_round > self.round:
            self.round = event_round
            self._reset()
        elif event_round < self.round:
            return
        log = self.logs.get(payload["side"])
        if log is None:
            log = self.logs[payload["side"]] = SideLog(first_ms=at)
        if log.ended_ms is not None:
            return
        kind = payload.get("type")
        if kind == "delta" and payload.get("text"):
            log.pieces.append(payload["text"])
            log.length += len(payload["text"])
            log.times.append(at)
            log.totals.append(log.length)
        elif kind == "end":
            log.ended_ms, log.status = at, payload.get("status", "done")

    # ---- the clock ---------------------------------------------------------------------------------

    def _first_tick_ms(self) -> int | None:
        if self.start_ms is not None:
            return self.start_ms
        if not self.logs:
            return None
        deadline = min(log.first_ms for log in self.logs.values()) + self.settings.start_deadline_ms
        ready = [self.logs[s].ready_ms() if s in self.logs else None for s in self.sides]
        both = max(ready) if None not in ready else None
        return deadline if both is None else min(both, deadline)

    def _available(self, side: str, t: int) -> int:
        log = self.logs.get(side)
        return 0 if log is None else log.length_at(t)

    def advance(self, now_ms: int) -> None:
        first = self._first_tick_ms()
        if first is None or now_ms < first:
            return
        self.start_ms = first
        s = self.settings
        step = s.chars_per_second * s.tick_ms / 1000
        while not self.done:
            t = first + self.tick * s.tick_ms
            if t > now_ms:
                break
            writing = [side for side in self.sides if not (side in self.logs and self.logs[side].ended_by(t))]
            if writing:
                cap = min(self._available(side, t) for side in writing) - hold(self.seed, self.tick, s.hold_chars)
                self.released = max(self.released, min(self.released + step, cap))
            else:
                self.released += step
                self.done = self.released >= max(log.length for log in self.logs.values())
            self.tick += 1

    # ---- output ------------------------------------------------------------------------------------

    def shown(self) -> dict[str, Shown]:
        if self.start_ms is None:
            return {side: Shown("", PENDING) for side in self.sides}
        t = self.start_ms + (self.tick - 1) * self.settings.tick_ms  # the last tick done
        length = math.floor(self.released)
        result = {}
        for side in self.sides:
            log = self.logs.get(side)
            if log is None:
                result[side] = Shown("", STREAMING)
            elif log.ended_by(t) and log.status in SHOWN_AT_ONCE:
                result[side] = Shown(log.text, log.status)
            elif log.ended_by(t) and length >= log.length:
                result[side] = Shown(log.text, log.status)
            else:
                result[side] = Shown(log.text[:min(length, log.length)], STREAMING)
        return result

    def next_tick_ms(self) -> int | None:
        """When the next tick falls due; None when nothing is paced yet or everything has been shown."""
        if self.round is None or self.finished():
            return None
        if self.start_ms is None:
            return self._first_tick_ms()
        return self.start_ms + self.tick * self.settings.tick_ms

    def finished(self) -> bool:
        return self.round is not None and not any(shown.active for shown in self.shown().values())


def present(entries: list[tuple[str, dict]], sides, now_ms: int, settings: PacingSettings, *,
            seed: int = 0) -> tuple[tuple[int, int] | None, dict[str, Shown]]:
    """The round (turn, attempt) that ``entries`` are at, and what each side shows at ``now_ms``."""
    pacer = Pacer(sides, settings, seed=seed)
    for entry_id, payload in entries:
        pacer.feed(entry_id, payload)
    pacer.advance(now_ms)
    return pacer.round, pacer.shown()


# ---- resuming a paced stream ---------------------------------------------------------------------

@dataclass(frozen=True)
class Cursor:
    """What a paced stream has sent of the current round, as the id of its last event.

    It holds only what the voter has been shown (lengths, which sides started and ended), never a
    time, so an event id says nothing about how the answers were made."""

    turn: int = -1
    attempt: int = -1
    lengths: tuple[int, ...] = ()
    started: int = 0  # bit i: side i has had its start event
    ended: int = 0  # bit i: side i has had its end event

    def encode(self) -> str:
        return f"p{self.turn}-{self.attempt}-{'.'.join(map(str, self.lengths))}-{self.started}-{self.ended}"

    @classmethod
    def decode(cls, value: str, n_sides: int) -> "Cursor | None":
        """None for anything that is not a cursor of a stream with ``n_sides`` sides."""
        if not value.startswith("p"):
            return None
        try:
            turn, attempt, lengths, started, ended = value[1:].split("-")
            numbers = tuple(int(n) for n in lengths.split("."))
            cursor = cls(int(turn), int(attempt), numbers, int(started), int(ended))
        except ValueError:
            return None
        if len(numbers) != n_sides or min(numbers + (cursor.turn, cursor.attempt, cursor.started, cursor.ended)) < 0:
            return None
        if max(numbers) > 10**9 or max(cursor.turn, cursor.attempt) > 10**6 or max(cursor.started, cursor.ended) > 3:
            return None
        return cursor


def stream_events(cursor: Cursor, round_: tuple[int, int] | None, shown: dict[str, Shown],
                  sides: tuple[str, ...]) -> tuple[list[tuple[str, dict, str]], Cursor]:
    """The events that bring a client at ``cursor`` to ``shown``: (type, payload, id) each, the id
    being the cursor just after that event, and the new cursor."""
    if round_ is None:
        return [], cursor
    turn, attempt = round_
    if (cursor.turn, cursor.attempt) != round_:
        cursor = Cursor(turn, attempt, tuple(0 for _ in sides), 0, 0)
    lengths, started, ended = list(cursor.lengths), cursor.started, cursor.ended
    out = []

    def emit(kind: str, payload: dict) -> None:
        out.append((kind, {"type": kind, "turn": turn, "side": payload.pop("side"), "attempt": attempt, **payload},
                    Cursor(turn, attempt, tuple(lengths), started, ended).encode()))

    for i, side in enumerate(sides):
        now = shown[side]
        if now.status == PENDING:
            continue
        if not started >> i & 1:
            started |= 1 << i
            emit("start", {"side": side})
        if len(now.text) > lengths[i]:
            piece = now.text[lengths[i]:]
            lengths[i] = len(now.text)
            emit("delta", {"side": side, "text": piece})
        if not now.active and not ended >> i & 1:
            ended |= 1 << i
            emit("end", {"side": side, "status": now.status})
    return out, Cursor(turn, attempt, tuple(lengths), started, ended)

"""The pacer: what a voter is shown of an anonymous battle before the vote (pure, no services)."""

import random

from arena.pacing import Cursor, Pacer, PacingSettings, Shown, hold, present, stream_events

SETTINGS = PacingSettings(chars_per_second=100, tick_ms=100, start_deadline_ms=60_000, hold_chars=12)
SIDES = ("a", "b")
WORDS = "the quick brown fox jumps over a lazy dog and then sits down to write a long answer".split()


def plain_side(side, *, start_ms, first_ms, every_ms, n_tokens, seed, turn=0, attempt=0):
    """A model that streams a token at a time: (entry id, payload) events."""
    rng = random.Random(seed)
    where = {"turn": turn, "side": side, "attempt": attempt}
    events = [(start_ms, {"type": "start", **where})]
    t = first_ms
    for _ in range(n_tokens):
        events.append((t, {"type": "delta", **where, "text": rng.choice(WORDS) + " "}))
        t += every_ms
    events.append((t, {"type": "end", **where, "status": "done"}))
    return events


def search_side(side, *, start_ms, answer_ms, text, turn=0, attempt=0):
    """A search contestant of old: a long silence, then its whole answer in one piece."""
    where = {"turn": turn, "side": side, "attempt": attempt}
    return [(start_ms, {"type": "start", **where}), (answer_ms, {"type": "delta", **where, "text": text}),
            (answer_ms + 1, {"type": "end", **where, "status": "done"})]


def merged(*sides):
    """Events in arrival order with Redis-like ids."""
    flat = sorted(((t, n, i) for n, events in enumerate(sides) for i, (t, _) in enumerate(events)))
    return [(f"{t}-{seq}", sides[n][i][1]) for seq, (t, n, i) in enumerate(flat)]


def timeline(entries, until_ms, step_ms=50):
    """What each side shows every ``step_ms``, fed as a live stream would be (events up to that time)."""
    pacer = Pacer(SIDES, SETTINGS, seed=7)
    fed, frames = 0, []
    for now in range(0, until_ms, step_ms):
        while fed < len(entries) and int(entries[fed][0].split("-")[0]) <= now:
            pacer.feed(*entries[fed])
            fed += 1
        pacer.advance(now)
        frames.append((now, pacer.shown()))
    return frames


def test_it_shows_nothing_until_both_sides_have_text_and_then_starts_both_together():
    entries = merged(plain_side("a", start_ms=100, first_ms=300, every_ms=50, n_tokens=40, seed=1),
                     search_side("b", start_ms=100, answer_ms=9_000, text="x" * 300))
    frames = timeline(entries, 20_000)
    before = [shown for now, shown in frames if now < 9_000]
    assert all(s["a"].status == "pending" and s["b"].status == "pending" and not s["a"].text for s in before)
    first_text = {side: next(now for now, s in frames if s[side].text) for side in SIDES}
    assert first_text["a"] == first_text["b"] >= 9_000


def test_both_sides_grow_in_step_whatever_way_their_text_arrived():
    entries = merged(plain_side("a", start_ms=0, first_ms=200, every_ms=60, n_tokens=60, seed=2),
                     search_side("b", start_ms=0, answer_ms=4_000, text="y" * 1000))
    frames = timeline(entries, 40_000)
    a_length = len(next(s for _, s in reversed(frames))["a"].text)
    for _, shown in frames:
        if len(shown["a"].text) < a_length:  # until the shorter side has shown everything
            assert len(shown["a"].text) == len(shown["b"].text)
    assert frames[-1][1]["a"].status == frames[-1][1]["b"].status == "done"
    assert frames[-1][1]["b"].text == "y" * 1000


def test_it_never_releases_faster_than_the_configured_rate():
    entries = merged(search_side("a", start_ms=0, answer_ms=1_000, text="a" * 2000),
                     search_side("b", start_ms=0, answer_ms=1_000, text="b" * 2000))
    frames = timeline(entries, 30_000, step_ms=100)
    for (t0, s0), (t1, s1) in zip(frames, frames[1:]):
        assert len(s1["a"].text) - len(s0["a"].text) <= SETTINGS.chars_per_second * (t1 - t0) / 1000 + 1


def test_chunks_do_not_end_where_the_source_tokens_end():
    entries = merged(plain_side("a", start_ms=0, first_ms=100, every_ms=80, n_tokens=120, seed=3),
                     plain_side("b", start_ms=0, first_ms=100, every_ms=40, n_tokens=240, seed=4))
    frames = timeline(entries, 30_000)
    full = {side: next(s for _, s in reversed(frames))[side].text for side in SIDES}
    token_ends = {side: {i + 1 for i, ch in enumerate(full[side]) if ch == " "} for side in SIDES}
    cuts = {side: {len(s[side].text) for _, s in frames if s[side].status == "streaming" and s[side].text}
            for side in SIDES}
    for side in SIDES:
        on_token_end = len(cuts[side] & token_ends[side]) / len(cuts[side])
        assert on_token_end < 0.5, f"side {side}: {on_token_end:.0%} of the cuts end a token"


def test_a_side_that_never_writes_holds_the_other_back_until_the_deadline():
    settings = PacingSettings(chars_per_second=100, tick_ms=100, start_deadline_ms=5_000)
    entries = merged(search_side("a", start_ms=0, answer_ms=500, text="z" * 100),
                     [(0, {"type": "start", "turn": 0, "side": "b", "attempt": 0})])
    _, early = present(entries, SIDES, 4_900, settings)
    assert early["a"].status == "pending" and early["a"].text == ""
    _, late = present(entries, SIDES, 5_000 + 2_000, settings)
    assert late["a"].text == "" and late["a"].status == "streaming"  # b writes nothing, so nothing is released
    assert late["b"].status == "streaming"


def test_a_stopped_side_is_shown_as_it_is_at_once():
    b = search_side("b", start_ms=0, answer_ms=300, text="w" * 500)[:2]  # written, not ended: then stopped
    b.append((2_000, {"type": "end", "turn": 0, "side": "b", "attempt": 0, "status": "stopped"}))
    entries = merged(plain_side("a", start_ms=0, first_ms=100, every_ms=50, n_tokens=10, seed=5), b)
    _, shown = present(entries, SIDES, 2_100, SETTINGS)
    assert shown["b"] == Shown("w" * 500, "stopped")


def test_live_and_from_scratch_agree_at_every_moment():
    entries = merged(plain_side("a", start_ms=0, first_ms=250, every_ms=45, n_tokens=80, seed=6),
                     search_side("b", start_ms=0, answer_ms=3_300, text="v" * 700))
    for now, shown in timeline(entries, 25_000, step_ms=370):
        known = [e for e in entries if int(e[0].split("-")[0]) <= now]
        assert present(known, SIDES, now, SETTINGS, seed=7)[1] == shown


def test_a_new_attempt_starts_the_pacing_over():
    first = merged(search_side("a", start_ms=0, answer_ms=100, text="old a"),
                   search_side("b", start_ms=0, answer_ms=100, text="old b"))
    second = merged(search_side("a", start_ms=5_000, answer_ms=5_100, text="new a", attempt=1),
                    [(5_000, {"type": "start", "turn": 0, "side": "b", "attempt": 1})])
    round_, shown = present(first + second, SIDES, 9_000, SETTINGS)
    assert round_ == (0, 1)
    assert shown["a"].text == "" and shown["a"].status == "pending"  # b of attempt 1 has no text yet


def test_a_resumed_stream_continues_exactly_where_it_left_off():
    entries = merged(plain_side("a", start_ms=0, first_ms=200, every_ms=70, n_tokens=50, seed=8),
                     search_side("b", start_ms=0, answer_ms=2_500, text="u" * 400))
    sent = {side: "" for side in SIDES}
    cursor = Cursor()
    kinds = []
    for now in range(0, 20_000, 900):
        round_, shown = present([e for e in entries if int(e[0].split("-")[0]) <= now], SIDES, now, SETTINGS)
        out, _ = stream_events(cursor, round_, shown, SIDES)
        for kind, payload, event_id in out:  # the client keeps only the id of the last event it saw
            kinds.append((kind, payload["side"]))
            if kind == "delta":
                sent[payload["side"]] += payload["text"]
            cursor = Cursor.decode(event_id, len(SIDES))
    _, final = present(entries, SIDES, 60_000, SETTINGS)
    assert sent == {side: final[side].text for side in SIDES}
    assert kinds.count(("start", "a")) == kinds.count(("start", "b")) == 1
    assert kinds.count(("end", "a")) == kinds.count(("end", "b")) == 1


def test_event_ids_carry_no_time_and_garbage_ids_are_refused():
    out, cursor = stream_events(Cursor(), (2, 1), {"a": Shown("hi", "streaming"), "b": Shown("yo", "streaming")}, SIDES)
    assert [kind for kind, _, _ in out] == ["start", "delta", "start", "delta"]
    assert cursor.encode() == "p2-1-2.2-3-0"
    assert Cursor.decode(cursor.encode(), 2) == cursor
    for bad in ("", "1700000000000-0", "p1-2-3-4", "p1-2-x.3-0-0", "p-1-0-0.0-0-0", "p1-1-5-0-0", "p1-1-1.1-9-0"):
        assert Cursor.decode(bad, 2) is None, bad


def test_the_hold_back_is_spread_and_bounded():
    values = [hold(11, tick, 12) for tick in range(2000)]
    assert min(values) == 0 and max(values) == 12
    assert len(set(values)) == 13

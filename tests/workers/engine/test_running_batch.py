"""BatchEngine.start: judge every row after its first tokens, end the rows not wanted, follow the one kept."""

import threading

import pytest

from workers.engine import Rewrite, SamplingParams

from .conftest import chat
from .test_batching import wait_until

SAMPLED = SamplingParams(max_new_tokens=40, temperature=1.0, seed=11, logprobs=True)


def test_each_row_is_marked_as_it_stood_at_the_mark(tiny, tiny_engine):
    prompt = chat(tiny, "Hi")
    whole = tiny_engine.generate([prompt] * 4, SAMPLED)
    with tiny_engine.start([prompt] * 4, SAMPLED, mark_at=8) as batch:
        marks = batch.marked()
        for mark, full in zip(marks, whole):
            assert mark.finish_reason == "running"
            assert 8 <= len(mark.token_ids) < len(full.token_ids)
            assert full.token_ids[: len(mark.token_ids)] == mark.token_ids
            assert mark.token_logprobs == pytest.approx(full.token_logprobs[: len(mark.token_ids)], abs=1e-4)
        assert [c.token_ids for c in batch.completions()] == [c.token_ids for c in whole]


def test_a_row_that_ends_before_the_mark_is_marked_as_it_ended(tiny, tiny_engine):
    prompt = chat(tiny, "Hi")
    params = SamplingParams(max_new_tokens=5, temperature=0)
    with tiny_engine.start([prompt], params, mark_at=8) as batch:
        [mark] = batch.marked()
        assert (len(mark.token_ids), mark.finish_reason) == (5, "length")


def test_stopped_rows_leave_the_batch_and_the_kept_row_goes_on_without_a_second_prefill(tiny, tiny_engine):
    prompt = chat(tiny, "Hi")
    params = SamplingParams(max_new_tokens=200, temperature=1.0, seed=3)
    [alone] = tiny_engine.generate([prompt], SamplingParams(max_new_tokens=200, temperature=1.0, seed=5))
    prefills = tiny_engine.stats.prefills
    with tiny_engine.start([prompt] * 4, params, mark_at=4) as batch:
        batch.marked()
        batch.stop([0, 1, 3])
        texts = list(batch.follow(2))
        done = batch.completions()
    assert tiny_engine.stats.prefills == prefills + 1  # the four rows were prefilled once, together
    assert [c.finish_reason for c in done] == ["stopped", "stopped", "length", "stopped"]
    assert all(len(done[i].token_ids) < 200 for i in (0, 1, 3))
    # The kept row is the sample it would have been alone (seed 3 + its row 2), followed as it grew.
    assert done[2].token_ids == alone.token_ids
    assert done[2].text == alone.text
    grown = [*texts, done[2].text]
    assert len(texts) > 10 and all(b.startswith(a) for a, b in zip(grown, grown[1:]))


def test_a_stopped_row_frees_its_place_at_the_next_step(tiny, tiny_engine):
    prompt = chat(tiny, "Hi")
    params = SamplingParams(max_new_tokens=1000, temperature=0)
    with tiny_engine.start([prompt] * 3, params, mark_at=2) as batch:
        batch.marked()
        wait_until(lambda: tiny_engine.stats.rows == 3)
        batch.stop([0, 2])
        wait_until(lambda: tiny_engine.stats.rows == 1)
        follow = batch.follow(1)
        texts = [next(follow)]
        batch.stop([1])
        texts += list(follow)
        assert batch.completions()[1].text.startswith(texts[-1])
        assert batch.completions()[1].finish_reason == "stopped"
    wait_until(lambda: tiny_engine.stats.rows == 0)


def test_a_followed_row_shows_its_rewritten_text(tiny, tiny_engine):
    prompt = chat(tiny, "Hi")
    params = SamplingParams(max_new_tokens=16, temperature=0)
    asked = threading.Event()

    def rewrite(row, text, token_ids):
        if len(token_ids) >= 6 and not asked.is_set():
            asked.set()
            return Rewrite(keep=3, insert=[100, 101])
        return None

    with tiny_engine.start([prompt], params, rewrite=rewrite) as batch:
        texts = list(batch.follow(0))
        [done] = batch.completions()
    assert done.rewrites == 1 and done.token_ids[3:5] == [100, 101]
    assert done.text.startswith(texts[-1])
    assert any(not done.text.startswith(t) for t in texts)  # it saw the text before the rewrite


def test_closing_the_batch_ends_every_row(tiny, tiny_engine):
    prompt = chat(tiny, "Hi")
    batch = tiny_engine.start([prompt] * 2, SamplingParams(max_new_tokens=1000, temperature=0))
    wait_until(lambda: tiny_engine.stats.rows == 2)
    batch.close()
    assert [c.finish_reason for c in batch.completions()] == ["stopped", "stopped"]
    wait_until(lambda: tiny_engine.stats.rows == 0)


def test_marked_needs_a_mark(tiny, tiny_engine):
    with tiny_engine.start([chat(tiny, "Hi")], SamplingParams(max_new_tokens=2, temperature=0)) as batch:
        with pytest.raises(ValueError, match="mark_at"):
            batch.marked()

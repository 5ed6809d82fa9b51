"""Rows a search samples together and follows while they run: judged at a mark, cut to one, streamed.

This is what lets a search contestant stream: best-of-N judges its N rows after their
first tokens and keeps one (the others leave the engine's batch at its next step), a
single sample is kept from the start, and the kept row's text is handed on as it is
generated. With the calculator on, a row's arithmetic is corrected as it runs (a rewrite
of the running row, see calculator.py), so text is handed on only once no correction can
change it any more (calculator.settled_length): a stated result is held back until it
is complete and checked. A row the calculator corrects after its call ended goes on in
another call, and is followed there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .answers import complete_answer
from .calculator import CalculatorRounds, settled_length

if TYPE_CHECKING:
    from .strategies.context import SearchContext


class RunningRows:
    def __init__(self, ctx: SearchContext, prompts: list[list[int]], params, *, mark_at: int | None = None) -> None:
        self.ctx = ctx
        self._stop_when = (lambda _row, text: complete_answer(text)) if ctx.config.stop_at_answer else None
        self.rounds = None
        if ctx.config.calculator:
            self.rounds = CalculatorRounds(ctx.tokenizer, prompts, params, stop_when=self._stop_when,
                                           rewrites=getattr(ctx.engine, "can_rewrite", False))
        self._prompts, self._params = prompts, params
        self._rows = list(range(len(prompts)))  # the rows of the running call, by index
        self._continuation = False
        self._final: list | None = None
        self._batch = self._start(mark_at)

    def __enter__(self) -> RunningRows:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def marked(self) -> list:
        """Every row as it stood at the mark (see BatchEngine.start), corrections included."""
        with self.ctx.ledger.phase("generate"):
            marks = self._batch.marked()
        if self.rounds is None:
            return marks
        return [self.rounds.partial(j, mark) for j, mark in enumerate(marks)]

    def keep(self, index: int) -> Iterator[str]:
        """End every other row and follow this one: its text, as far as it is settled, each time it grows."""
        self._batch.stop(j for j, i in enumerate(self._rows) if i != index)
        if self.rounds is not None:
            self.rounds.keep_only(index)
        while True:
            for text in self._timed(self._batch.follow(self._rows.index(index))):
                if self.rounds is None:
                    yield text
                else:
                    text = self.rounds.text_so_far(index, text)
                    yield text[: settled_length(text)]
            self._end_call()
            if self._final is not None:
                return
            self._batch = self._start(None)

    def completions(self) -> list:
        """Every row's completion (calculated, with the calculator on), once all have ended."""
        while self._final is None:
            self._end_call()
            if self._final is None:
                self._batch = self._start(None)
        return self._final

    def close(self) -> None:
        self._batch.close()

    def _start(self, mark_at: int | None):
        ctx = self.ctx
        prompts, params, stop_when, rewrite = self._prompts, self._params, self._stop_when, None
        if self.rounds is not None:
            call = self.rounds.next_call()
            prompts, params, stop_when, rewrite, self._rows = call.prompts, call.params, call.stop_when, \
                call.rewrite, call.rows
        ctx.calls += 1
        with ctx.ledger.phase("generate"):
            batch = ctx.engine.start(prompts, params, should_stop=ctx.should_stop, stop_when=stop_when,
                                     rewrite=rewrite, mark_at=mark_at)
        ctx.ledger.count_call(len(prompts), continuation=self._continuation)
        self._continuation = True
        return batch

    def _end_call(self) -> None:
        with self.ctx.ledger.phase("generate"):
            completions = self._batch.completions()
        self._batch.close()
        self.ctx.ledger.count_tokens(completions)
        if self.rounds is None:
            self._final = completions
            return
        self.rounds.absorb(completions)
        if self.rounds.done:
            self._final = self.rounds.results()
            self.ctx.ledger.tool_tokens += sum(c.tool_tokens for c in self._final)
        else:
            self._rows = [row.index for row in self.rounds.active]

    def _timed(self, texts: Iterator[str]) -> Iterator[str]:
        """The texts, with only the time spent waiting for them counted as generating."""
        while True:
            with self.ctx.ledger.phase("generate"):
                text = next(texts, None)
            if text is None:
                return
            yield text

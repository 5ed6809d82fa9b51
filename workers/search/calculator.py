"""A calculator in the loop while sampling, after Cobbe et al. 2021 (GSM8K).

There, solutions carried annotations like "<<48/2=24>>" and at sampling time the
calculator's result overrode the model's number. Our models write plain "48 / 2 = 24",
so the calculator watches each row as it is generated: once a stated result is
complete ("4 * 19 = 74" and then a character that ends the number) and safe_math
computes something else, the row's tokens are cut back to just before the wrong
number, the right one ("76") is written after them as tokens, and sampling continues
from there, so later steps build on the corrected value. On our BatchEngine that is a
rewrite of the running row: it stays in its batch, no other row waits for it, and no
prompt is prefilled again. On an engine that cannot rewrite, the row stops at the wrong
number and goes on in another engine call, with the other rows so stopped.

Inserted tokens (the right number, and the rest of its line as the model wrote it, tokenised
again) are the calculator's: they are counted as tool tokens, not generated ones, and their
log-probability slot is NaN so that loglik ignores them.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from .arithmetic import EQUALS, EXPRESSION, MAX_LINE_CHARS, agrees, format_value, has_operator, strip_units, value_of

# Corrections per row in one generate call; a row that needs more keeps its last wrong result.
MAX_CORRECTIONS = 8
# A result is complete once a character follows that cannot continue the number: "74\n", "74 ", "74. ".
_STATED = re.compile(r"(?<![\w.])(" + EXPRESSION + r")" + EQUALS
                     + r"(-?\d{1,30}(?:\.\d{1,30})?)(?=[^\d.,]|[.,][^\d])")
# A result that may still be being written: an equals sign at the end of the text, or one followed by
# nothing but the start of a number ("= ", "= -7", "= 74", "= 74." may still become "= 74.5").
_OPEN_RESULT = re.compile(EQUALS + r"-?[\d.,]*$")


@dataclass(frozen=True)
class Correction:
    expression: str
    stated: str
    value: str
    # Where the wrong number starts in the row's text.
    at: int

    def to_json(self) -> dict:
        return {"expression": self.expression, "stated": self.stated, "value": self.value}


@dataclass
class CalculatedCompletion:
    """An engine Completion with the calculator's corrections applied (same fields, plus what the tool did)."""

    text: str
    token_ids: list[int]
    finish_reason: str
    prompt_tokens: int
    # Tokens the model generated, including any cut off at a correction.
    completion_tokens: int
    token_logprobs: list[float] | None = None
    tool_tokens: int = 0
    corrections: list[Correction] = field(default_factory=list)
    # True for each of token_ids that the calculator wrote.
    tool_mask: list[bool] = field(default_factory=list)


def first_wrong_result(text: str, start: int = 0, *, not_before: int = 0) -> Correction | None:
    """The first complete stated result on the lines from text[start] on that safe arithmetic disagrees with.

    Results whose number starts before `not_before` (text the calculator can no longer change) are skipped.
    """
    line_start = text.rfind("\n", 0, start) + 1
    offset = line_start
    # Each line keeps its line break: it is what shows that the line's last number is complete.
    for line in text[line_start:].splitlines(keepends=True):
        if len(line) <= MAX_LINE_CHARS:
            for match in _STATED.finditer(line):
                expression, stated = match.group(1), match.group(2)
                if not has_operator(strip_units(expression)):
                    continue
                if offset + match.start(2) < not_before:
                    continue
                computed = value_of(expression)
                if computed is None or agrees(computed, Fraction(stated), stated):
                    continue
                return Correction(expression=" ".join(expression.split()), stated=stated,
                                  value=format_value(computed), at=offset + match.start(2))
        offset += len(line)
    return None


@dataclass
class _Row:
    index: int
    ids: list[int] = field(default_factory=list)
    mask: list[bool] = field(default_factory=list)
    logprobs: list[float] | None = field(default_factory=list)
    text: str = ""
    generated: int = 0
    prompt_tokens: int = 0
    finish_reason: str = "stop"
    corrections: list[Correction] = field(default_factory=list)
    # Text length already searched while streaming: only lines touched after it need a look.
    checked: int = 0


@dataclass
class Call:
    """One engine call a CalculatorRounds asks for: its arguments, and which rows it continues."""

    prompts: list[list[int]]
    params: list
    stop_when: Callable[[int, str], bool]
    enough: int | None
    continuation: bool
    rewrite: Callable | None
    rows: list[int]


class CalculatorRounds:
    """The engine calls of one calculated generation, and what the calculator made of each.

    Round 0 generates every row; a later round continues the rows the calculator corrected
    after their call ended (see generate_with_calculator). Ask ``next_call()`` for a call's
    arguments, run it, hand its completions to ``absorb``; ``results()`` once ``next_call()``
    says None. ``partial`` and ``text_so_far`` show a row while its call still runs.
    """

    def __init__(self, tokenizer, prompts: list[list[int]], params, *,
                 stop_when: Callable[[int, str], bool] | None = None, enough: int | None = None,
                 rewrites: bool = False) -> None:
        if not isinstance(params, (list, tuple)):
            # The engine gives row i of a shared seeded params the seed + i; keep that per row across calls.
            params = [params if params.seed is None else dataclasses.replace(params, seed=params.seed + i)
                      for i in range(len(prompts))]
        self.tokenizer, self.prompts, self.params = tokenizer, prompts, params
        self.stop_when, self.enough, self.rewrites = stop_when, enough, rewrites
        self.rows = [_Row(index=i) for i in range(len(prompts))]
        self.active = list(self.rows)
        self.finished = 0
        self.round = 0
        self.done = False
        # Per active row of the call under way: the corrections asked of the engine, each with the length of
        # the call's text that the calculator wrote up to (the engine reports how many it applied).
        self.asked: list[list[tuple[Correction, int]]] = []
        self.starts: list[int] = []
        self.kept: int | None = None

    def keep_only(self, index: int) -> None:
        """No row but this one goes on in a later call (the others were stopped)."""
        self.kept = index

    def next_call(self) -> Call | None:
        if self.done:
            return None
        if self.rewrites:
            from workers.engine import Rewrite  # noqa: PLC0415 (torch: not in the web)

        tokenizer, rewrites, stop_when = self.tokenizer, self.rewrites, self.stop_when
        active, last_round = self.active, self.round == MAX_CORRECTIONS
        self.starts = [len(row.text) for row in active]
        asked: list[list[tuple[Correction, int]]] = [[] for _ in active]
        self.asked = asked

        def row_rewrite(j: int, text: str, ids: list[int]):
            row = active[j]
            if last_round or len(row.corrections) + len(asked[j]) >= MAX_CORRECTIONS:
                return None
            start = len(row.text)
            protected = start + (asked[j][-1][1] if asked[j] else 0)
            wrong = first_wrong_result(row.text + text, max(row.checked, protected), not_before=protected)
            if wrong is None:
                row.checked = max(protected, start + len(text) - 1)
                return None
            keep, kept_text, inserted_text, inserted = _plan(ids, text, wrong, wrong.at - start, tokenizer)
            asked[j].append((wrong, len(kept_text) + len(inserted_text)))
            row.checked = start + asked[j][-1][1]
            return Rewrite(keep=keep, insert=inserted)

        def row_stop(j: int, text: str) -> bool:
            row = active[j]
            full = row.text + text
            if not rewrites:
                if not last_round and first_wrong_result(full, row.checked, not_before=len(row.text)) is not None:
                    return True
                row.checked = max(len(row.text), len(full) - 1)
            return stop_when is not None and stop_when(row.index, full)

        round_params = []
        for row in active:
            p = self.params[row.index]
            round_params.append(dataclasses.replace(
                p, max_new_tokens=p.max_new_tokens - len(row.ids),
                seed=None if p.seed is None else p.seed + 7_919 * self.round))
        need = None if self.enough is None else self.enough - self.finished
        return Call(prompts=[self.prompts[row.index] + row.ids for row in active], params=round_params,
                    stop_when=row_stop, enough=need if need is not None and 0 < need < len(active) else None,
                    continuation=self.round > 0, rewrite=row_rewrite if rewrites else None,
                    rows=[row.index for row in active])

    def absorb(self, completions: list) -> None:
        """Take the completions of the call ``next_call`` asked for."""
        last_round = self.round == MAX_CORRECTIONS
        again = []
        for row, start, made, completion in zip(self.active, self.starts, self.asked, completions, strict=True):
            applied = made[: getattr(completion, "rewrites", 0)]
            row.corrections += [correction for correction, _ in applied]
            protected = start + (applied[-1][1] if applied else 0)
            _append(row, completion, len(self.prompts[row.index]))
            wrong = None
            # A row that ended right after a wrong number ("= 74" then end of text) is corrected too, and so
            # is one that ended (at its budget, say) before the engine took the correction asked of it.
            late = len(made) > len(applied) and completion.finish_reason != "stopped"
            if not last_round and (completion.finish_reason == "stop" or late) \
                    and len(row.corrections) < MAX_CORRECTIONS:
                wrong = first_wrong_result(row.text + "\n", protected, not_before=protected)
            if wrong is None or self.kept not in (None, row.index):
                self.finished += completion.finish_reason != "stopped"  # a row cut at the quorum did not finish
                continue
            _correct(row, wrong, start, len(completion.token_ids), self.tokenizer)
            if len(row.ids) >= self.params[row.index].max_new_tokens:
                row.finish_reason = "length"  # the corrected number used up the budget
                self.finished += 1
                continue
            again.append(row)
        self.round += 1
        if not again or self.round > MAX_CORRECTIONS:
            self.done = True
        elif self.enough is not None and self.finished >= self.enough:
            for row in again:
                row.finish_reason = "stopped"
            self.done = True
        self.active = again

    def partial(self, j: int, completion) -> CalculatedCompletion:
        """Active row ``j`` with ``completion`` (its call's output so far) appended, corrections applied so far."""
        row = dataclasses.replace(self.active[j], ids=list(self.active[j].ids), mask=list(self.active[j].mask),
                                  logprobs=None if self.active[j].logprobs is None else list(self.active[j].logprobs),
                                  corrections=list(self.active[j].corrections))
        row.corrections += [c for c, _ in self.asked[j][: getattr(completion, "rewrites", 0)]]
        _append(row, completion, len(self.prompts[row.index]))
        return _completed(row)

    def text_so_far(self, index: int, call_text: str = "") -> str:
        """Row ``index``'s text from earlier calls, then ``call_text`` from the call under way."""
        return self.rows[index].text + call_text

    def results(self) -> list[CalculatedCompletion]:
        return [_completed(r) for r in self.rows]


def generate_with_calculator(
    call: Callable[..., list],
    tokenizer,
    prompts: list[list[int]],
    params,
    *,
    stop_when: Callable[[int, str], bool] | None = None,
    enough: int | None = None,
    rewrites: bool = False,
) -> list[CalculatedCompletion]:
    """Generate like engine.generate, correcting stated arithmetic as it is written.

    `call(prompts, params, stop_when=, enough=, continuation=, rewrite=)` runs one engine call;
    `stop_when(row, text)` sees each row's whole text so far, corrections included.

    With `rewrites` (an engine that can rewrite a running row, see BatchEngine.generate) a
    correction happens inside the call: the row goes on from the right number in the same
    batch, and `enough` counts rows that really ended. A row that ends just after a wrong
    number, before the engine took the correction, goes on in one more call. Without
    `rewrites` a row stops at a wrong number and goes on in the next call with the others
    so stopped; there `enough` counts such a row as ended too (the engine cannot tell), so
    the batch may stop waiting a little early; the corrected rows then continue to their
    end, unless `enough` rows have really finished.
    """
    rounds = CalculatorRounds(tokenizer, prompts, params, stop_when=stop_when, enough=enough, rewrites=rewrites)
    while (args := rounds.next_call()) is not None:
        rounds.absorb(call(args.prompts, args.params, stop_when=args.stop_when, enough=args.enough,
                           continuation=args.continuation, rewrite=args.rewrite))
    return rounds.results()


def settled_length(text: str) -> int:
    """How much of a row's text no correction can change any more, once every complete stated result in
    it has been checked: a correction rewrites a result from its first digit on, and only a result still
    being written ("= 7", "= 74" with nothing after it yet) can still be found wrong."""
    match = _OPEN_RESULT.search(text, text.rfind("\n") + 1)
    return match.start() if match else len(text)


def _completed(r: _Row) -> CalculatedCompletion:
    return CalculatedCompletion(text=r.text, token_ids=list(r.ids), finish_reason=r.finish_reason,
                                prompt_tokens=r.prompt_tokens, completion_tokens=r.generated,
                                token_logprobs=None if r.logprobs is None else list(r.logprobs),
                                tool_tokens=sum(r.mask), corrections=list(r.corrections), tool_mask=list(r.mask))


def _append(row: _Row, completion, prompt_tokens: int) -> None:
    if not row.prompt_tokens:
        row.prompt_tokens = prompt_tokens
    row.ids += list(completion.token_ids)
    row.mask += getattr(completion, "written", None) or [False] * len(completion.token_ids)
    row.text += completion.text
    row.generated += completion.completion_tokens
    row.finish_reason = completion.finish_reason
    logprobs = getattr(completion, "token_logprobs", None)
    if row.logprobs is not None and logprobs is not None:
        row.logprobs += list(logprobs)
    else:
        row.logprobs = None


def _correct(row: _Row, wrong: Correction, start: int, new_tokens: int, tokenizer) -> None:
    """Cut the row's newest tokens (those of the last call, whose text starts at `start`) back to just
    before the wrong number; append the right one and what followed the wrong one on its line."""
    old = row.ids[len(row.ids) - new_tokens:]
    base = len(row.ids) - new_tokens
    keep, kept_text, inserted_text, inserted = _plan(old, row.text[start:], wrong, wrong.at - start, tokenizer)
    row.ids = row.ids[: base + keep] + inserted
    row.mask = row.mask[: base + keep] + [True] * len(inserted)
    row.text = row.text[:start] + kept_text + inserted_text
    row.checked = len(row.text)
    if row.logprobs is not None:
        row.logprobs = row.logprobs[: base + keep] + [math.nan] * len(inserted)
    row.corrections.append(wrong)


def _plan(ids: list[int], text: str, wrong: Correction, at: int, tokenizer) -> tuple[int, str, str, list[int]]:
    """How to write the right number into `text` (the text of `ids`), whose wrong number starts at `at`.

    Returns (tokens of ids to keep, their text, the text to write after them, its tokens): the
    longest run of ids whose text ends at or before the wrong number, then the right number
    and what followed the wrong one on its line ("\n", " apples"). That is what showed the
    number was complete; without it the model, continuing from a bare "= 7", may well append
    digits to the calculator's number.
    """
    keep, kept_text = 0, ""
    for n in range(len(ids), -1, -1):
        piece = tokenizer.decode(ids[:n], skip_special_tokens=True)
        if len(piece) <= at:
            keep, kept_text = n, piece
            break
    after = text[at + len(wrong.stated):]
    line_end = after.find("\n")
    tail = after if line_end < 0 else after[: line_end + 1]
    inserted_text = text[len(kept_text): at] + wrong.value + tail
    return keep, kept_text, inserted_text, tokenizer.encode(inserted_text, add_special_tokens=False)

"""The public LMSYS battle format: JSON records (model_a, model_b, winner, conversations, ...)
read into `Battles` and written back, as LMArena publishes its battles.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from ratings.battle_arrays import WINNER_NAMES, Battles
from ratings.features import STYLE_ELEMENTS, count_markdown_elements, count_tokens

# Per-battle fields the reader fills when the record has what they need:
#   turn (int), anony (bool), tstamp (float), language (str), prompt (str: the user turns joined
#   by newlines), prompt_tokens (int), style_a / style_b (float, shape (n, 4): answer tokens,
#   headers, list items, bold spans, summed over the assistant turns, in STYLE_ELEMENTS order).
OPTIONAL_FIELDS = ("turn", "anony", "tstamp", "language", "prompt", "prompt_tokens", "style_a", "style_b")
_FIELD_DTYPES = {
    "turn": np.int32, "anony": bool, "tstamp": np.float64, "language": object, "prompt": object,
    "prompt_tokens": np.int64, "style_a": np.float64, "style_b": np.float64,
}


def _user_text(conversation: Sequence[Mapping[str, Any]]) -> str:
    return "".join(f"{_content(turn)}\n" for turn in conversation if turn.get("role") == "user")


def _assistant_text(conversation: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(_content(turn) for turn in conversation if turn.get("role") == "assistant")


def _content(turn: Mapping[str, Any]) -> str:
    content = turn.get("content", "")
    if isinstance(content, list):  # multimodal turns: keep the text parts
        return "\n".join(part if isinstance(part, str) else str(part.get("text", "")) for part in content)
    return content if isinstance(content, str) else ""


def _meta_count(value: Any) -> float:
    return float(sum(value.values()) if isinstance(value, Mapping) else value)


def _style_from_metadata(meta: Mapping[str, Any], side: str) -> list[float] | None:
    """Style counts from an LMArena `conv_metadata` record, when it has them."""
    keys = (f"sum_assistant_{side}_tokens", f"header_count_{side}", f"list_count_{side}", f"bold_count_{side}")
    if not all(k in meta for k in keys):
        return None
    return [_meta_count(meta[k]) for k in keys]


def _style_from_conversation(conversation: Sequence[Mapping[str, Any]]) -> list[float]:
    answer = _assistant_text(conversation)
    markdown = count_markdown_elements(answer)
    return [float(count_tokens(answer))] + [float(markdown[name]) for name in STYLE_ELEMENTS[1:]]


def battles_from_records(records: Iterable[Mapping[str, Any]]) -> Battles:
    """Battles from LMSYS-style records (dicts with model_a, model_b, winner and optional fields).

    Optional fields are kept only when every record has what they need, so the arrays stay dense.
    `turn` falls back to the number of user turns in `conversation_a`; `prompt` prefers `conversation_a`'s user turns,
    then a top-level `prompt`; style counts prefer `conv_metadata` (LMArena's precomputed tiktoken counts), then
    counting the conversations.
    """
    model_a: list[str] = []
    model_b: list[str] = []
    winner: list[str] = []
    columns: dict[str, list[Any]] = {name: [] for name in OPTIONAL_FIELDS}
    present = dict.fromkeys(OPTIONAL_FIELDS, True)
    for record in records:
        model_a.append(record["model_a"])
        model_b.append(record["model_b"])
        winner.append(record["winner"])
        conv_a, conv_b = record.get("conversation_a"), record.get("conversation_b")
        for name in ("turn", "anony", "tstamp", "language"):
            value = record.get(name)
            if value is None and name == "turn" and conv_a is not None:
                value = sum(1 for turn in conv_a if turn.get("role") == "user")
            if present[name] and value is not None:
                columns[name].append(value)
            else:
                present[name] = False
        if conv_a is not None:
            prompt = _user_text(conv_a)
        elif isinstance(record.get("prompt"), str):
            prompt = record["prompt"]
        else:
            prompt = None
        if present["prompt"] and prompt is not None:
            columns["prompt"].append(prompt)
            tokens = record.get("prompt_tokens")
            columns["prompt_tokens"].append(count_tokens(prompt) if tokens is None else tokens)
        else:
            present["prompt"] = present["prompt_tokens"] = False
        meta = record.get("conv_metadata") or {}
        for side, conv in (("a", conv_a), ("b", conv_b)):
            name = f"style_{side}"
            if not present[name]:
                continue
            style = _style_from_metadata(meta, side)
            if style is None and conv is not None:
                style = _style_from_conversation(conv)
            if style is None:
                present[name] = False
            else:
                columns[name].append(style)
    fields = {}
    for name in OPTIONAL_FIELDS:
        if present[name] and winner:
            if _FIELD_DTYPES[name] is object:  # strings stay Python strings, of any length
                fields[name] = np.empty(len(winner), dtype=object)
                fields[name][:] = columns[name]
            else:
                fields[name] = np.asarray(columns[name], dtype=_FIELD_DTYPES[name])
    return Battles.from_names(model_a, model_b, winner, **fields)


def _iter_records(stream: IO[str]) -> Iterator[Mapping[str, Any]]:
    head = stream.read(1)
    while head and head.isspace():
        head = stream.read(1)
    rest = stream.read()
    if head == "[":
        yield from json.loads(head + rest)
        return
    for line in (head + rest).splitlines():
        if line.strip():
            yield json.loads(line)


def read_battles(source: str | Path | IO[str]) -> Battles:
    """Read a JSON list or JSON-lines file of LMSYS battle records (see `battles_from_records`)."""
    if isinstance(source, (str, Path)):
        with open(source, encoding="utf-8") as stream:
            return battles_from_records(_iter_records(stream))
    return battles_from_records(_iter_records(source))


def records_from_battles(battles: Battles) -> Iterator[dict[str, Any]]:
    """LMSYS-style records for `battles`; style counts go into `conv_metadata`, the prompt into
    `prompt` (conversations themselves are not kept in a `Battles`)."""
    fields = battles.fields
    for i in range(len(battles)):
        record: dict[str, Any] = {
            "model_a": battles.models[battles.model_a[i]],
            "model_b": battles.models[battles.model_b[i]],
            "winner": WINNER_NAMES[battles.outcome[i]],
        }
        for name in ("turn", "anony", "tstamp", "language", "prompt", "prompt_tokens"):
            if name in fields:
                value = fields[name][i]
                record[name] = value.item() if isinstance(value, np.generic) else value
        if "style_a" in fields and "style_b" in fields:
            meta = {}
            for side in ("a", "b"):
                tokens, headers, lists, bold = (float(x) for x in fields[f"style_{side}"][i])
                meta[f"sum_assistant_{side}_tokens"] = tokens
                meta[f"header_count_{side}"] = headers
                meta[f"list_count_{side}"] = lists
                meta[f"bold_count_{side}"] = bold
            record["conv_metadata"] = meta
        yield record


def write_battles(battles: Battles, target: str | Path | IO[str], *, jsonl: bool = True) -> None:
    """Write battles as JSON lines (default) or as one JSON list."""
    def dump(stream: IO[str]) -> None:
        if jsonl:
            for record in records_from_battles(battles):
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            json.dump(list(records_from_battles(battles)), stream, ensure_ascii=False)

    if isinstance(target, (str, Path)):
        with open(target, "w", encoding="utf-8") as stream:
            dump(stream)
    else:
        dump(target)

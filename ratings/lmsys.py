"""The public LMSYS/LMArena battle format, column by column: what each column of a battle record means
and how it becomes a `Battles` (and back).

Records carry model_a, model_b, winner ("model_a", "model_b", "tie", "tie (bothbad)"/"both_bad") and
optionally turn, anony, tstamp, language, prompt, prompt_tokens, conv_metadata (LMArena's precomputed
style counts) and conversation_a / conversation_b (lists of {"role", "content"}). The work is columnar
(pyarrow compute, numpy), so a file of millions of battles is read at the speed of its parser; only
conversations are walked row by row, since a prompt or a markdown count is per-row text work anyway.
File formats (JSON lines, JSON list, Parquet) live in `ratings.battle_files`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ratings.battle_arrays import WINNER_CODES, WINNER_NAMES, Battles
from ratings.features import STYLE_ELEMENTS, count_markdown_elements, count_tokens

# Per-battle fields the reader fills when the records have what they need:
#   turn (int), anony (bool), tstamp (float), language (str), prompt (str: the user turns joined
#   by newlines), prompt_tokens (int), style_a / style_b (float, shape (n, 4): answer tokens,
#   headers, list items, bold spans, summed over the assistant turns, in STYLE_ELEMENTS order).
OPTIONAL_FIELDS = ("turn", "anony", "tstamp", "language", "prompt", "prompt_tokens", "style_a", "style_b")
REQUIRED_COLUMNS = ("model_a", "model_b", "winner")
# The flat columns of a record and their types; a value of another type is a bad row.
COLUMN_TYPES = {
    "model_a": pa.string(), "model_b": pa.string(), "winner": pa.string(), "turn": pa.int64(),
    "anony": pa.bool_(), "tstamp": pa.float64(), "language": pa.string(), "prompt": pa.string(),
    "prompt_tokens": pa.int64(),
}
_DESCRIBE = {pa.string(): "a string", pa.int64(): "an integer", pa.bool_(): "true or false", pa.float64(): "a number"}
_STYLE_KEYS = ("sum_assistant_{}_tokens", "header_count_{}", "list_count_{}", "bold_count_{}")

# A column as a reader hands it over: an Arrow array (files) or one Python value per row (records).
Column = pa.Array | pa.ChunkedArray | Sequence[Any]


class BadRow(ValueError):
    """A record that is not a battle; `row` counts from 0 in the order the records came."""

    def __init__(self, row: int, message: str) -> None:
        super().__init__(f"row {row + 1}: {message}")
        self.row = row
        self.reason = message


def columns_needed(fields: Collection[str]) -> set[str]:
    """The record columns that can supply `fields` (besides the required ones)."""
    needed = {name for name in fields if name in COLUMN_TYPES}
    if fields & {"turn", "prompt", "prompt_tokens", "style_a"}:
        needed.add("conversation_a")
    if fields & {"style_a", "style_b"}:
        needed |= {"conv_metadata", "conversation_b"}
    if "prompt_tokens" in fields:
        needed.add("prompt")
    return needed


def battles_from_columns(
    columns: Mapping[str, Column], n_rows: int, *, fields: Collection[str] = OPTIONAL_FIELDS
) -> Battles:
    """Battles from record columns. Optional `fields` are kept only when every row has what they need,
    so the arrays stay dense. `turn` falls back to the number of user turns in `conversation_a`;
    `prompt` prefers `conversation_a`'s user turns, then a top-level `prompt`; style counts prefer
    `conv_metadata` (LMArena's precomputed tiktoken counts), then counting the conversations.
    Raises `BadRow` naming the first row that is not a battle.
    """
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            raise ValueError(f"the battles have no {name!r} column; every record needs model_a, model_b and winner")
    model_a, model_b, winner = (_typed(columns, name) for name in REQUIRED_COLUMNS)
    for name, values in (("model_a", model_a), ("model_b", model_b), ("winner", winner)):
        _reject_first(values.is_null(), lambda _row, name=name: f"{name} is missing")
    winner_index = _positions(winner, list(WINNER_CODES))
    _reject_first(winner_index < 0, lambda row: (
        f"unknown winner {winner[row].as_py()!r}; expected one of {sorted(WINNER_CODES)}"))
    models = sorted(_distinct(model_a) | _distinct(model_b))
    index_a, index_b = _positions(model_a, models), _positions(model_b, models)
    _reject_first(index_a == index_b, lambda row: (
        f"model_a and model_b are both {model_a[row].as_py()!r}; a battle needs two different models"))
    codes = np.array(list(WINNER_CODES.values()), dtype=np.int8)
    kept = {name: values for name, values in _optional_fields(columns, n_rows, set(fields)).items()
            if name in fields}
    return Battles(
        models=tuple(models),
        model_a=index_a,
        model_b=index_b,
        outcome=codes[winner_index],
        fields=kept,
    )


def battles_from_records(records: Iterable[Mapping[str, Any]], *, fields: Collection[str] = OPTIONAL_FIELDS) -> Battles:
    """Battles from LMSYS-style records (dicts); see `battles_from_columns`."""
    records = list(records)
    for row, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise BadRow(row, f"a battle is a JSON object, not {type(record).__name__}")
    wanted = set(REQUIRED_COLUMNS) | columns_needed(set(fields))
    present = {key for record in records for key in record} & wanted
    columns = {name: [record.get(name) for record in records] for name in present}
    return battles_from_columns(columns, len(records), fields=fields)


def _chunks(values: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return values.chunks if isinstance(values, pa.ChunkedArray) else [values]


def _distinct(values: pa.Array | pa.ChunkedArray) -> set[str]:
    """The distinct strings of a column without nulls (a dictionary-encoded one: the entries its rows use)."""
    found: set[str] = set()
    for chunk in _chunks(values):
        if pa.types.is_dictionary(chunk.type):
            used = np.unique(_numpy(chunk.indices))
            found.update(chunk.dictionary.take(pa.array(used)).to_pylist())
        else:
            found.update(pc.unique(chunk).to_pylist())
    return found


def _positions(values: pa.Array | pa.ChunkedArray, names: list[str]) -> np.ndarray:
    """Each row's index in `names`, -1 where its value is not there (a column without nulls). A
    dictionary-encoded column (Parquet read that way) is looked up once per dictionary entry, which
    spares hashing a string per row."""
    where = {name: i for i, name in enumerate(names)}
    value_set = pa.array(names, type=pa.string())
    parts = []
    for chunk in _chunks(values):
        if pa.types.is_dictionary(chunk.type):
            lookup = np.array([where.get(name, -1) for name in chunk.dictionary.to_pylist()], dtype=np.int32)
            parts.append(lookup[_numpy(chunk.indices)])
        else:
            parts.append(_numpy(pc.index_in(chunk, value_set=value_set).fill_null(-1)).astype(np.int32))
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int32)


def _numpy(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return values.to_numpy(zero_copy_only=False) if isinstance(values, pa.Array) else values.to_numpy()


def _reject_first(mask: pa.Array | pa.ChunkedArray | np.ndarray, message: Any) -> None:
    """Raise `BadRow` at the first row where `mask` is true (`message(row)` says why)."""
    bad = np.flatnonzero(mask if isinstance(mask, np.ndarray) else _numpy(mask.fill_null(False)))
    if len(bad):
        row = int(bad[0])
        raise BadRow(row, message(row))


def _typed(columns: Mapping[str, Column], name: str) -> pa.Array | pa.ChunkedArray:
    """Column `name` as its Arrow type; a value of another type names its row."""
    values, kind = columns[name], COLUMN_TYPES[name]
    if isinstance(values, pa.Array | pa.ChunkedArray):
        if values.type == kind or (pa.types.is_dictionary(values.type) and values.type.value_type == kind):
            return values  # a dictionary-encoded string column stays encoded (see _positions)
        if pa.types.is_null(values.type) or (pa.types.is_integer(values.type) and kind == pa.float64()):
            return values.cast(kind)
        values = values.to_pylist()
    try:
        return pa.array(values, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        for row, value in enumerate(values):
            if value is not None and not _fits(value, kind):
                raise BadRow(row, f"{name} must be {_DESCRIBE[kind]}, not {value!r}") from None
        raise


def _fits(value: Any, kind: pa.DataType) -> bool:
    if isinstance(value, bool) and kind != pa.bool_():
        return False
    try:
        pa.array([value], type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return False
    return True


def _complete(values: pa.Array | pa.ChunkedArray, n_rows: int) -> np.ndarray | None:
    """The column as numpy when every row has a value."""
    if values.null_count or len(values) != n_rows:
        return None
    if pa.types.is_string(values.type):  # strings stay Python strings, of any length
        out = np.empty(n_rows, dtype=object)
        out[:] = values.to_pylist()
        return out
    return _numpy(values)


def _optional_fields(columns: Mapping[str, Column], n_rows: int, fields: set[str]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    if n_rows == 0:
        return out
    for name in ("anony", "tstamp", "language"):
        if name in fields and name in columns:
            values = _complete(_typed(columns, name), n_rows)
            if values is not None:
                out[name] = values.astype({"anony": bool, "tstamp": np.float64, "language": object}[name])
    conv_a = _pylist(columns.get("conversation_a"))
    conv_b = _pylist(columns.get("conversation_b"))
    if "turn" in fields:
        turn = _turns(columns, conv_a, n_rows)
        if turn is not None:
            out["turn"] = turn
    if fields & {"prompt", "prompt_tokens"}:
        out.update(_prompts(columns, conv_a, n_rows, with_tokens="prompt_tokens" in fields))
    if fields & {"style_a", "style_b"}:
        styles = {f"style_{side}": _style(columns.get("conv_metadata"), conv, side, n_rows)
                  for side, conv in (("a", conv_a), ("b", conv_b))}
        if all(style is not None for style in styles.values()):  # style control needs both sides
            out.update(styles)
    return out


def _pylist(values: Column | None) -> list[Any] | None:
    if values is None:
        return None
    return values.to_pylist() if isinstance(values, pa.Array | pa.ChunkedArray) else list(values)


def _turns(columns: Mapping[str, Column], conv_a: list | None, n_rows: int) -> np.ndarray | None:
    turn = _numpy(_typed(columns, "turn").fill_null(-1)).astype(np.int64) if "turn" in columns else \
        np.full(n_rows, -1, dtype=np.int64)
    for row in np.flatnonzero(turn < 0):
        if conv_a is None or not isinstance(conv_a[row], list):
            return None
        turn[row] = sum(1 for message in conv_a[row] if _role(message) == "user")
    return turn.astype(np.int32)


def _prompts(columns: Mapping[str, Column], conv_a: list | None, n_rows: int, *, with_tokens: bool) -> dict:
    top = _pylist(_typed(columns, "prompt")) if "prompt" in columns else [None] * n_rows
    prompts = np.empty(n_rows, dtype=object)
    for row in range(n_rows):
        conversation = conv_a[row] if conv_a is not None else None
        prompt = _user_text(conversation) if isinstance(conversation, list) else top[row]
        if prompt is None:
            return {}
        prompts[row] = prompt
    out = {"prompt": prompts}
    if with_tokens:
        given = _numpy(_typed(columns, "prompt_tokens").fill_null(-1)) if "prompt_tokens" in columns else \
            np.full(n_rows, -1)
        out["prompt_tokens"] = np.array([count_tokens(p) if t < 0 else t for p, t in zip(prompts, given.tolist())],
                                        dtype=np.int64)
    return out


def _style(meta: Column | None, conversations: list | None, side: str, n_rows: int) -> np.ndarray | None:
    style = np.full((n_rows, len(STYLE_ELEMENTS)), np.nan)
    if isinstance(meta, pa.Array | pa.ChunkedArray) and pa.types.is_struct(meta.type):
        for column, key in enumerate(_STYLE_KEYS):
            style[:, column] = _metadata_count(meta, key.format(side))
    elif meta is not None:
        for row, record in enumerate(_pylist(meta)):
            counts = _style_from_metadata(record, side) if isinstance(record, Mapping) else None
            if counts is not None:
                style[row] = counts
    for row in np.flatnonzero(np.isnan(style).any(axis=1)):
        if conversations is None or not isinstance(conversations[row], list):
            return None
        style[row] = _style_from_conversation(conversations[row])
    return style


def _metadata_count(meta: pa.Array | pa.ChunkedArray, key: str) -> np.ndarray:
    """One `conv_metadata` count as floats (NaN where missing): a number, or a struct of numbers
    (LMArena's {"h1": .., "h2": ..}) summed."""
    if meta.type.get_field_index(key) < 0:
        return np.full(len(meta), np.nan)
    values = pc.struct_field(meta, key)
    if pa.types.is_struct(values.type):
        parts = [pc.struct_field(values, values.type.field(i).name) for i in range(values.type.num_fields)]
        if not all(pa.types.is_integer(p.type) or pa.types.is_floating(p.type) for p in parts):
            return np.full(len(meta), np.nan)
        total = np.zeros(len(meta))
        for part in parts:
            total += _numpy(part.cast(pa.float64()).fill_null(0.0))
        return np.where(_numpy(values.is_null()), np.nan, total)
    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
        return np.full(len(meta), np.nan)
    return _numpy(values.cast(pa.float64()).fill_null(np.nan))


def _role(message: Any) -> Any:
    return message.get("role") if isinstance(message, Mapping) else None


def _user_text(conversation: Sequence[Mapping[str, Any]]) -> str:
    return "".join(f"{_content(turn)}\n" for turn in conversation if _role(turn) == "user")


def _assistant_text(conversation: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(_content(turn) for turn in conversation if _role(turn) == "assistant")


def _content(turn: Mapping[str, Any]) -> str:
    content = turn.get("content", "")
    if isinstance(content, list):  # multimodal turns: keep the text parts
        return "\n".join(part if isinstance(part, str) else str(part.get("text", "")) for part in content)
    return content if isinstance(content, str) else ""


def _meta_count(value: Any) -> float | None:
    if isinstance(value, Mapping):
        return float(sum(v for v in value.values() if v is not None))
    return None if value is None else float(value)


def _style_from_metadata(meta: Mapping[str, Any], side: str) -> list[float] | None:
    """Style counts from an LMArena `conv_metadata` record, when it has them."""
    counts = [_meta_count(meta.get(key.format(side))) for key in _STYLE_KEYS]
    return None if None in counts else counts


def _style_from_conversation(conversation: Sequence[Mapping[str, Any]]) -> list[float]:
    answer = _assistant_text(conversation)
    markdown = count_markdown_elements(answer)
    return [float(count_tokens(answer))] + [float(markdown[name]) for name in STYLE_ELEMENTS[1:]]


def table_from_battles(battles: Battles) -> pa.Table:
    """The battles as an Arrow table of LMSYS columns; style counts go into `conv_metadata`, the prompt
    into `prompt` (conversations themselves are not kept in a `Battles`)."""
    models = pa.array(battles.models, type=pa.string())
    columns: dict[str, pa.Array] = {
        "model_a": models.take(pa.array(battles.model_a)),
        "model_b": models.take(pa.array(battles.model_b)),
        "winner": pa.array(WINNER_NAMES, type=pa.string()).take(pa.array(battles.outcome.astype(np.int64))),
    }
    fields = battles.fields
    for name in ("turn", "anony", "tstamp", "language", "prompt", "prompt_tokens"):
        if name in fields:
            columns[name] = pa.array(fields[name], type=COLUMN_TYPES[name])
    if "style_a" in fields and "style_b" in fields:
        meta = {}
        for side in ("a", "b"):
            style = np.asarray(fields[f"style_{side}"], dtype=np.float64)
            for column, key in enumerate(_STYLE_KEYS):
                meta[key.format(side)] = pa.array(style[:, column])
        columns["conv_metadata"] = pa.StructArray.from_arrays(list(meta.values()), names=list(meta))
    return pa.table(columns)


def records_from_battles(battles: Battles) -> Iterator[dict[str, Any]]:
    """LMSYS-style records for `battles` (see `table_from_battles`)."""
    for batch in table_from_battles(battles).to_batches(max_chunksize=65_536):
        yield from batch.to_pylist()

"""Battle files: JSON lines, a JSON list or Parquet, read into `Battles` and written back.

JSON lines and Parquet are read column by column by pyarrow (its JSON reader parses blocks of lines
on every core); a JSON list, or a JSON-lines file pyarrow cannot type (a column that is a number in
one line and text in the next), is parsed line by line with orjson. An error names the first bad row
as the reader counts it: "line N" in JSON lines (blank lines counted), "record N" in a JSON list,
"row N" in Parquet. The meaning of the columns is `ratings.lmsys`.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from ratings.battle_arrays import Battles
from ratings.lmsys import (
    COLUMN_TYPES,
    OPTIONAL_FIELDS,
    REQUIRED_COLUMNS,
    BadRow,
    battles_from_columns,
    battles_from_records,
    columns_needed,
    table_from_battles,
)

FORMATS = ("jsonl", "json", "parquet")
_PARQUET_MAGIC = b"PAR1"
# pyarrow's JSON reader parses blocks in parallel; a block must hold at least one whole line.
_JSON_BLOCK_BYTES = 1 << 24
_WRITE_BATCH = 65_536

Source = str | Path | IO[str] | IO[bytes]


def read_battles(source: Source, *, fields: Collection[str] = OPTIONAL_FIELDS) -> Battles:
    """Read battles from a JSON-lines, JSON-list or Parquet file (told apart by their first bytes).

    `fields`: the optional `Battles` fields wanted (see `ratings.lmsys.OPTIONAL_FIELDS`); asking for
    fewer skips the columns that would only feed the others (conversations, style counts).
    Raises `ValueError` naming the first bad line, record or row.
    """
    fields = set(fields)
    data = _read_source(source)
    head = data[:4096] if isinstance(data, bytes) else _head(data)
    if head.startswith(_PARQUET_MAGIC):
        return _read_parquet(pa.BufferReader(data) if isinstance(data, bytes) else str(data), fields)
    if head.lstrip()[:1] == b"[":
        return _read_json_list(data if isinstance(data, bytes) else Path(data).read_bytes(), fields)
    return _read_json_lines(data, fields)


def _read_source(source: Source) -> bytes | str | Path:
    if isinstance(source, (str, Path)):
        if not Path(source).is_file():
            raise FileNotFoundError(source)
        return source
    data = source.read()
    return data.encode("utf-8") if isinstance(data, str) else data


def _head(path: str | Path) -> bytes:
    with open(path, "rb") as stream:
        return stream.read(4096)


def _read_parquet(source: Any, fields: set[str]) -> Battles:
    schema = pq.read_schema(source)
    if isinstance(source, pa.BufferReader):
        source.seek(0)
    wanted = [name for name in schema.names if name in set(REQUIRED_COLUMNS) | columns_needed(fields)]
    # The model and winner columns repeat a few hundred strings over millions of rows: read as
    # dictionaries, they are decoded once per entry instead of once per row (about 3x faster).
    encoded = [name for name in REQUIRED_COLUMNS if name in wanted and pa.types.is_string(schema.field(name).type)]
    table = pq.read_table(source, columns=wanted, read_dictionary=encoded)
    try:
        return battles_from_columns({name: table[name] for name in wanted}, table.num_rows, fields=fields)
    except BadRow as exc:
        raise ValueError(f"row {exc.row + 1}: {exc.reason}") from None


def _read_json_list(data: bytes, fields: set[str]) -> Battles:
    try:
        records = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"line {exc.lineno}, column {exc.colno}: not JSON ({exc.msg})") from None
    if not isinstance(records, list):
        raise ValueError("a JSON battles file is a list of records or one record per line")
    try:
        return battles_from_records(records, fields=fields)
    except BadRow as exc:
        raise ValueError(f"record {exc.row + 1}: {exc.reason}") from None


def _read_json_lines(data: bytes | str | Path, fields: set[str]) -> Battles:
    nested = columns_needed(fields) - set(COLUMN_TYPES)
    flat = [name for name in (*REQUIRED_COLUMNS, *sorted(columns_needed(fields))) if name in COLUMN_TYPES]
    schema = pa.schema([(name, COLUMN_TYPES[name]) for name in dict.fromkeys(flat)])
    # Columns outside the schema are only parsed (and their types inferred) when a wanted field needs them.
    options = pa_json.ParseOptions(explicit_schema=schema,
                                   unexpected_field_behavior="infer" if nested else "ignore")
    source = pa.BufferReader(data) if isinstance(data, bytes) else str(data)
    try:
        table = pa_json.read_json(source, read_options=pa_json.ReadOptions(block_size=_JSON_BLOCK_BYTES),
                                  parse_options=options)
    except pa.ArrowInvalid:
        return _read_json_lines_by_row(data, fields)  # finds the bad line, or copes with mixed types
    columns = {name: table[name] for name in table.column_names if name in set(flat) | nested}
    try:
        return battles_from_columns(columns, table.num_rows, fields=fields)
    except BadRow as exc:
        raise ValueError(f"line {_line_of_record(data, exc.row)}: {exc.reason}") from None


def _lines(data: bytes | str | Path) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of each non-blank line."""
    stream = io.BytesIO(data) if isinstance(data, bytes) else open(data, "rb")  # noqa: SIM115 (closed below)
    with stream:
        for number, line in enumerate(stream, 1):
            if line.strip():
                yield number, line


def _line_of_record(data: bytes | str | Path, row: int) -> int:
    for index, (number, _line) in enumerate(_lines(data)):
        if index == row:
            return number
    raise AssertionError(f"no record {row}")


def _read_json_lines_by_row(data: bytes | str | Path, fields: set[str]) -> Battles:
    records, numbers = [], []
    for number, line in _lines(data):
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"line {number}: not JSON ({exc.msg} at column {exc.colno})") from None
        numbers.append(number)
    try:
        return battles_from_records(records, fields=fields)
    except BadRow as exc:
        raise ValueError(f"line {numbers[exc.row]}: {exc.reason}") from None


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a battles file as a dict, conversations and all (for loading them into the arena).
    Check the file with `read_battles` first: this trusts it."""
    data = Path(path).read_bytes()
    if data.startswith(_PARQUET_MAGIC):
        return pq.read_table(pa.BufferReader(data)).to_pylist()
    if data.lstrip()[:1] == b"[":
        return orjson.loads(data)
    return [orjson.loads(line) for _number, line in _lines(data)]


def file_format(path: str | Path) -> str:
    """The format a file name asks for: .parquet, .json (a JSON list), else JSON lines."""
    suffix = Path(path).suffix.lower()
    return {".parquet": "parquet", ".json": "json"}.get(suffix, "jsonl")


def write_battles(battles: Battles, target: str | Path | IO[str] | IO[bytes], *, fmt: str | None = None) -> None:
    """Write battles in the LMSYS format; `fmt` one of FORMATS (default: from the file name)."""
    table = table_from_battles(battles)
    fmt = fmt or (file_format(target) if isinstance(target, (str, Path)) else "jsonl")
    if fmt == "parquet":
        pq.write_table(table, target)
        return
    _write_json((row for batch in table.to_batches(_WRITE_BATCH) for row in batch.to_pylist()), target, fmt)


def write_records(records: Iterable[Mapping[str, Any]], target: str | Path, *, fmt: str | None = None) -> int:
    """Write LMSYS records (with conversations, as the arena exports them); returns how many."""
    fmt = fmt or file_format(target)
    if fmt == "parquet":
        records = list(records)
        pq.write_table(pa.Table.from_pylist(records), target)
        return len(records)
    return _write_json(records, target, fmt)


def _write_json(records: Iterable[Mapping[str, Any]], target: str | Path | IO[str] | IO[bytes], fmt: str) -> int:
    if fmt not in FORMATS:
        raise ValueError(f"unknown battles format {fmt!r}; choose from {', '.join(FORMATS)}")
    if isinstance(target, (str, Path)):
        with open(target, "wb") as stream:
            return _dump(records, stream, fmt)
    if isinstance(target, io.TextIOBase):
        buffer = io.BytesIO()
        count = _dump(records, buffer, fmt)
        target.write(buffer.getvalue().decode("utf-8"))
        return count
    return _dump(records, target, fmt)


def _dump(records: Iterable[Mapping[str, Any]], stream: IO[bytes], fmt: str) -> int:
    count = 0
    if fmt == "json":
        records = list(records)
        stream.write(orjson.dumps(records))
        return len(records)
    for record in records:
        stream.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
        count += 1
    return count

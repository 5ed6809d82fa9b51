"""Read a query's rows straight into numpy arrays with PostgreSQL's binary COPY.

For a million votes this is about a hundred times faster than fetching Python tuples: every
column is a fixed-width, non-null number, so each row of the COPY stream has the same length and
the whole stream is one numpy structured array (big-endian, as PostgreSQL sends it).
"""

from __future__ import annotations

import numpy as np
from django.db import connection
from django.db.models import QuerySet

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
# Bytes of each column type (int2, int4, int8, float8): the query must cast its columns to these.
WIDTH = {"i2": 2, "i4": 4, "i8": 8, "f8": 8}


def parse_binary_copy(data: bytes | bytearray | memoryview, columns: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    """Columns (name -> array) from a binary COPY stream whose rows are `columns`
    (name, "i2" | "i4" | "i8" | "f8"), none of them NULL. Raises ValueError on anything else."""
    data = memoryview(data)
    if bytes(data[:11]) != SIGNATURE:
        raise ValueError("not a PostgreSQL binary COPY stream")
    extension = int.from_bytes(data[15:19], "big")
    body = data[19 + extension:]
    if len(body) < 2 or bytes(body[-2:]) != b"\xff\xff":
        raise ValueError("the binary COPY stream has no trailer")
    body = body[:-2]
    fields = [("fields", ">i2")]
    for name, kind in columns:
        fields += [(f"{name}_length", ">i4"), (name, f">{kind}")]
    dtype = np.dtype(fields)
    if len(body) % dtype.itemsize:
        raise ValueError("the binary COPY rows are not the expected fixed width (a NULL or another type?)")
    rows = np.frombuffer(body, dtype=dtype)
    if len(rows) and ((rows["fields"] != len(columns)).any()
                      or any((rows[f"{name}_length"] != WIDTH[kind]).any() for name, kind in columns)):
        raise ValueError("the binary COPY rows do not have the expected columns")
    return {name: rows[name].astype(kind) for name, kind in columns}


def copy_arrays(queryset: QuerySet, columns: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    """Run a `values_list` queryset (its columns already cast to the given types) as a binary COPY."""
    sql, params = queryset.query.sql_with_params()
    buffer = bytearray()
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        with cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT BINARY)", params) as copy:
            for block in copy:
                buffer += block
    return parse_binary_copy(buffer, columns)

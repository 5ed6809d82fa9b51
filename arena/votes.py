"""Votes into the votes table: the typed columns the leaderboard recompute reads, and the INSERT
that numbers a vote among the votes on its prompt (for de-duplication) on its way in."""

import functools
from contextlib import nullcontext

from django.db import connection, transaction

from arena.models import Battle, Vote
from ratings.features import STYLE_COLUMNS, relative_difference

PROMPT_LOCK_SPACE = 7301  # first key of the advisory locks that number votes per prompt


def rating_columns(battle: Battle, features: dict, *, counts: bool) -> dict:
    """The typed Vote columns the leaderboard recompute reads, from the battle and its features.
    Call it inside the vote's transaction: a counted vote takes its number among the votes on its
    prompt (`prompt_nth`, for de-duplication) there. (`insert_vote` does both in one round trip.)"""
    prompt_hash = features.get("prompt_hash", "")
    return {"prompt_nth": next_prompt_occurrence(prompt_hash) if counts and prompt_hash else 1,
            **typed_columns(battle, features)}


def typed_columns(battle: Battle, features: dict) -> dict:
    """The typed Vote columns but `prompt_nth`."""
    meta = features.get("conv_metadata") or {}
    return {
        "endpoint_a_id": battle.endpoint_a_id,
        "endpoint_b_id": battle.endpoint_b_id,
        "arena_id": battle.arena_id,
        "turns": features.get("turn", 1),
        "prompt_tokens": features.get("prompt_tokens", 0),
        "is_code": bool(features.get("code")),
        "is_math": bool(features.get("math")),
        "language": features.get("language", ""),
        "prompt_hash": features.get("prompt_hash", ""),
        **{column: float(relative_difference(meta.get(key.format("a"), 0), meta.get(key.format("b"), 0)))
           for column, key in STYLE_COLUMNS.items()},
    }


def next_prompt_occurrence(prompt_hash: str) -> int:
    """1 + the counted votes already cast on this prompt (votes are never deleted, so that is the
    last number taken + 1). The advisory lock (held to the end of the
    transaction) makes concurrent votes on the same prompt take their numbers one after another."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [PROMPT_LOCK_SPACE, prompt_hash])
    last = (Vote.objects.filter(prompt_hash=prompt_hash, counts=True).order_by("-prompt_nth")
            .values_list("prompt_nth", flat=True).first())
    return (last or 0) + 1


def insert_vote(vote: Vote) -> None:
    """Insert an unsaved vote in one round trip; a counted one gets its `prompt_nth` on the way.

    The advisory lock of `next_prompt_occurrence` and an INSERT that reads the last number on the
    prompt go as two statements of one simple-protocol query (Django's psycopg cursors bind on the
    client). Outside an atomic block PostgreSQL runs them as one implicit transaction: the lock is
    held until the vote is committed, and the INSERT, a statement of its own, sees every vote
    committed before the lock was granted (READ COMMITTED takes a snapshot per statement). That is
    one round trip where BEGIN, lock, read, insert and COMMIT were five, and under load each round
    trip also waits its turn for the GIL. Raises IntegrityError when the battle has a vote already.
    """
    fields, insert = _vote_insert()
    values = [field.get_db_prep_save(field.pre_save(vote, add=True), connection) for field in fields]
    numbered = vote.counts and bool(vote.prompt_hash)
    if numbered:
        table = connection.ops.quote_name(Vote._meta.db_table)
        next_nth = f'COALESCE((SELECT MAX("prompt_nth") FROM {table} WHERE "prompt_hash" = %s AND "counts"), 0) + 1'
        sql = "SELECT pg_advisory_xact_lock(%s, hashtext(%s));\n" + insert.format(prompt_nth=next_nth)
        params = [PROMPT_LOCK_SPACE, vote.prompt_hash,
                  *(vote.prompt_hash if f.name == "prompt_nth" else v for f, v in zip(fields, values))]
    else:
        sql, params = insert.format(prompt_nth="%s"), values
    # Inside an atomic block (tests, management commands) a savepoint keeps a refused vote from
    # breaking the surrounding transaction.
    with transaction.atomic() if connection.in_atomic_block else nullcontext(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        if numbered:
            cursor.nextset()  # past the lock's result
        vote.id, vote.prompt_nth = cursor.fetchone()
    vote._state.adding, vote._state.db = False, connection.alias


@functools.cache
def _vote_insert() -> tuple[list, str]:
    fields = [f for f in Vote._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    values = ", ".join("{prompt_nth}" if f.name == "prompt_nth" else "%s" for f in fields)
    table = connection.ops.quote_name(Vote._meta.db_table)
    return fields, f'INSERT INTO {table} ({columns}) VALUES ({values}) RETURNING "id", "prompt_nth"'

"""Counted votes packed into column-store chunks in PostgreSQL, for the refits that need every vote.

Online Elo and style control need one row per vote. Reading a million rows costs about a second
whatever the wire format (the binary COPY spends it in the client's per-row loop, an array_agg in
the server's per-element work). Votes are never changed once cast, so the recompute packs them as
it goes: every CHUNK_VOTES counted votes in id order become one `VoteChunk` row holding a numpy
structured array. A refit then reads a few large blobs plus the short tail of votes not packed yet.

Correctness rests on two things:
- Packing takes a SHARE lock on the votes table for the moment it reads a chunk's votes, so no
  vote with an id in the range can still be uncommitted (inserts wait; a vote's id comes from the
  sequence when it is inserted). It first checks, without the lock, that a whole chunk of new
  votes exists: most recomputes find fewer and never hold votes back.
- A trigger (migration ratings/0004) deletes any chunk whose range a later insert, update or
  delete touches, and TRUNCATE deletes them all; the next recompute packs the range again.
Flagged votes are filtered by id when reading, so flagging or clearing a vote never needs a
repack; each packed vote also keeps a hash of its arena's slug, so the refit of one arena reads
the same chunks and keeps its own votes.
"""

from __future__ import annotations

import logging

import numpy as np
import psycopg
from django.db import connection, transaction
from django.db.models import BigIntegerField, Case, Func, IntegerField, Max, SmallIntegerField, Value, When
from django.db.models.functions import Cast

from arena.models import Vote
from ratings.battle_arrays import CHOICE_CODE
from ratings.features import STYLE_COLUMNS
from ratings.models import VoteChunk
from ratings.pgcopy import copy_arrays

log = logging.getLogger(__name__)

CHUNK_VOTES = 65536
LOCK_TIMEOUT = "200ms"  # never hold votes back for long: if the lock is not free, pack next time
LAYOUT = np.dtype([("id", "<i8"), ("a", "<i4"), ("b", "<i4"), ("outcome", "<i2"), ("client", "<i8"),
                   ("arena", "<i8"), ("weight", "<f8"), ("style", "<f8", (len(STYLE_COLUMNS),))])
COPY_COLUMNS = [("id", "i8"), ("a", "i4"), ("b", "i4"), ("outcome", "i2"), ("client", "i8"), ("arena", "i8"),
                ("weight", "f8")] + [(name, "f8") for name in STYLE_COLUMNS]


class ClientHash(Func):
    """PostgreSQL's 64-bit hash of a client id, kept with each packed vote."""

    function = "hashtextextended"
    template = "%(function)s(%(expressions)s, 0)"
    output_field = BigIntegerField()


class ArenaHash(ClientHash):
    """The same hash of a vote's arena slug ('' for none): a fixed-width column for the chunks,
    which stay valid however many arenas are added later."""

    template = "%(function)s(COALESCE(%(expressions)s, ''), 0)"


def arena_hash(slug: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT hashtextextended(%s, 0)", [slug])
        return int(cursor.fetchone()[0])


def _outcome():
    return Cast(Case(*(When(choice=choice, then=Value(int(code))) for choice, code in CHOICE_CODE.items())),
                SmallIntegerField())


def rated_votes():
    """Every vote that can enter a rating (counted when cast, both models known), flagged or not."""
    return Vote.objects.filter(counts=True, endpoint_a__isnull=False, endpoint_b__isnull=False)


def copy_votes(votes, *, first: int | None = None) -> np.ndarray:
    """The given votes (only the `first` ones by id, if given) as a LAYOUT array in id order,
    through one binary COPY."""
    fields = ["id", Cast("endpoint_a_id", IntegerField()), Cast("endpoint_b_id", IntegerField()), _outcome(),
              ClientHash("client_id"), ArenaHash("arena_id"), "weight", *STYLE_COLUMNS]
    rows = (votes.order_by("id") if first else votes.order_by()).values_list(*fields)
    data = copy_arrays(rows[:first] if first else rows, COPY_COLUMNS)
    rows = np.empty(len(data["id"]), dtype=LAYOUT)
    for name in ("id", "a", "b", "outcome", "client", "arena", "weight"):
        rows[name] = data[name]
    rows["style"] = np.stack([data[name] for name in STYLE_COLUMNS], axis=1) if len(rows) else 0.0
    return rows[np.argsort(rows["id"], kind="stable")]


def pack(*, limit: int | None = None) -> int:
    """Pack every complete chunk of counted votes not packed yet (at most `limit` chunks); returns
    how many were packed. Chunks after a gap (one a trigger deleted) are dropped and packed again."""
    chunks = list(VoteChunk.objects.exclude(layout=LAYOUT.str).values_list("pk", flat=True))
    if chunks:
        VoteChunk.objects.filter(pk__in=chunks).delete()  # packed by an older version of this code
    start = 0
    for lo, hi in VoteChunk.objects.order_by("lo").values_list("lo", "hi"):
        if lo != start:
            VoteChunk.objects.filter(lo__gte=lo).delete()
            break
        start = hi
    packed = 0
    while limit is None or packed < limit:
        # Without a lock first: most recomputes find less than a chunk's worth of new votes.
        enough = rated_votes().filter(id__gt=start).order_by("id").values_list("id", flat=True)[CHUNK_VOTES - 1:]
        if (Vote.objects.aggregate(last=Max("id"))["last"] or 0) - start < CHUNK_VOTES or not enough.exists():
            return packed
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                try:
                    with transaction.atomic():
                        cursor.execute("LOCK TABLE arena_vote IN SHARE MODE")
                except Exception as error:  # lock_timeout: votes are being written right now
                    log.info("vote chunks not packed this time (%s)", error)
                    return packed
            rows = copy_votes(rated_votes().filter(id__gt=start), first=CHUNK_VOTES)
            if len(rows) < CHUNK_VOTES:
                return packed
            hi = int(rows["id"][-1])
            VoteChunk.objects.create(lo=start, hi=hi, votes=len(rows), layout=LAYOUT.str, data=rows.tobytes())
        start, packed = hi, packed + 1
    return packed


def read(after_id: int = 0) -> tuple[np.ndarray, int]:
    """The packed votes with an id above `after_id` (flagged votes included) and the last id the
    chunks cover (at least after_id): the votes after that are not packed yet."""
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:  # binary results: the blobs arrive as they are stored
        cursor.execute("SELECT lo, hi, layout, data FROM ratings_votechunk WHERE hi > %s ORDER BY lo",
                       [after_id], binary=True)
        rows = cursor.fetchall()
    parts, covered = [], after_id
    for lo, hi, layout, data in rows:
        if layout != LAYOUT.str or lo > covered or (parts and lo != covered):
            break  # a gap (or an old layout): what follows comes from the votes table
        part = np.frombuffer(data, dtype=LAYOUT)
        parts.append(part[part["id"] > after_id] if lo < after_id else part)
        covered = hi
    return (np.concatenate(parts) if parts else np.empty(0, dtype=LAYOUT)), covered

"""Counted votes packed into column-store chunks (ratings/vote_chunks.py): a refit reads the same
arrays from the chunks as from the votes table, and any change to a packed vote drops its chunk."""

import numpy as np
import psycopg
import pytest
from django.db import connection

from arena.models import Vote
from ratings import vote_chunks
from ratings.models import FlaggedVote, VoteChunk
from ratings.queries import counted_votes, vote_arrays
from tests.ratings.helpers import ids_and_names

SMALL = 64


@pytest.fixture
def clients(imported):
    """Votes from five browsers, so that flagging one leaves the others."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE arena_vote SET client_id = 'client-' || (id % 5)::text")
    return imported


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(vote_chunks, "CHUNK_VOTES", SMALL)


def _assert_same(got: dict, want: dict):
    assert set(got) == set(want)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_packed_votes_read_as_the_votes_table_does(clients, small_chunks):
    ids, _ = ids_and_names()
    unpacked = vote_arrays(ids, style=True)
    counted = counted_votes().count()
    assert vote_chunks.pack() == counted // SMALL >= 3
    chunks = list(VoteChunk.objects.order_by("lo"))
    assert chunks[0].lo == 0 and all(c.lo == p.hi for p, c in zip(chunks, chunks[1:]))
    assert all(c.votes == SMALL for c in chunks)
    assert vote_chunks.pack() == 0  # nothing new to pack: the tail is shorter than a chunk
    _assert_same(vote_arrays(ids, style=True), unpacked)
    middle = int(unpacked["id"][SMALL + 10])  # continuing from inside a chunk
    later = vote_arrays(ids, after_id=middle)
    assert later["id"].tolist() == unpacked["id"][SMALL + 11:].tolist()
    assert later["outcome"].tolist() == unpacked["outcome"][SMALL + 11:].tolist()


def test_flagged_votes_are_left_out_of_the_chunks_too(clients, small_chunks):
    ids, _ = ids_and_names()
    vote_chunks.pack()
    FlaggedVote.objects.bulk_create(
        FlaggedVote(vote=vote, detector="one model", reason="test", evidence=20.0, actor_votes=60)
        for vote in Vote.objects.filter(client_id="client-2", counts=True))
    votes = vote_arrays(ids)
    want = list(Vote.objects.filter(counts=True).exclude(client_id="client-2").order_by("id")
                .values_list("id", flat=True))
    assert votes["id"].tolist() == want and len(want) < Vote.objects.filter(counts=True).count()
    FlaggedVote.objects.update(cleared=True)
    assert len(vote_arrays(ids)["id"]) == Vote.objects.filter(counts=True).count()


def test_a_changed_or_deleted_vote_drops_its_chunk_and_is_packed_again(clients, small_chunks):
    ids, _ = ids_and_names()
    vote_chunks.pack()
    first, second = VoteChunk.objects.order_by("lo")[:2]
    inside = Vote.objects.filter(counts=True, id__gt=second.lo, id__lte=second.hi).order_by("id").first()
    inside.choice = "b" if inside.choice != "b" else "a"
    inside.save(update_fields=["choice"])
    assert not VoteChunk.objects.filter(pk=second.pk).exists() and VoteChunk.objects.filter(pk=first.pk).exists()
    votes = vote_arrays(ids)  # the gap is read from the votes table
    assert votes["outcome"][votes["id"] == inside.id].tolist() == [0 if inside.choice == "a" else 1]
    Vote.objects.filter(counts=True, id__gt=first.lo, id__lte=first.hi).first().delete()
    assert not VoteChunk.objects.filter(pk=first.pk).exists()
    assert vote_chunks.pack() == counted_votes().count() // SMALL  # every chunk after the gap packed again
    _assert_same(vote_arrays(ids, style=True), _unpacked(ids))
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE arena_vote CASCADE")
    assert not VoteChunk.objects.exists()


def _unpacked(ids):
    VoteChunk.objects.all().delete()
    return vote_arrays(ids, style=True)


def test_packing_waits_for_no_vote_still_being_written(clients, small_chunks):
    """While another transaction is writing a vote, its id may be below the ones committed: packing
    must not seal a range over it. It gives up after a short lock timeout and packs next time."""
    settings = connection.settings_dict
    other = psycopg.connect(host=settings["HOST"], port=settings["PORT"], dbname=settings["NAME"],
                            user=settings["USER"], password=settings["PASSWORD"] or None)
    try:
        other.execute("LOCK TABLE arena_vote IN ROW EXCLUSIVE MODE")  # as an INSERT holds it till commit
        assert vote_chunks.pack() == 0 and not VoteChunk.objects.exists()
        other.rollback()
        assert vote_chunks.pack() > 0
    finally:
        other.close()


def test_a_vote_inserted_into_a_packed_range_drops_the_chunk(clients, small_chunks):
    vote_chunks.pack()
    chunk = VoteChunk.objects.order_by("lo").first()
    vote = Vote.objects.filter(id__gt=chunk.lo, id__lte=chunk.hi).first()
    battle, vote_id = vote.battle, vote.id
    vote.delete()
    assert not VoteChunk.objects.filter(pk=chunk.pk).exists()
    vote_chunks.pack()
    again = VoteChunk.objects.get(lo=chunk.lo)
    Vote.objects.create(id=vote_id, battle=battle, choice="tie", client_id="client-9", counts=True,
                        endpoint_a=battle.endpoint_a, endpoint_b=battle.endpoint_b)
    assert not VoteChunk.objects.filter(pk=again.pk).exists()


def test_a_recompute_with_less_than_a_chunk_of_new_votes_takes_no_lock(clients, small_chunks):
    vote_chunks.pack()
    statements = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        assert vote_chunks.pack() == 0
    assert statements and not any("LOCK TABLE" in sql for sql in statements)

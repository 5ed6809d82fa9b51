"""The typed columns a vote carries for the leaderboard recompute: filled when a vote is cast or
imported (and by the migration for older votes), read by one GROUP BY per recompute and by a
binary COPY — and equal to what the pure math computes from the same battles."""

import importlib

import numpy as np
import pytest
from django.db import connection

from arena.models import Vote
from ratings.battle_arrays import aggregate
from ratings.categories import category_mask
from ratings.matrices import battle_count_matrix, win_fraction_matrix
from ratings.pgcopy import SIGNATURE, parse_binary_copy
from ratings.queries import CATEGORY_FILTERS, category_pair_counts, counted_votes, dedup_cap, pair_counts, vote_arrays
from ratings.style import style_features
from tests.ratings.helpers import ids_and_names

COLUMNS = [("id", "i8"), ("a", "i4"), ("outcome", "i2"), ("x", "f8")]


def binary_copy(rows: list[tuple], header_extension: bytes = b"") -> bytes:
    out = bytearray(SIGNATURE + (0).to_bytes(4, "big") + len(header_extension).to_bytes(4, "big") + header_extension)
    for row in rows:
        out += (len(row)).to_bytes(2, "big")
        for value, (_, kind) in zip(row, COLUMNS, strict=True):
            data = np.array([value], dtype=f">{kind}").tobytes()
            out += len(data).to_bytes(4, "big", signed=True) + data
    return bytes(out + b"\xff\xff")


def test_binary_copy_rows_become_arrays():
    data = parse_binary_copy(binary_copy([(7, 3, 1, 0.25), (2**40, -1, 3, -1.5)], header_extension=b"xyz"), COLUMNS)
    assert data["id"].tolist() == [7, 2**40] and data["a"].tolist() == [3, -1]
    assert data["outcome"].tolist() == [1, 3] and data["x"].tolist() == [0.25, -1.5]
    assert len(parse_binary_copy(binary_copy([]), COLUMNS)["id"]) == 0


def test_a_null_or_a_wrong_stream_is_refused():
    good = binary_copy([(1, 2, 0, 0.5)])
    null_x = good[:-2 - 12] + (-1).to_bytes(4, "big", signed=True) + b"\xff\xff"
    with pytest.raises(ValueError):
        parse_binary_copy(null_x, COLUMNS)
    with pytest.raises(ValueError):
        parse_binary_copy(b"COPY" + good[4:], COLUMNS)
    with pytest.raises(ValueError):
        parse_binary_copy(good[:-2], COLUMNS)


def test_vote_arrays_hold_every_counted_vote_in_order(imported):
    ids, names = ids_and_names()
    votes = vote_arrays(ids, style=True)
    assert len(votes["id"]) == len(imported) and (np.diff(votes["id"]) > 0).all()
    assert [names[i] for i in votes["a"]] == [imported.models[i] for i in imported.model_a]
    assert [names[i] for i in votes["b"]] == [imported.models[i] for i in imported.model_b]
    assert votes["outcome"].tolist() == imported.outcome.tolist()
    relative = style_features(imported.fields["style_a"], imported.fields["style_b"], standardize=False)
    np.testing.assert_allclose(votes["style"][:, :4], relative, rtol=1e-12)
    assert (votes["style"][:, 4] == 0).all()  # the citation counts: no imported answer cites
    later = vote_arrays(ids, after_id=int(votes["id"][99]))
    assert later["id"].tolist() == votes["id"][100:].tolist() and "style" not in later


def test_every_category_counts_what_the_pure_rules_select(imported):
    ids, names = ids_and_names()
    tables = category_pair_counts(ids)
    assert set(tables) == set(CATEGORY_FILTERS)
    order = [names.index(m) for m in imported.models]
    for category, counts in tables.items():
        if category == "deduplicated":
            continue
        expected = aggregate(imported.select(category_mask(imported, category)))
        for matrix in (battle_count_matrix, win_fraction_matrix):
            want = np.full((len(names), len(names)), np.nan)
            want[np.ix_(order, order)] = matrix(expected)
            got = matrix(counts)
            np.testing.assert_array_equal(got[~np.isnan(want)], want[~np.isnan(want)], err_msg=category)
        assert counts.n.sum() == category_mask(imported, category).sum() > 0, category


def test_deduplication_keeps_the_earliest_votes_up_to_the_percentile_cap(imported):
    ids, _ = ids_and_names()
    hashes = list(counted_votes().order_by("id").values_list("prompt_hash", flat=True))
    per_prompt = np.unique(hashes, return_counts=True)[1]
    cap = dedup_cap(counted_votes())
    assert cap == max(1, int(np.percentile(per_prompt, 99.99)))
    assert cap < per_prompt.max()  # the repeated prompt is really cut
    seen: dict[str, int] = {}
    kept = []
    for h in hashes:
        seen[h] = seen.get(h, 0) + 1
        kept.append(seen[h] <= cap)
    assert category_pair_counts(ids)["deduplicated"].n.sum() == sum(kept)
    assert pair_counts(ids, CATEGORY_FILTERS["deduplicated"]).n.sum() == sum(kept)


def test_the_migration_fills_the_columns_of_older_votes(imported):
    vote = Vote.objects.filter(counts=True).order_by("id")[5]
    expected = Vote.objects.filter(pk=vote.pk).values(
        "endpoint_a_id", "endpoint_b_id", "turns", "prompt_tokens", "is_code", "is_math", "language", "prompt_hash",
        "style_tokens", "style_headers", "style_lists", "style_bold").get()
    nth = dict(Vote.objects.values_list("id", "prompt_nth"))
    # As a vote cast before the columns existed looks: only its JSON features.
    Vote.objects.update(endpoint_a=None, endpoint_b=None, turns=1, prompt_tokens=0, is_code=False, is_math=False,
                        language="", prompt_hash="", prompt_nth=1, style_tokens=0, style_headers=0, style_lists=0,
                        style_bold=0)
    migration = importlib.import_module("arena.migrations.0002_vote_rating_columns")
    with connection.cursor() as cursor:
        cursor.execute(migration.BACKFILL)
    refilled = Vote.objects.filter(pk=vote.pk).values(*expected).get()
    for key, value in expected.items():
        assert refilled[key] == pytest.approx(value, rel=1e-12) if isinstance(value, float) else refilled[key] == value
    assert dict(Vote.objects.values_list("id", "prompt_nth")) == nth

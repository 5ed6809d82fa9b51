"""The leaderboard recompute from a real PostgreSQL votes table: N synthetic anonymous votes over
50 models (inserted with SQL generate_series, with the typed columns record_vote fills), then each
part of `ratings.snapshots.recompute` timed: the one-scan GROUP BY of every category's pair counts
and their fits, reading every vote for online Elo and style control (a binary COPY of every row,
then the packed chunks of ratings/vote_chunks.py plus a COPY of the rest), and the whole
recompute: the first ever (which packs the chunks), a full one (Elo, style and compute per answer
from scratch, as every LEADERBOARD_STYLE_SECONDS) and the next one after new votes (Elo
continued, style carried over as it is between refits).

    .venv/bin/python bench/recompute_bench.py --votes 100k,1M
"""

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import django  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from arena.localservices import LocalPostgres, free_port, log  # noqa: E402
from ratings.leaderboard import leaderboard_table  # noqa: E402

STATE = Path(tempfile.mkdtemp(prefix="arena-recompute-"))
STATE.chmod(0o755)
PORT = free_port()
os.environ.update({"DATABASE_URL": f"postgres://arena@127.0.0.1:{PORT}/arena",
                   "DJANGO_SETTINGS_MODULE": "arena.settings", "REDIS_URL": "redis://127.0.0.1:1/0"})

FILL = """
INSERT INTO arena_battle (uuid, mode, arena_id, endpoint_a_id, endpoint_b_id, client_id, created_at, updated_at)
SELECT md5(i::text || 'b' || %(tag)s)::uuid, 'anony', 'text', e.lo + a, e.lo + b, 'bench',
       now() - (i || ' seconds')::interval, now()
FROM (SELECT i, (i::bigint * 7919) %% 50 AS a, ((i::bigint * 7919) %% 50 + 1 + (i::bigint * 104729) %% 49) %% 50 AS b
      FROM generate_series(1, %(n)s) AS i) s, (SELECT min(id) AS lo FROM arena_modelendpoint) e;
INSERT INTO arena_vote (battle_id, choice, client_id, counts, excluded_reason, features, created_at,
                        endpoint_a_id, endpoint_b_id, turns, prompt_tokens, is_code, is_math, language, prompt_hash,
                        prompt_nth, style_tokens, style_headers, style_lists, style_bold, style_citations, arena_id)
SELECT id, CASE WHEN random() < 0.1 THEN 'tie'
                WHEN random() < 1 / (1 + power(10, ((endpoint_b_id - endpoint_a_id) * 8.0) / 400)) THEN 'a'
                ELSE 'b' END,
       md5((id %% 100000)::text), true, '',  -- 100,000 browsers' 32-character client ids
       jsonb_build_object('turn', turns, 'language', language, 'prompt_tokens', prompt_tokens, 'code', is_code,
                          'math', is_math, 'prompt_hash', prompt_hash,
                          'conv_metadata', jsonb_build_object(
                             'sum_assistant_a_tokens', ta, 'sum_assistant_b_tokens', tb,
                             'header_count_a', ha, 'header_count_b', hb, 'list_count_a', la, 'list_count_b', lb,
                             'bold_count_a', ba, 'bold_count_b', bb)),
       created_at, endpoint_a_id, endpoint_b_id, turns, prompt_tokens, is_code, is_math, language, prompt_hash,
       row_number() OVER (PARTITION BY prompt_hash ORDER BY id),
       (ta - tb)::float / (ta + tb), (ha - hb)::float / greatest(ha + hb, 1), (la - lb)::float / greatest(la + lb, 1),
       (ba - bb)::float / greatest(ba + bb, 1), 0, 'text'
FROM (SELECT id, created_at, endpoint_a_id, endpoint_b_id, 1 + (id %% 5 = 0)::int AS turns,
             CASE WHEN id %% 4 = 0 THEN 'German' ELSE 'English' END AS language, (id %% 700) AS prompt_tokens,
             id %% 3 = 0 AS is_code, id %% 7 = 0 AS is_math, left(md5((id %% 20000)::text), 16) AS prompt_hash,
             100 + id %% 300 AS ta, 100 + id %% 250 AS tb, id %% 3 AS ha, id %% 2 AS hb, id %% 5 AS la, id %% 4 AS lb,
             id %% 2 AS ba, id %% 3 AS bb
      FROM arena_battle
      WHERE client_id = 'bench' AND NOT EXISTS (SELECT 1 FROM arena_vote v WHERE v.battle_id = arena_battle.id)) s
ORDER BY id;
"""
NEW_VOTES = 1000  # cast between the first and the next recompute


def parse_size(text: str) -> int:
    text = text.strip().lower()
    return int(float(text[:-1]) * {"k": 1e3, "m": 1e6}[text[-1]]) if text[-1] in "km" else int(text)


def timed(label: str, fn, results: list):
    t0 = time.perf_counter()
    value = fn()
    results.append((label, time.perf_counter() - t0))
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--votes", default="100k,1M")
    args = parser.parse_args()
    pg = LocalPostgres(STATE / "pg", PORT, STATE / "postgres.log")
    pg.start()
    try:
        django.setup()
        call_command("migrate", verbosity=0)
        from arena.models import Backend, ModelEndpoint, Vote  # noqa: PLC0415 (Django app loading: models import after django.setup())
        from ratings import snapshots  # noqa: PLC0415 (Django app loading: models import after django.setup())
        from ratings.models import LeaderboardSnapshot, VoteChunk  # noqa: PLC0415 (Django app loading: models import after django.setup())
        from ratings.queries import category_pair_counts, counted_votes, dedup_cap, pair_counts, vote_arrays  # noqa: PLC0415 (Django app loading: models import after django.setup())

        endpoints = [ModelEndpoint.objects.create(name=f"model-{i:02d}", backend=Backend.OPENAI, queue="q",
                                                  params={}) for i in range(50)]
        ids, names = [e.id for e in endpoints], [e.name for e in endpoints]
        table = []
        for size in [parse_size(s) for s in args.votes.split(",")]:
            log(f"inserting {size:,} battles and votes")
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE arena_vote, arena_battle CASCADE")
                cursor.execute(FILL, {"n": size, "tag": "first"})
                cursor.execute("VACUUM ANALYZE")  # as autovacuum leaves a table at rest
            assert Vote.objects.count() == size
            parts: list = []
            log(f"timing the recompute of {size:,} votes")
            counts = timed("GROUP BY pair counts (overall only)", lambda: pair_counts(ids), parts)
            timed("fit + sandwich CI (overall)", lambda: leaderboard_table(names, counts), parts)
            timed("dedup histogram (votes per prompt)", lambda: dedup_cap(counted_votes()), parts)
            by_category = timed("pair counts of all 8 categories (one scan)", lambda: category_pair_counts(ids), parts)
            timed("fits + sandwich CIs of all 8 categories",
                  lambda: [leaderboard_table(names, c) for c in by_category.values()], parts)
            VoteChunk.objects.all().delete()
            timed("every vote as arrays, none packed (binary COPY)", lambda: vote_arrays(ids, style=True), parts)
            LeaderboardSnapshot.objects.all().delete()
            timed("first recompute() ever: packs the chunks, then all", snapshots.recompute, parts)
            chunks = VoteChunk.objects.count()
            votes = timed(f"every vote as arrays ({chunks} chunks + COPY of the rest)",
                          lambda: vote_arrays(ids, style=True), parts)
            timed("online Elo from scratch over those arrays", lambda: snapshots.online_elo(
                votes["a"], votes["b"], votes["outcome"], len(ids)), parts)
            timed("style control fit + sandwich CI (from zero)", lambda: snapshots._style_rows(names, votes), parts)
            start = timed("plain BT strengths from those arrays", lambda: snapshots._plain_strengths(votes, len(ids)),
                          parts)
            timed("style control fit + sandwich CI (from plain BT)",
                  lambda: snapshots._style_rows(names, votes, start), parts)
            LeaderboardSnapshot.objects.all().delete()
            timed("full recompute(): Elo, style, all from scratch", snapshots.recompute, parts)
            with connection.cursor() as cursor:
                cursor.execute(FILL, {"n": NEW_VOTES, "tag": "next"})
            timed(f"next recompute() after {NEW_VOTES:,} new votes", snapshots.recompute, parts)
            for label, seconds in parts:
                table.append((f"{size:,}", label, seconds))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\n{'votes':>10}  {'part':<50} {'seconds':>8}")
        print("-" * 72)
        for size, label, seconds in table:
            print(f"{size:>10}  {label:<50} {seconds:>8.2f}")
        print(f"\npeak memory of this process: {peak:.0f} MB; PostgreSQL on the same 2-core machine")
    finally:
        pg.stop()


if __name__ == "__main__":
    main()

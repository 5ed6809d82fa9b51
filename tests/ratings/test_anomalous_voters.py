"""An attacker who changes cookie for every vote is pooled by its address and flagged; its votes
stay in the data, stop counting, show their reason in the admin, and count again once cleared."""

import json

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client

from arena.models import Vote
from ratings.anomalous_voters import detect_anomalous_voters
from ratings.models import FlaggedVote
from ratings.presenters import leaderboard_json
from ratings.snapshots import recompute
from tests.ratings.helpers import synthetic_records

RIGGED = 40


@pytest.fixture
def rigged(arena_db, tmp_path):
    honest = tmp_path / "honest.jsonl"
    honest.write_text("\n".join(json.dumps(r) for r in synthetic_records(600)))
    call_command("import_battles", str(honest))
    with connection.cursor() as cursor:  # 50 honest people, each with a browser and an address
        cursor.execute("UPDATE arena_vote SET client_id = 'honest-' || (id % 50)::text, "
                       "address_key = 'address-' || (id % 50)::text, created_at = now()")
    # The attacker tells m-new's answers apart and votes for it, from a fresh cookie every time.
    opponents = ["m-strong", "m-mid", "m-weak"]
    votes = [{"model_a": "m-new", "model_b": opponents[i % 3], "winner": "model_a", "anony": True} if i % 2 else
             {"model_a": opponents[i % 3], "model_b": "m-new", "winner": "model_b", "anony": True}
             for i in range(RIGGED)]
    rigging = tmp_path / "rigging.jsonl"
    rigging.write_text("\n".join(json.dumps(v) for v in votes))
    call_command("import_battles", str(rigging))
    with connection.cursor() as cursor:
        cursor.execute("UPDATE arena_vote SET client_id = 'fresh-' || id::text, address_key = 'attacker', "
                       "created_at = now() WHERE client_id = 'import'")


def test_an_attacker_rotating_cookies_is_flagged_and_excluded(rigged):
    flagged = detect_anomalous_voters()
    attacker = set(Vote.objects.filter(address_key="attacker").values_list("id", flat=True))
    assert {f.vote_id for f in flagged} == attacker and len(attacker) == RIGGED
    assert {f.detector for f in flagged} == {"one model"}
    assert all("picked m-new" in f.reason and f.actor_votes == RIGGED for f in flagged)
    assert Vote.objects.count() == 600 + RIGGED  # kept in the data

    recompute()
    board = leaderboard_json()
    assert board["total_votes"] == 600
    assert board["excluded"]["Flagged as rigging (one model): improbable given the ratings."] == RIGGED
    assert detect_anomalous_voters() == []  # flagged once


def test_cleared_votes_count_again_and_are_not_flagged_again(rigged):
    detect_anomalous_voters()
    FlaggedVote.objects.update(cleared=True)
    assert detect_anomalous_voters() == []
    recompute()
    assert leaderboard_json()["total_votes"] == 600 + RIGGED


def test_the_admin_shows_each_flagged_vote_with_its_reason(rigged):
    detect_anomalous_voters()
    User.objects.filter(username="staff").delete()
    staff = Client()
    staff.force_login(User.objects.create_superuser("staff", "staff@example.org", "pw-staff-123"))
    try:
        flags = staff.get("/admin/ratings/flaggedvote/")
        assert flags.status_code == 200 and flags.content.decode().count("picked m-new") == RIGGED
        vote = Vote.objects.filter(address_key="attacker").first()
        page = staff.get(f"/admin/arena/vote/{vote.pk}/change/")
        assert page.status_code == 200 and "picked m-new" in page.content.decode()
        votes = staff.get("/admin/arena/vote/?flag__detector=one+model")
        assert votes.status_code == 200 and f"{RIGGED} votes" in votes.content.decode()
    finally:
        User.objects.filter(username="staff").delete()

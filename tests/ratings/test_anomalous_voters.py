"""A client voting against the ratings is flagged; their votes stay in the data but stop counting."""

import json

from django.core.management import call_command

from arena.models import Vote
from ratings.anomalous_voters import detect_anomalous_voters
from ratings.models import FlaggedClient
from ratings.presenters import leaderboard_json
from ratings.snapshots import recompute
from tests.ratings.helpers import synthetic_records


def test_a_contrarian_client_is_flagged_and_excluded(arena_db, tmp_path):
    honest = tmp_path / "honest.jsonl"
    honest.write_text("\n".join(json.dumps(r) for r in synthetic_records(600)))
    call_command("import_battles", str(honest))
    Vote.objects.update(client_id="honest-crowd")
    contrarian = [{"model_a": "m-strong", "model_b": "m-weak", "winner": "model_b", "anony": True}] * 30
    trolling = tmp_path / "troll.jsonl"
    trolling.write_text("\n".join(json.dumps(r) for r in contrarian))
    call_command("import_battles", str(trolling))
    Vote.objects.filter(client_id="import").update(client_id="troll")

    flagged = detect_anomalous_voters()
    assert [f.client_id for f in flagged] == ["troll"]
    assert FlaggedClient.objects.get().z_score < -3
    assert Vote.objects.filter(client_id="troll").count() == 30  # kept in the data

    recompute()
    board = leaderboard_json()
    assert board["total_votes"] == 600
    assert board["excluded"]["Votes from clients flagged as anomalous (improbable given the ratings)."] == 30
    assert detect_anomalous_voters() == []  # flagged once

    FlaggedClient.objects.update(cleared=True)
    recompute()
    assert leaderboard_json()["total_votes"] == 630

"""The leaderboard from the arena's own votes: aggregated in PostgreSQL, equal to the pure math on
the same battles, recomputed in the background shortly after a vote, served as JSON, CSV and a page."""

import json

import pytest
from django.core.management import CommandError, call_command

from arena.models import Vote
from ratings.battle_files import read_battles, read_records
from ratings.leaderboard import compute_leaderboard
from ratings.presenters import leaderboard_json
from ratings.snapshots import recompute
from tests.conftest import wait_until
from tests.ratings.helpers import synthetic_records


@pytest.fixture
def battles_file(tmp_path):
    path = tmp_path / "battles.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in synthetic_records(400)))
    return path


def test_database_aggregation_matches_the_pure_fit(arena_db, battles_file):
    call_command("import_battles", str(battles_file))
    recompute()
    board = leaderboard_json()
    expected = {r["model"]: r for r in compute_leaderboard(read_battles(battles_file))}
    assert board["total_votes"] == 400
    assert [r["model"] for r in board["rows"]] == sorted(expected, key=lambda m: -expected[m]["rating"])
    for row in board["rows"]:
        want = expected[row["model"]]
        for key in ("rating", "ci_lower", "ci_upper"):
            assert row[key] == pytest.approx(want[key], rel=1e-6)
        assert row["votes"] == want["votes"] and row["rank_ub"] == want["rank_ub"]
        assert row["elo"] == pytest.approx(want["elo"], rel=1e-9)
        assert "style_rating" in row
    assert board["rows"][0]["model"] == "m-strong" and board["rows"][-1]["model"] == "m-weak"
    multi = leaderboard_json(category="multi_turn")
    assert multi["total_votes"] == 80  # every fifth battle has two turns


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_export_then_the_command_gives_the_same_leaderboard(arena_db, battles_file, tmp_path, capsys, suffix):
    call_command("import_battles", str(battles_file))
    out = tmp_path / f"export.{suffix}"
    call_command("export_battles", str(out))
    exported = read_records(out)
    assert len(exported) == 400 and {"model_a", "model_b", "winner", "conversation_a", "turn"} <= exported[0].keys()
    assert exported[0]["conversation_a"][0]["role"] == "user"  # conversations stay lists of turns, in Parquet too
    capsys.readouterr()
    call_command("leaderboard", "--battles", str(out), "--format", "json")
    from_export = {r["model"]: r["rating"] for r in json.loads(capsys.readouterr().out)}
    original = {r["model"]: r["rating"] for r in compute_leaderboard(read_battles(battles_file))}
    assert from_export == pytest.approx(original, rel=1e-9)


def test_import_names_the_first_bad_line_and_loads_nothing(arena_db, tmp_path):
    path = tmp_path / "battles.jsonl"
    good = json.dumps({"model_a": "a", "model_b": "b", "winner": "model_a"})
    path.write_text("\n".join([good, good, json.dumps({"model_a": "a", "model_b": "b", "winner": "draw"}), good]))
    with pytest.raises(CommandError, match="line 3: unknown winner 'draw'"):
        call_command("import_battles", str(path))
    assert not Vote.objects.exists()


def test_a_new_vote_reaches_the_leaderboard_within_a_minute(api, endpoints):
    battle_id = api.start("Hello there")
    api.wait_finished(battle_id)
    vote = api.post(f"/api/battles/{battle_id}/vote", {"choice": "a"}).json()["vote"]
    assert vote["counts"] is True, vote
    board = wait_until(lambda: (b := api.get("/api/leaderboard").json())["total_votes"] == 1 and b,
                       timeout=60, what="the leaderboard to count the vote")
    assert board["rows"] == []  # one vote rates nobody (tests/ratings/test_leaderboard_small_arena.py)
    assert {r["model"] for r in board["unrated"]} == {"alpha-model", "beta-model"}
    csv = api.get("/api/leaderboard?format=csv")
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.startswith("rank_ub,model,rating")
    page = api.get("/leaderboard/")
    assert page.status_code == 200 and "alpha-model" in page.text and "not enough data" in page.text
    assert api.get("/static/vendor/plotly/plotly.min.js").status_code == 200
    bad = api.get("/api/leaderboard?category=astrology")
    assert bad.status_code == 422 and "Unknown category" in bad.json()["detail"]

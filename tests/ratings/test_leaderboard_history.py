"""The leaderboard's history through the HTTP API: every published table is kept, ?at= serves the
one in force at a date, ?since= says how far each model moved, bad dates get a sentence, and models
staff retired are hidden unless asked for."""

import csv
import io

import httpx
import pytest

from arena.models import Arena, ModelEndpoint
from ratings import snapshots
from ratings.history import rank_changes
from ratings.models import LeaderboardSnapshot
from ratings.snapshots import FULL_SNAPSHOTS, HEAVY_KEYS, latest, recompute
from tests.ratings.helpers import import_votes, publish_history, votes_by_strength


@pytest.fixture
def http(web, arena_db):
    with httpx.Client(base_url=web, timeout=30) as client:
        yield client


@pytest.fixture
def history(arena_db, tmp_path):
    return publish_history(tmp_path)


def test_it_serves_the_table_in_force_at_a_date(http, history):
    def board(**params):
        response = http.get("/api/leaderboard", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    assert board(at="2026-03-01")["total_votes"] == history["2026-03-01"]  # a date is the end of that day
    assert board(at="2026-03-31")["total_votes"] == history["2026-03-01"]
    assert board(at="2026-04-01T11:59:59Z")["total_votes"] == history["2026-03-01"]
    assert board(at="2026-04-01T12:00:00Z")["total_votes"] == history["2026-04-01"]
    assert board()["total_votes"] == history["today"]
    assert board(at="2026-03-01")["rows"][0]["model"] == "gamma"
    assert board()["rows"][0]["model"] == "alpha"
    assert board(at="2026-03-01")["computed_at"].startswith("2026-03-01T12:00")


def test_history_has_one_point_per_day_for_every_model(http, history):
    response = http.get("/api/leaderboard/history")
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["days"][:2] == ["2026-03-01", "2026-04-01"] and len(data["days"]) == 3
    for model in ("alpha", "beta", "gamma"):
        points = data["models"][model]
        assert [p["day"] for p in points] == data["days"]
        assert all(p["ci_lower"] < p["rating"] < p["ci_upper"] for p in points)
    alpha = [p["rating"] for p in data["models"]["alpha"]]
    assert alpha[0] < alpha[1] < alpha[2]  # it grew stronger day by day
    until = http.get("/api/leaderboard/history", params={"until": "2026-04-30"}).json()
    assert until["days"] == ["2026-03-01", "2026-04-01"]


def test_rank_change_since_a_date_is_the_difference_of_the_two_tables(http, history):
    now = http.get("/api/leaderboard", params={"since": "2026-03-01"}).json()
    then = {r["model"]: r["rank_ub"] for r in http.get("/api/leaderboard", params={"at": "2026-03-01"}).json()["rows"]}
    assert now["since"]["computed_at"].startswith("2026-03-01")
    for row in now["rows"]:
        assert row["rank_change"] == then[row["model"]] - row["rank_ub"]
    changes = {r["model"]: r["rank_change"] for r in now["rows"]}
    assert changes["alpha"] > 0 and changes["gamma"] < 0


def test_rank_changes_count_places_gained_and_new_models():
    now = [{"model": "a", "rank_ub": 1}, {"model": "b", "rank_ub": 2}, {"model": "c", "rank_ub": 2}]
    then = [{"model": "a", "rank_ub": 3}, {"model": "b", "rank_ub": 1}]
    assert rank_changes(now, then) == {"a": 2, "b": -1, "c": None}


@pytest.mark.parametrize(("value", "sentence"), [
    ("yesterday", "is not a date"),
    ("2026-02-30", "is not a real date"),
    ("2026-13-01T00:00:00", "is not a real date"),
    ("1999-12-31", "before the year 2000"),
    ("2999-01-01", "is in the future"),
])
def test_it_refuses_a_bad_date_with_a_sentence(http, value, sentence):
    for path, name in [("/api/leaderboard", "at"), ("/api/leaderboard", "since"),
                       ("/api/leaderboard/history", "until")]:
        response = http.get(path, params={name: value})
        assert response.status_code == 422, (path, name, response.text)
        assert sentence in response.json()["detail"] and response.json()["detail"].startswith(f"{name}: ")


def test_a_date_before_the_first_table_is_not_found(http, history):
    response = http.get("/api/leaderboard", params={"at": "2026-02-01"})
    assert response.status_code == 404
    assert response.json()["detail"] == "No leaderboard of this arena and category had been published by 2026-02-01."


def test_an_unchanged_table_publishes_nothing_new_and_old_tables_lose_only_their_matrices(arena_db, tmp_path):
    import_votes(tmp_path / "votes.jsonl", votes_by_strength({"a": 1.0, "b": 0.0, "c": -1.0}, 40))
    recompute()
    # At least this table; a recompute the session's worker runs for an earlier test's vote may
    # have published one more from part of the import.
    published = LeaderboardSnapshot.objects.filter(category="overall").count()
    in_force = LeaderboardSnapshot.objects.filter(category="overall").latest("computed_at")
    recompute()  # no new vote: the table in force stays, with its publication time
    assert LeaderboardSnapshot.objects.filter(category="overall").count() == published >= 1
    assert LeaderboardSnapshot.objects.filter(category="overall").latest("computed_at").pk == in_force.pk
    for i in range(FULL_SNAPSHOTS + 1):
        import_votes(tmp_path / f"more-{i}.jsonl", votes_by_strength({"a": 1.0, "b": 0.0, "c": -1.0}, 3, seed=i))
        recompute()
    snapshots = list(LeaderboardSnapshot.objects.filter(category="overall").order_by("-computed_at"))
    # Every published table is kept: the one in force after the first import and one per import since
    # (the session's worker recomputes in the background too, and may have published a table of its
    # own before or during the first import, from no votes or part of them: older than these).
    since_first = [s for s in snapshots if s.computed_at >= in_force.computed_at]
    assert len(since_first) >= FULL_SNAPSHOTS + 2
    assert all(len(s.data["rows"]) == 3 for s in since_first)  # an old table keeps the rows history needs
    assert all("battle_counts" in s.data and "elo_state" in s.data for s in snapshots[:FULL_SNAPSHOTS])
    for old in snapshots[FULL_SNAPSHOTS:]:
        assert not set(HEAVY_KEYS) & set(old.data)


def test_retired_models_are_hidden_unless_asked_for(http, history):
    ModelEndpoint.objects.filter(name="gamma").update(retired=True)
    board = http.get("/api/leaderboard").json()
    assert [r["model"] for r in board["rows"]] == ["alpha", "beta"] and board["hidden_deprecated"] == 1
    assert "gamma" not in board["models"]
    shown = http.get("/api/leaderboard", params={"show_deprecated": "true"}).json()
    gamma = next(r for r in shown["rows"] if r["model"] == "gamma")
    assert gamma["deprecated"] is True and shown["hidden_deprecated"] == 0
    assert http.get("/api/leaderboard/history").json()["models"]["gamma"]  # its history is kept
    page = http.get("/leaderboard/")
    assert "1 deprecated model hidden" in page.text


def test_the_csv_follows_every_setting(http, history):
    ModelEndpoint.objects.filter(name="beta").update(retired=True)
    settings = {"format": "csv", "style_control": "true", "min_votes": "0", "at": "2026-04-01", "since": "2026-03-01"}
    rows = list(csv.DictReader(io.StringIO(http.get("/api/leaderboard", params=settings).text)))
    board = http.get("/api/leaderboard", params={k: v for k, v in settings.items() if k != "format"}).json()
    assert [r["model"] for r in rows] == [r["model"] for r in board["rows"]]
    assert {r["model"] for r in rows} == {"alpha", "gamma"}  # beta is retired, so hidden
    style = [float(r["style_rating"]) for r in rows]
    assert style == sorted(style, reverse=True)  # ordered by the style-controlled rating
    assert [int(r["votes"]) for r in rows] == [r["votes"] for r in board["rows"]]
    assert board["total_votes"] == history["2026-04-01"]  # the table of that date, not today's
    assert rows[0]["rank_change"] == str(board["rows"][0]["rank_change"])
    everything = list(csv.DictReader(io.StringIO(http.get("/api/leaderboard", params={
        **settings, "show_deprecated": "1", "min_votes": "100000"}).text)))
    assert everything == []  # min_votes applies: every model is "not enough data"


def test_each_arena_keeps_its_own_history(http, arena_db, tmp_path):
    Arena.objects.create(slug="search", title="Search", position=1)
    publish_history(tmp_path)
    text = http.get("/api/leaderboard/history").json()
    search = http.get("/api/leaderboard/history", params={"arena": "search"}).json()
    assert set(text["models"]) == {"alpha", "beta", "gamma"} and search["models"] == {}
    assert http.get("/api/leaderboard", params={"arena": "search", "at": "2026-03-01"}).json()["rows"] == []
    assert http.get("/api/leaderboard/history", params={"arena": "astrology"}).status_code == 422


def test_the_page_says_what_is_wrong_with_a_bad_date_and_still_shows_the_table(http, history):
    page = http.get("/leaderboard/", params={"at": "yesterday", "min_votes": "0"})
    assert page.status_code == 400
    assert "at: &#x27;yesterday&#x27; is not a date" in page.text and 'id="leaderboard-table"' in page.text
    past = http.get("/leaderboard/", params={"at": "2026-03-01"})
    assert past.status_code == 200 and "As it stood at 1 March 2026, 23:59 UTC" in past.text


def test_a_recompute_that_read_before_another_began_never_publishes_over_it(arena_db, tmp_path, monkeypatch):
    """A slow recompute reads the votes (none yet); meanwhile 40 votes arrive and a second recompute
    publishes them. The slow one finishes last, and the table in force stays the second one's (CI
    caught the slow one's empty table in force: the test session's worker recomputes on its own)."""
    real = snapshots.exclusion_counts

    def meanwhile():  # runs after the slow recompute has read the votes, before it publishes
        monkeypatch.setattr(snapshots, "exclusion_counts", real)
        import_votes(tmp_path / "votes.jsonl", votes_by_strength({"alpha": 1.0, "beta": 0.0}, 40))
        recompute()
        return real()

    monkeypatch.setattr(snapshots, "exclusion_counts", meanwhile)
    recompute()
    assert latest("overall", arena="text").total_votes == 40

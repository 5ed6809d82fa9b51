"""Arenas: anonymous battles pair models within the arena the voter chose, and each arena has a
leaderboard of its own (through the HTTP API, on the real stack)."""

from collections import Counter

from django.core.management import call_command

from arena.models import Arena, Battle, ModelEndpoint, Vote
from ratings.snapshots import recompute
from tests.conftest import tiny_endpoint


def _two_arenas(tiny_model_dir):
    Arena.objects.get_or_create(slug="search", defaults={"title": "Search", "position": 1})
    text = [tiny_endpoint(name, tiny_model_dir, seed=i) for i, name in enumerate(["plain-1", "plain-2"])]
    search = [tiny_endpoint(name, tiny_model_dir, seed=i + 2) for i, name in enumerate(["finder-1", "finder-2"])]
    ModelEndpoint.objects.filter(name__startswith="finder").update(arenas=["search"])
    return {e.name for e in text}, {e.name for e in search}


def _pair(battle_id) -> tuple[str, str, str | None]:
    battle = Battle.objects.select_related("endpoint_a", "endpoint_b").get(uuid=battle_id)
    return battle.endpoint_a.name, battle.endpoint_b.name, battle.arena_id


def test_anonymous_battles_pair_models_of_the_chosen_arena_only(api, arena_db, tiny_model_dir):
    text, search = _two_arenas(tiny_model_dir)
    seen = Counter()
    for arena, members in (("search", search), ("text", text), (None, text)):
        for _ in range(6):
            body = {"prompt": "Hello", "mode": "anony", **({"arena": arena} if arena else {})}
            response = api.post("/api/battles", body)
            assert response.status_code == 201, response.text
            a, b, drawn_in = _pair(response.json()["id"])
            assert {a, b} == members and drawn_in == (arena or "text")
            assert api.battle(response.json()["id"])["arena"] == drawn_in
            seen[drawn_in] += 1
    assert seen == {"search": 6, "text": 12}
    # Named modes list and take every model, whatever its arenas, and are drawn in none.
    assert {m["name"] for m in api.get("/api/models").json()} == text | search
    named = api.start("Hello", mode="named", models=["plain-1", "finder-1"])
    assert _pair(named) == ("plain-1", "finder-1", None)


def test_it_refuses_an_unknown_arena_and_one_without_two_live_models(api, arena_db, tiny_model_dir):
    _two_arenas(tiny_model_dir)
    Arena.objects.get_or_create(slug="lonely", defaults={"title": "Lonely"})
    tiny_endpoint("alone", tiny_model_dir)
    ModelEndpoint.objects.filter(name="alone").update(arenas=["lonely"])
    unknown = api.post("/api/battles", {"prompt": "Hi", "arena": "astrology"})
    assert unknown.status_code == 422 and unknown.json()["detail"].startswith("Unknown arena 'astrology'")
    assert "search" in unknown.json()["detail"] and "text" in unknown.json()["detail"]
    lonely = api.post("/api/battles", {"prompt": "Hi", "arena": "lonely"})
    assert lonely.status_code == 503 and "Fewer than two models of the Lonely arena" in lonely.json()["detail"]
    named = api.post("/api/battles", {"prompt": "Hi", "mode": "named", "models": ["plain-1", "plain-2"],
                                      "arena": "search"})
    assert named.status_code == 422 and "Only anonymous battles are drawn in an arena" in named.json()["detail"]
    assert Battle.objects.count() == 0
    arenas = {a["slug"]: a for a in api.get("/api/arenas").json()}
    assert arenas["text"]["ready"] and arenas["search"]["ready"] and not arenas["lonely"]["ready"]
    assert arenas["search"]["live_models"] == 2 and arenas["lonely"]["live_models"] == 1
    page = api.get("/?arena=lonely")
    assert page.status_code == 200 and "Fewer than two models are available" in page.text


def test_each_arena_has_its_own_leaderboard(api, arena_db, tiny_model_dir):
    text, search = _two_arenas(tiny_model_dir)
    # every model wins once and loses once at least, so that each arena has a rating for both
    winners = {"search": ["finder-1", "finder-1", "finder-2"], "text": ["plain-1", "plain-2", "plain-2", "plain-1"]}
    for arena, names in winners.items():
        for i, winner in enumerate(names):
            response = api.post("/api/battles", {"prompt": f"Question {i} in {arena}", "arena": arena})
            battle_id = response.json()["id"]
            api.wait_finished(battle_id)
            choice = "a" if _pair(battle_id)[0] == winner else "b"
            assert api.post(f"/api/battles/{battle_id}/vote", {"choice": choice}).status_code == 200
    assert sorted(Vote.objects.values_list("arena_id", flat=True)) == ["search"] * 3 + ["text"] * 4
    recompute()

    board = api.get("/api/leaderboard?arena=search&min_votes=0").json()  # a handful of votes: no minimum
    assert board["arena"] == "search" and board["total_votes"] == 3
    assert {r["model"] for r in board["rows"]} == search
    default = api.get("/api/leaderboard?min_votes=0").json()
    assert default["arena"] == "text" and default["total_votes"] == 4 and {r["model"] for r in default["rows"]} == text
    csv = api.get("/api/leaderboard?arena=search&format=csv&min_votes=0")
    assert "finder-1" in csv.text and "plain-1" not in csv.text
    assert 'filename="leaderboard-search-overall.csv"' in csv.headers["content-disposition"]
    bad = api.get("/api/leaderboard?arena=astrology")
    assert bad.status_code == 422 and "Unknown arena" in bad.json()["detail"]

    page = api.get("/leaderboard/?arena=search").text
    assert "finder-1" in page and "plain-1" not in page
    assert 'href="?arena=search&amp;category=overall" aria-current="page"' in page
    assert 'href="?arena=text&amp;category=overall"' in page


def test_add_endpoint_puts_a_model_into_arenas(arena_db, tiny_model_dir, capsys):
    call_command("add_endpoint", "--name", "cli-model", "--backend", "transformers", "--queue", "tiny",
                 "--param", f"model={tiny_model_dir}", "--arena", "search", "--arena", "text")
    assert ModelEndpoint.objects.get(name="cli-model").arenas == ["search", "text"]
    call_command("add_endpoint", "--name", "cli-model-2", "--backend", "transformers", "--queue", "tiny",
                 "--param", f"model={tiny_model_dir}", "--arena", "vision-beta")
    assert "added arena vision-beta" in capsys.readouterr().out
    assert Arena.objects.get(slug="vision-beta").title == "Vision beta"
    call_command("add_endpoint", "--name", "cli-model-3", "--backend", "transformers", "--queue", "tiny",
                 "--param", f"model={tiny_model_dir}")
    assert ModelEndpoint.objects.get(name="cli-model-3").arenas == ["text"]


def test_the_demo_has_at_least_two_contestants_in_every_arena(arena_db):
    call_command("load_demo")
    call_command("load_demo")  # idempotent
    for arena in Arena.objects.all():
        members = set(ModelEndpoint.objects.enabled().in_arena(arena.slug).values_list("name", flat=True))
        assert len(members) >= 2, (arena.slug, members)
    assert set(ModelEndpoint.objects.in_arena("search").values_list("name", flat=True)) == {
        "smollm2-docs", "smollm2-docs-top1"}
    assert "smollm2-best-of-4" in set(ModelEndpoint.objects.in_arena("text").values_list("name", flat=True))

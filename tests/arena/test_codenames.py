"""A lab may enter a model under a codename (as "gpt2-chatbot" was): anonymous battles only, the
codename shown on reveal, until staff publish the real name, which history then shows."""

from arena.models import Backend, Battle, ModelEndpoint
from ratings.snapshots import recompute
from tests.conftest import TINY_QUEUE, tiny_endpoint


def test_a_codenamed_model_is_revealed_by_codename_until_published(api, arena_db, tiny_model_dir):
    tiny_endpoint("public-model", tiny_model_dir)
    secret = tiny_endpoint("acme-ultra-2", tiny_model_dir)
    ModelEndpoint.objects.filter(pk=secret.pk).update(codename="im-a-good-chatbot", name_published=False,
                                                      anonymous_only=True, organisation="Acme")

    assert [m["name"] for m in api.get("/api/models").json()] == ["public-model"]
    refused = api.post("/api/battles", {"prompt": "hi", "mode": "direct", "models": ["acme-ultra-2"]})
    assert refused.status_code == 422
    refused = api.post("/api/battles", {"prompt": "hi", "mode": "direct", "models": ["im-a-good-chatbot"]})
    assert refused.status_code == 422

    battle_id = api.start("hi")
    api.wait_finished(battle_id)
    revealed = api.post(f"/api/battles/{battle_id}/vote", {"choice": "tie"}).json()
    assert set(revealed["models"].values()) == {"public-model", "im-a-good-chatbot"}
    assert "Acme" not in str(revealed) and "acme-ultra-2" not in str(revealed)

    ModelEndpoint.objects.filter(pk=secret.pk).update(name_published=True)
    assert set(api.battle(battle_id)["models"].values()) == {"public-model", "acme-ultra-2"}


def test_the_leaderboard_does_not_say_what_kind_of_model_a_codename_is(api, arena_db, tiny_model_dir):
    base = tiny_endpoint("public-model", tiny_model_dir)
    ModelEndpoint.objects.create(
        name="acme-search", organisation="Acme", license="Acme licence", backend=Backend.SEARCH, queue=TINY_QUEUE,
        codename="im-a-good-chatbot", name_published=False, anonymous_only=True,
        params={"base": base.name, "strategy": "best_of_n", "n": 2, "max_new_tokens": 16, "temperature": 0.7})
    winners = []
    for _ in range(2):  # each model wins once, so that both are rated
        battle_id = api.start("hi")
        api.wait_finished(battle_id)
        first = Battle.objects.select_related("endpoint_a").get(uuid=battle_id).endpoint_a.public_name
        side = "b" if winners and first == winners[0] else "a"
        voted = api.post(f"/api/battles/{battle_id}/vote", {"choice": side}).json()
        assert voted["vote"]["counts"] is True
        winners.append(voted["models"][side])
    assert set(winners) == {"public-model", "im-a-good-chatbot"}
    recompute()

    rows = {row["model"]: row for row in api.get("/api/leaderboard?min_votes=0").json()["rows"]}
    assert set(rows) == {"public-model", "im-a-good-chatbot"}
    hidden = rows["im-a-good-chatbot"]
    assert hidden["backend"] == hidden["license"] == hidden["organisation"] == ""
    assert "tokens_per_answer" not in hidden and "seconds_per_answer" not in hidden
    assert rows["public-model"]["backend"] == "transformers" and "tokens_per_answer" in rows["public-model"]
    csv = api.get("/api/leaderboard?format=csv").text
    assert "search" not in csv and "Acme" not in csv

"""A retrieval contestant's sources are data beside its answer: stored by the worker with the
answer, shown with it (before the vote too: they are part of it), counted for style control."""

import pytest

from arena.models import Message, Vote
from tests.conftest import retrieval_endpoint


@pytest.fixture
def docs_arena(api, arena_db, tiny_model_dir, docs_corpus):
    return [retrieval_endpoint("docs-two", tiny_model_dir, docs_corpus, top_k=2),
            retrieval_endpoint("docs-one", tiny_model_dir, docs_corpus, top_k=1)]


def _battle(api, prompt: str) -> tuple[str, dict]:
    response = api.post("/api/battles", {"prompt": prompt, "arena": "search"})
    assert response.status_code == 201, response.text
    battle_id = response.json()["id"]
    return battle_id, api.wait_finished(battle_id, timeout=120)


def test_a_covered_question_gets_its_sources_beside_the_answer(api, docs_arena):
    battle_id, data = _battle(api, "Which function generates a random UUID?")
    turn = data["turns"][0]
    counts = {}
    for side in "ab":
        message = turn[side]
        assert message["status"] == "done", Message.objects.get(turn__battle__uuid=battle_id, side=side).error
        assert "Sources:" not in message["text"]  # not appended to the answer's text
        citations = message["citations"]
        assert citations and all(set(c) == {"n", "title", "source"} for c in citations)
        assert [c["n"] for c in citations] == list(range(1, len(citations) + 1))  # none cited: all shown
        assert citations[0]["source"] == "uuid.txt"
        assert Message.objects.get(turn__battle__uuid=battle_id, side=side).citations == citations
        counts[side] = len(citations)
    assert sorted(counts.values()) == [1, 2]  # top_k 1 and top_k 2, every passage relevant

    revealed = api.post(f"/api/battles/{battle_id}/vote", {"choice": "a"}).json()
    vote = Vote.objects.get(battle__uuid=battle_id)
    assert vote.arena_id == "search" and vote.counts
    assert vote.features["conv_metadata"]["citation_count_a"] == counts["a"]
    assert vote.style_citations == pytest.approx((counts["a"] - counts["b"]) / (counts["a"] + counts["b"]))
    passages = revealed["turns"][0]["a"]["compute"]["trace"]["passages"]
    assert all(p["relevant"] for p in passages)


def test_a_question_the_corpus_does_not_cover_cites_nothing(api, docs_arena):
    battle_id, data = _battle(api, "What is 17 * 23?")
    assert [data["turns"][0][side]["citations"] for side in "ab"] == [[], []]
    revealed = api.post(f"/api/battles/{battle_id}/vote", {"choice": "tie"}).json()
    for side in "ab":
        passages = revealed["turns"][0][side]["compute"]["trace"]["passages"]
        assert passages and not any(p["relevant"] for p in passages)  # found, but none good enough to give
    assert Vote.objects.get(battle__uuid=battle_id).style_citations == 0

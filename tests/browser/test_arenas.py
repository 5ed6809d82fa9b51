"""Arenas on the page: the battle page offers one tab per arena and draws the battle in the chosen
one; a retrieval contestant's sources are listed by the page below the answer's frame, numbered as
its [n] markers, never inside the frame; the leaderboard has a tab per arena."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from arena.models import Battle
from ratings.snapshots import recompute
from tests.browser.battle_page import answer, pane, send, vote_button, wait_until_answered
from tests.conftest import retrieval_endpoint, tiny_endpoint

SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "arenas"


@pytest.fixture
def two_arenas(arena_db, serving, tiny_model_dir, docs_corpus):
    return ([tiny_endpoint("plain-1", tiny_model_dir, seed=1), tiny_endpoint("plain-2", tiny_model_dir, seed=2)],
            [retrieval_endpoint("docs-two", tiny_model_dir, docs_corpus, top_k=2),
             retrieval_endpoint("docs-one", tiny_model_dir, docs_corpus, top_k=1)])


def test_a_search_battle_lists_its_sources_outside_the_answer_frame(page, two_arenas):
    page.goto("/")
    tabs = page.get_by_role("navigation", name="Arena")
    expect(tabs.get_by_role("link", name="Text")).to_have_attribute("aria-current", "page")
    tabs.get_by_role("link", name="Search").click()
    expect(tabs.get_by_role("link", name="Search")).to_have_attribute("aria-current", "page")
    send(page, "Which function generates a random UUID?")
    wait_until_answered(page)
    battle = Battle.objects.select_related("endpoint_a", "endpoint_b").get()
    assert battle.arena_id == "search"
    assert {battle.endpoint_a.name, battle.endpoint_b.name} == {"docs-two", "docs-one"}

    counts = {}
    for side in "ab":
        sources = pane(page, side).get_by_role("region", name=f"Sources cited by Model {side.upper()}")
        expect(sources).to_be_visible()
        items = sources.get_by_role("listitem")
        counts[side] = items.count()
        expect(items.first).to_have_text("[1] Python documentation for the uuid module — uuid.txt")
        # The list is the page's, after the frame; the frame holds the model's text alone.
        frame = answer(page, side)
        assert frame.locator(".sources").count() == 0 and "uuid.txt" not in frame.inner_text()
        assert pane(page, side).locator(".answer + .sources").count() == 1
    assert sorted(counts.values()) == [1, 2]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "search-battle-before-vote.png", full_page=True)

    vote_button(page, "a").click()
    expect(page.get_by_role("status").filter(has_text="Thanks for voting")).to_be_visible()
    expect(pane(page, "a").locator(".sources li")).to_have_count(counts["a"])  # still listed after the reveal
    page.screenshot(path=SCREENSHOTS / "search-battle-revealed.png", full_page=True)
    page.goto(f"/b/{battle.uuid}/")  # the shared page lists them the same way
    for side in "ab":
        sources = page.get_by_role("region", name=f"Sources cited by Model {side.upper()}")
        expect(sources.get_by_role("listitem")).to_have_count(counts[side])
        assert page.locator(".answer .sources").count() == 0


def test_the_text_arena_battles_plain_models_and_shows_no_sources(page, two_arenas):
    page.goto("/")
    send(page, "Hello there")
    wait_until_answered(page)
    battle = Battle.objects.select_related("endpoint_a", "endpoint_b").get()
    assert battle.arena_id == "text" and {battle.endpoint_a.name, battle.endpoint_b.name} == {"plain-1", "plain-2"}
    for side in "ab":
        expect(pane(page, side).locator(".sources")).to_be_hidden()


def test_the_leaderboard_has_a_tab_per_arena(page, two_arenas):
    recompute()
    page.goto("/leaderboard/")
    tabs = page.get_by_role("navigation", name="Arenas")
    expect(tabs.get_by_role("link", name="Text")).to_have_attribute("aria-current", "page")
    tabs.get_by_role("link", name="Search").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Leaderboard: Search arena")
    expect(page.get_by_role("link", name="CSV")).to_have_attribute(
        "href", "/api/leaderboard?arena=search&category=overall&format=csv")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "leaderboard-search-tab.png", full_page=True)

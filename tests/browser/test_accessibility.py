"""axe-core's WCAG 2.1 A and AA rules (contrast included) on every page a visitor reaches, in light
and dark: the battle page before and after a vote, history, the leaderboard, a model page, the
models, about, direct and named pages, and the 404 page. A violation names its rule and elements."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.battle_page import send, vote_button, wait_until_answered
from tests.browser.test_history_and_model_pages import _rated_arena, start_battle, vote

AXE = Axe()
WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
SCHEMES = ("light", "dark")


def assert_accessible(page: Page, what: str) -> None:
    for scheme in SCHEMES:
        page.emulate_media(color_scheme=scheme)
        found = AXE.run(page, options=WCAG).response["violations"]
        assert not found, f"{what} ({scheme}): " + "; ".join(
            f"{v['id']} ({v['impact']}): {v['help']}, at {[node['target'] for node in v['nodes'][:3]]}"
            for v in found)


@pytest.mark.parametrize("path", ["/", "/named/", "/direct/", "/models/", "/about/", "/history/", "/no-such-page/"])
def test_each_page_passes_axe(page, scripted_pair, path):
    page.goto(path)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    assert_accessible(page, path)


def test_the_battle_page_passes_axe_before_and_after_the_vote(page, scripted_pair):
    page.goto("/")
    page.get_by_role("button", name="I agree").click()
    send(page, "How do I make tea?")
    wait_until_answered(page)
    expect(vote_button(page, "a")).to_be_enabled()
    assert_accessible(page, "the battle page with the vote bar")
    vote_button(page, "a").click()
    expect(page.get_by_role("link", name="lyra").first).to_be_visible()
    assert_accessible(page, "the battle page after the reveal")


def test_history_leaderboard_and_a_model_page_pass_axe(page, scripted_pair, tmp_path):
    vote(page, start_battle(page, "How do I make tea?"), "a")
    start_battle(page, "And coffee?")
    page.goto("/history/")
    expect(page.get_by_role("link", name="How do I make tea?")).to_be_visible()
    assert_accessible(page, "history with two battles")
    _rated_arena(tmp_path)
    page.goto("/leaderboard/")
    expect(page.locator("table.leaderboard").first).to_be_visible()
    assert_accessible(page, "the leaderboard")
    page.goto("/models/alpha/")
    expect(page.get_by_role("heading", level=1)).to_have_text("alpha")
    assert_accessible(page, "a model page")

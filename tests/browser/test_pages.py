"""The pages around the battle: direct chat, models, about, the notice before the first battle,
and the layout at desktop and phone width in light and dark (screenshots for the README)."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from arena.models import ModelEndpoint
from tests.browser.battle_page import pane, send, wait_until_answered
from tests.browser.conftest import DESKTOP, PHONE

ROOT = Path(__file__).resolve().parents[2]
# The README's screenshots change only when asked (ARENA_UPDATE_SCREENSHOTS=1), so that a test run
# leaves the working tree clean; otherwise they land beside the other test artifacts.
SCREENSHOTS = (ROOT / "docs" / "screenshots" if os.environ.get("ARENA_UPDATE_SCREENSHOTS") == "1"
               else ROOT / "tests" / "artifacts" / "screenshots")


def test_it_chats_with_one_model_directly(page, serving, endpoints):
    page.goto("/direct/?model=beta-model")
    picker = page.get_by_role("combobox", name="Model")
    expect(picker).to_have_value("beta-model")
    expect(pane(page, "a").get_by_role("heading")).to_have_text("beta-model")
    send(page, "Hello there")
    wait_until_answered(page, sides="a")
    expect(pane(page, "a").locator(".meta")).to_contain_text(re.compile(r"\d+ tokens · first token after .* tokens/s"))
    expect(page.get_by_role("button", name=re.compile("is better|Tie|Both are bad"))).to_have_count(0)
    expect(picker).to_be_disabled()
    page.get_by_role("button", name="New round").click()
    expect(picker).to_be_enabled()


def test_the_models_page_describes_each_model(page, serving, endpoints):
    ModelEndpoint.objects.filter(name="alpha-model").update(description="A tiny test model.", license="Apache-2.0")
    page.goto("/models/")
    card = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name="alpha-model"))
    for text in ("A tiny test model.", "Apache-2.0", "alpha-model-org", "Available now"):
        expect(card).to_contain_text(text)
    card.get_by_role("link", name="Chat with alpha-model").click()
    expect(page.get_by_role("combobox", name="Model")).to_have_value("alpha-model")


def test_the_notice_before_the_first_battle_is_shown_until_accepted(page, arena_db):
    page.goto("/")
    notice = page.get_by_role("complementary", name="Before your first battle")
    expect(notice).to_contain_text("may be published")
    expect(notice.get_by_role("link", name="Terms of use")).to_have_attribute("href", "/about/#terms")
    notice.get_by_role("button", name="I agree").click()
    expect(notice).to_be_hidden()
    page.reload()
    expect(page.get_by_role("heading", name="Which answer is better?")).to_be_visible()
    expect(notice).to_be_hidden()


@pytest.mark.parametrize("path", ["/", "/named/", "/direct/", "/models/", "/about/"])
def test_every_page_links_the_leaderboard_and_about(page, arena_db, path):
    page.goto(path)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Leaderboard")).to_have_attribute("href", "/leaderboard/")
    expect(nav.get_by_role("link", name="About")).to_have_attribute("href", "/about/")
    expect(nav.locator('[aria-current="page"]')).to_have_attribute("href", path)


def test_the_about_page_explains_voting_ratings_data_and_terms(page, arena_db):
    page.goto("/about/")
    for heading in ("How voting works", "How ratings work", "What is collected", "Terms of use"):
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    expect(page.locator("main")).to_contain_text("Bradley-Terry")


def test_the_battle_page_fits_desktop_and_phone_in_light_and_dark(page, scripted_pair):
    page.goto("/")
    page.get_by_role("button", name="I agree").click()
    send(page, "How do I make tea?")
    wait_until_answered(page)
    unnamed = [line for line in page.locator("body").aria_snapshot().splitlines()
               if re.match(r"\s*- (button|link|textbox|combobox|checkbox)\s*(:|$)", line)]
    assert not unnamed, f"controls without an accessible name: {unnamed}"

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        a, b = pane(page, "a").bounding_box(), pane(page, "b").bounding_box()
        if width == "phone":
            assert b["y"] >= a["y"] + a["height"], "the panes stack on a phone"
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        else:
            assert a["y"] == b["y"] and b["x"] > a["x"] + a["width"], "the panes sit side by side"
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            background = page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert (background == "rgb(19, 20, 25)") == (scheme == "dark"), background
            # what a person sees in the window: the answers, and the dock pinned at the bottom
            page.screenshot(path=SCREENSHOTS / f"battle-{width}-{scheme}.png")

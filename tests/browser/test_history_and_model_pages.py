"""The pages around the battles: "Your battles" (listed, opened after a reload, deleted), a model's
own page (and a codenamed model's, which says nothing of what it is), the API docs offline under the
site's CSP, and the styled 404 page; at desktop and phone width, with the README's screenshots.

Battles are started through the API with the browser's own session (page.request shares its
cookies), which is what "this browser's battles" means, so these tests do not depend on the
battle page's layout."""

import json
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from arena.models import ModelEndpoint
from arena.proof_of_work import solve
from ratings.snapshots import recompute
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_pages import SCREENSHOTS
from tests.conftest import wait_until
from tests.ratings.helpers import small_arena_votes

VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}


def _csrf(page: Page) -> dict:
    return {"X-CSRFToken": page.request.get("/api/session").json()["csrf_token"]}


def start_battle(page: Page, prompt: str, **body) -> str:
    response = page.request.post("/api/battles", data={"prompt": prompt, **body}, headers=_csrf(page))
    assert response.status == 201, response.text()
    battle_id = response.json()["id"]
    wait_until(lambda: page.request.get(f"/api/battles/{battle_id}").json()["finished"], timeout=60,
               what="both answers to finish")
    return battle_id


def vote(page: Page, battle_id: str, choice: str) -> None:
    challenge = page.request.get(f"/api/battles/{battle_id}").json().get("proof_of_work")
    proof = solve(challenge["challenge"], challenge["bits"]) if challenge else ""
    response = page.request.post(f"/api/battles/{battle_id}/vote", data={"choice": choice, "proof": proof},
                                 headers=_csrf(page))
    assert response.status == 200, response.text()


def assert_fits(page: Page, viewport: dict) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], "no sideways scrolling"


@pytest.mark.parametrize("width", VIEWPORTS)
def test_history_lists_and_opens_a_battle_after_a_reload(page, scripted_pair, width):
    page.set_viewport_size(VIEWPORTS[width])
    voted = start_battle(page, "How do I make tea?")
    vote(page, voted, "a")
    start_battle(page, "And coffee?")

    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Your battles").click()
    page.reload()
    items = page.get_by_role("list", name="Your battles").get_by_role("listitem")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text("And coffee?")  # newest first
    expect(items.nth(0)).to_contain_text("Not voted")
    expect(items.nth(0)).to_contain_text("Models hidden until you vote")
    for name in ("lyra", "vega"):
        expect(items.nth(0)).not_to_contain_text(name)  # never the models of an unvoted blind battle
        expect(items.nth(1).get_by_role("link", name=name)).to_be_visible()
    expect(items.nth(1)).to_contain_text("Your vote: A is better")
    expect(items.nth(1).locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    assert_fits(page, VIEWPORTS[width])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.screenshot(path=SCREENSHOTS / f"history-{width}-{scheme}.png", full_page=True)
    page.emulate_media(color_scheme="light")

    items.nth(1).get_by_role("link", name="How do I make tea?").click()
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"(lyra vs vega|vega vs lyra)"))
    expect(page.locator(".turn .user")).to_have_text("How do I make tea?")
    expect(page.locator("main")).to_contain_text("Tea is ready!")  # lyra's answer
    expect(page.locator("main")).to_contain_text("Two steps")  # vega's
    expect(page.get_by_role("link", name="lyra")).to_have_attribute("href", "/models/lyra/")
    assert_fits(page, VIEWPORTS[width])

    page.go_back()
    page.get_by_role("list", name="Your battles").get_by_role("link", name="And coffee?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("A blind battle")
    expect(page.get_by_role("status")).to_contain_text("the models stay hidden until the vote")
    expect(page.locator("main")).not_to_contain_text(re.compile("lyra|vega"))


def test_deleting_a_battle_takes_it_off_the_history(page, scripted_pair):
    start_battle(page, "Keep this one")
    start_battle(page, "Delete this one")
    page.goto("/history/")
    items = page.get_by_role("list", name="Your battles").get_by_role("listitem")
    items.filter(has_text="Delete this one").get_by_role("button", name=re.compile("^Delete")).click()
    expect(page.get_by_role("status")).to_contain_text("deleted from your history")
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("Keep this one")
    page.reload()
    expect(items).to_have_count(1)


PROMPTS = ["Write a haiku about autumn rain.", "What is 17 * 23?", "Explain recursion to a child.",
           "Fix this Python: for i in range(10) print(i)", "¿Cuál es la capital de Australia?"]


def _rated_arena(tmp_path):
    """50 imported votes, with "gamma" under the codename "nebula" and "alpha" fully described."""
    votes = small_arena_votes(50)
    records = [{"model_a": a, "model_b": b, "winner": w, "anony": True, "prompt": PROMPTS[i % len(PROMPTS)]}
               for i, (a, b, w) in enumerate(votes)]
    (tmp_path / "votes.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    call_command("import_battles", str(tmp_path / "votes.jsonl"))
    ModelEndpoint.objects.filter(name="alpha").update(
        description="A strong test model.", license="Apache-2.0", organisation="Alpha Labs")
    ModelEndpoint.objects.filter(name="gamma").update(
        codename="nebula", name_published=False, license="Secret-Licence", organisation="Secret Org",
        description="A model under test.")
    recompute()


@pytest.mark.parametrize("width", VIEWPORTS)
def test_a_model_page_shows_ratings_opponents_and_answers(page, arena_db, tmp_path, width):
    _rated_arena(tmp_path)
    page.set_viewport_size(VIEWPORTS[width])
    page.goto("/leaderboard/")
    page.locator("table.leaderboard").first.get_by_role("link", name="alpha", exact=True).click()
    expect(page).to_have_url(re.compile("/models/alpha/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("alpha")
    main = page.locator("main")
    for text in ("A strong test model.", "Apache-2.0", "Alpha Labs", "OpenAI-compatible server"):
        expect(main).to_contain_text(text)
    ratings = page.get_by_role("region", name="Rating by category")
    overall = ratings.get_by_role("row", name=re.compile("^Overall"))
    expect(overall).to_contain_text(re.compile(r"\d+ – \d+"))  # the interval
    expect(overall).to_contain_text("preliminary")
    opponents = page.get_by_role("region", name="Against each opponent")
    expect(opponents.get_by_role("row", name=re.compile("^beta"))).to_contain_text("%")
    expect(opponents.get_by_role("link", name="nebula")).to_have_attribute("href", "/models/nebula/")
    expect(page.get_by_role("region", name="Recent published battles").get_by_role("listitem")).to_have_count(10)
    assert_fits(page, VIEWPORTS[width])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.screenshot(path=SCREENSHOTS / f"model-{width}-{scheme}.png", full_page=True)


def test_a_codenamed_model_page_says_nothing_of_what_it_is(page, arena_db, tmp_path):
    _rated_arena(tmp_path)
    page.goto("/models/nebula/")
    expect(page.get_by_role("heading", level=1)).to_have_text("nebula")
    expect(page.get_by_role("status")).to_contain_text("runs under a codename")
    main = page.locator("main")
    expect(main).to_contain_text("A model under test.")
    expect(page.get_by_role("region", name="Rating by category")).to_contain_text("Overall")
    for secret in ("gamma", "Secret-Licence", "Secret Org", "OpenAI", "Tokens per answer"):
        expect(main).not_to_contain_text(secret)
    response = page.goto("/models/gamma/")  # its real name finds nothing
    assert response.status == 404


def test_the_api_docs_render_offline_under_the_csp(page, arena_db, web):
    outside = []

    def only_this_site(route):
        if route.request.url.startswith(web):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_site)
    response = page.goto("/api/docs")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Model Arena API")
    expect(page.locator(".opblock-summary-path", has_text="/api/history").first).to_be_visible()
    assert outside == []  # everything came from the arena itself; the page fixture fails on a CSP violation


@pytest.mark.parametrize("width", VIEWPORTS)
def test_the_404_page_is_styled_with_navigation(page, arena_db, width):
    page.set_viewport_size(VIEWPORTS[width])
    response = page.goto("/no-such-page/")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Leaderboard")).to_be_visible()
    expect(page.get_by_role("link", name="Start a blind battle")).to_have_attribute("href", "/")
    expect(page.locator('meta[name="viewport"]')).to_have_attribute("content", re.compile("width=device-width"))
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"  # base.css is applied
    assert_fits(page, VIEWPORTS[width])

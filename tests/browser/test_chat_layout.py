"""The battle page as a chat: the composer and the vote bar stay in the window while the answers
scroll each in its own pane, the wait is shown honestly, a cut answer can be continued, and the
vote buttons say before the click whether the vote will count."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from arena.models import Battle, Message, Mode, Status, Turn
from tests.browser.battle_page import (
    answer,
    in_view,
    pane,
    prompt_box,
    send,
    send_and_time_first_change,
    text_length_while_streaming,
    vote_button,
    wait_until_answered,
)
from tests.browser.conftest import LAPTOP, PHONE, scripted_endpoint

FIRST_CHANGE_MS = []  # Send to the first change drawn, per viewport: printed for the report (-s)


def dock_parts(page):
    return [prompt_box(page), page.locator("#vote-bar"), *(vote_button(page, c) for c in ("a", "b", "tie", "bothbad"))]


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["desktop", "phone"])
def test_the_composer_and_vote_bar_stay_in_view_during_and_after_a_battle(page, arena_db, serving, scripted_models,
                                                                          viewport):
    scripted_endpoint(scripted_models, "lyra", "long-a")
    scripted_endpoint(scripted_models, "vega", "long-b")
    page.set_viewport_size(viewport)
    page.goto("/")
    page.get_by_role("button", name="I agree").click()
    expect(page.get_by_role("region", name="Try a prompt").get_by_role("button")).to_have_count(4)
    ms = send_and_time_first_change(page, "How do I make tea, in detail?")
    FIRST_CHANGE_MS.append((viewport["width"], ms))
    print(f"\nsend -> first change drawn at {viewport['width']}x{viewport['height']}: {ms:.1f} ms")
    expect(page.get_by_role("region", name="Try a prompt")).to_be_hidden()

    text_length_while_streaming(page, "a", longer_than=300)
    for part in dock_parts(page):
        assert in_view(page, part), f"{part} is out of view while the answers stream"
    expect(vote_button(page, "a")).to_be_disabled()
    expect(page.locator("#vote-rule")).to_have_text("Voting opens when both answers are complete.")

    wait_until_answered(page)
    expect(vote_button(page, "a")).to_be_enabled()
    for part in dock_parts(page):
        assert in_view(page, part), f"{part} is out of view once voting opens"
    assert page.evaluate("window.scrollY") == 0, "nothing needed the page to scroll"
    for side in "ab":  # the long answers scroll inside their panes, which followed them to the end
        log = pane(page, side).locator(".log")
        assert log.evaluate("el => el.scrollHeight > el.clientHeight + 50"), f"pane {side} does not scroll"
        assert log.evaluate("el => el.scrollHeight - el.scrollTop - el.clientHeight < 60"), f"pane {side} lags"
        assert answer(page, side).get_attribute("aria-busy") is None
    assert page.locator('[aria-busy="undefined"], [aria-busy="false"]').count() == 0
    expect(page.locator("#vote-rule")).to_have_text("Your vote counts toward the ratings.")

    vote_button(page, "tie").click()
    expect(page.get_by_role("region", name="The models are revealed")).to_be_visible()
    assert in_view(page, prompt_box(page)) and in_view(page, page.get_by_role("button", name="New round"))


def test_on_a_touch_screen_enter_makes_a_new_line_and_send_sends(browser, web, arena_db, serving, scripted_models):
    scripted_endpoint(scripted_models, "lyra", "markdown-a")
    scripted_endpoint(scripted_models, "vega", "markdown-b")
    context = browser.new_context(base_url=web, viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto("/")
        expect(page.locator("#prompt-hint")).to_be_hidden()  # no keys to hint at
        prompt_box(page).fill("First line")
        prompt_box(page).press("Enter")
        prompt_box(page).type("second line")
        expect(prompt_box(page)).to_have_value("First line\nsecond line")
        expect(page.locator(".turn")).to_have_count(0)  # nothing was sent

        page.get_by_role("button", name="Send").tap()
        wait_until_answered(page)
        expect(pane(page, "a").locator(".user")).to_have_text("Prompt: First line\nsecond line")
        expect(vote_button(page, "a")).to_be_enabled()
        expect(page.locator(".votes kbd").first).to_be_hidden()
        expect(page.locator("#vote-hint .key-hint")).to_be_hidden()
        for part in dock_parts(page):
            assert in_view(page, part), f"{part} is out of view on the phone"
    finally:
        context.close()


def finished_answers(a, b, seconds: list[float]) -> None:
    """Past blind battles of the text arena whose answers took these many seconds from Send to their end."""
    now = timezone.now()
    for s in seconds:
        battle = Battle.objects.create(mode=Mode.ANONYMOUS, arena_id="text", endpoint_a=a, endpoint_b=b,
                                       client_id="someone-else")
        turn = Turn.objects.create(battle=battle, index=0, prompt="Earlier question")
        for side in "ab":
            Message.objects.create(turn=turn, side=side, status=Status.DONE, text="Earlier answer.",
                                   queued_at=now - timedelta(seconds=s + 60), started_at=now - timedelta(seconds=s),
                                   finished_at=now - timedelta(seconds=60))


def test_the_wait_shows_a_timer_and_one_estimate_for_the_arena(page, arena_db, serving, scripted_models):
    lyra = scripted_endpoint(scripted_models, "lyra", "thinks-first")
    vega = scripted_endpoint(scripted_models, "vega", "thinks-first")
    finished_answers(lyra, vega, [10, 12, 30, 31])
    page.goto("/")
    send(page, "What is a good name for a cat?")

    waiting = page.locator("#waiting")
    expect(waiting).to_contain_text("Both models are thinking…")
    expect(waiting.locator(".elapsed")).to_have_text(re.compile(r"^[2-9] s$"), timeout=5_000)  # the timer runs
    expect(waiting.locator(".estimate")).to_have_text("· answers here usually take about 21 s")  # the median
    for side in "ab":
        expect(pane(page, side).locator(".badge")).to_have_text("Thinking…")
        expect(answer(page, side)).to_have_attribute("aria-busy", "true")
    for side in "ab":  # "writing" only once text flows
        expect(pane(page, side).locator(".badge")).to_have_text(re.compile("Writing…|Done"), timeout=30_000)
    expect(waiting).to_be_hidden()
    wait_until_answered(page)


@pytest.mark.parametrize("path", ["/", "/named/", "/direct/"])
def test_a_cut_answer_says_so_and_continues_on_every_side(page, arena_db, serving, scripted_models, path):
    scripted_endpoint(scripted_models, "lyra", "cut-off")
    scripted_endpoint(scripted_models, "vega", "cut-off")
    sides = "a" if path == "/direct/" else "ab"
    page.goto(path)
    send(page, "How do I make tea?")
    wait_until_answered(page, sides=sides)
    for side in sides:
        expect(pane(page, side).locator(".meta")).to_contain_text("Cut at the length limit.")
    notice = page.locator("#cut-notice")
    expect(notice).to_contain_text("An answer was cut at the length limit.")
    assert in_view(page, notice)
    notice.get_by_role("button", name="Continue").click()

    wait_until_answered(page, sides=sides, turn=1)
    for side in sides:
        expect(pane(page, side).locator(".user").nth(1)).to_have_text(re.compile("^Prompt: Continue"))
        expect(answer(page, side, 1)).to_contain_text("Steep the leaves")
    battle = Battle.objects.get()
    assert battle.turns.count() == 2 and Message.objects.filter(turn__index=1).count() == len(sides)


def test_the_vote_buttons_say_before_the_click_that_a_stopped_battle_will_not_count(page, arena_db, serving,
                                                                                     scripted_models):
    scripted_endpoint(scripted_models, "lyra", "endless")
    scripted_endpoint(scripted_models, "vega", "endless")
    page.goto("/")
    send(page, "Write a very long essay.")
    text_length_while_streaming(page, "b", longer_than=40)
    page.get_by_role("button", name="Stop").click()

    expect(vote_button(page, "a")).to_be_enabled()
    expect(vote_button(page, "a")).to_have_accessible_name(re.compile("A is better.*not counted"))
    expect(page.locator("#vote-rule")).to_have_text(
        "You can vote, but this vote will not count toward the ratings: "
        "An answer was stopped or failed, so this battle does not count.")
    vote_button(page, "bothbad").click()
    expect(page.locator(".reveal .excluded")).to_contain_text("stopped")


def test_a_leak_is_named_before_the_vote_without_confirming_the_model(page, arena_db, serving, scripted_models):
    scripted_endpoint(scripted_models, "lyra", "markdown-a")
    scripted_endpoint(scripted_models, "vega", "names-itself")
    page.goto("/")
    send(page, "Who are you?")
    wait_until_answered(page)
    rule = page.locator("#vote-rule")
    expect(rule).to_contain_text("An answer names a model or its maker, so the vote cannot be blind")
    expect(rule).not_to_contain_text("vega")
    expect(rule).not_to_contain_text("Vega")


def test_two_empty_answers_offer_no_vote(page, arena_db, serving, scripted_models):
    scripted_endpoint(scripted_models, "lyra", "thinks-first")
    scripted_endpoint(scripted_models, "vega", "thinks-first")
    page.goto("/")
    send(page, "Think hard.")
    expect(page.locator("#waiting")).to_be_visible()
    page.get_by_role("button", name="Stop").click()

    wait_until_answered(page)
    expect(page.locator("#vote-rule")).to_have_text(
        "Both answers are empty, so there is nothing to judge; regenerate them or ask again.")
    for choice in ("a", "b", "tie", "bothbad"):
        expect(vote_button(page, choice)).to_be_disabled()
    battle = Battle.objects.get()
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(f"/api/battles/{battle.uuid}/vote", data={"choice": "tie"},
                                 headers={"X-CSRFToken": token})
    assert response.status == 409 and "Both answers are empty" in response.json()["detail"]


def test_suggested_prompts_fill_the_composer(page, arena_db, serving, scripted_models):
    scripted_endpoint(scripted_models, "lyra", "markdown-a")
    scripted_endpoint(scripted_models, "vega", "markdown-b")
    page.goto("/")
    region = page.get_by_role("region", name="Try a prompt")
    categories = region.locator("button .category").all_inner_texts()
    assert [c.upper() for c in categories] == ["GENERAL", "CODE", "MATH", "NON-ENGLISH"]
    first = region.get_by_role("button").nth(1)
    first.click()
    expect(prompt_box(page)).to_have_value(first.get_attribute("data-prompt"))
    expect(prompt_box(page)).to_be_focused()
    expect(page.locator(".turn")).to_have_count(0)  # filled in, not sent


def test_the_picker_names_each_model_with_its_organisation_once(page, arena_db, serving, scripted_models):
    scripted_endpoint(scripted_models, "lyra", "markdown-a", organisation="Hugging Face (demo)")
    scripted_endpoint(scripted_models, "vega", "markdown-b")
    page.goto("/named/")
    options = page.get_by_role("combobox", name="Model A").locator("option").all_inner_texts()
    assert options == ["lyra · Hugging Face (demo)", "vega · Vega Labs"]

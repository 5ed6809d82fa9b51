"""A blind battle in a real browser: stream, vote, reveal, share, new round, follow-ups, stop,
regenerate after a failure, and the keyboard alone."""

import re

from playwright.sync_api import expect

from arena.localservices import free_port
from arena.models import Backend, ModelEndpoint, Vote
from tests.browser.battle_page import (
    answer,
    pane,
    prompt_box,
    send,
    text_length_while_streaming,
    vote_button,
    wait_until_answered,
)
from tests.browser.conftest import scripted_endpoint
from tests.conftest import TINY_QUEUE, tiny_endpoint


def test_it_runs_a_blind_battle_from_prompt_to_reveal(page, scripted_pair):
    page.goto("/")
    expect(page.get_by_role("heading", name="Before your first battle")).to_be_visible()
    send(page, "How do I make tea?")

    # Both panes fill in as the tokens arrive: each is seen growing while it streams.
    for side in "ab":
        first = text_length_while_streaming(page, side)
        assert text_length_while_streaming(page, side, longer_than=first) > first
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    expect(vote_button(page, "a")).to_be_disabled()
    expect(page.locator(".answer.streaming pre code").first).to_be_attached()  # markdown drawn while streaming
    expect(page.get_by_role("heading", name="Before your first battle")).to_be_hidden()  # sending accepts it

    wait_until_answered(page)
    answers = page.locator(".answer")
    expect(answers.locator("pre code")).to_have_count(2)
    expect(page.get_by_role("button", name="Copy code")).to_have_count(2)
    expect(answers.filter(has_text='<img src=x onerror="window.pwned=1">')).to_have_count(1)
    expect(answers.locator("img, script")).to_have_count(0)
    assert page.evaluate("window.pwned") is None
    expect(page.get_by_role("status").filter(has_text="Both answers are complete")).to_be_visible()

    vote_button(page, "a").click()
    reveal = page.get_by_role("region", name="The models are revealed")
    expect(reveal).to_be_visible()
    assert list(Vote.objects.values_list("counts", flat=True)) == [True]  # the page solved the proof of work
    for name in ("lyra", "vega", "Lyra Labs", "Vega Labs", "Tokens", "Time to first token", "Tokens per second"):
        expect(reveal).to_contain_text(name)
    expect(reveal.get_by_role("row", name=re.compile("Tokens per second"))).to_contain_text(re.compile(r"\d+\.\d"))
    expect(vote_button(page, "b")).to_be_disabled()
    titles = {page.locator(f"#pane-{side} .pane-title").inner_text() for side in "ab"}
    assert titles == {"Model A: lyra", "Model B: vega"} or titles == {"Model A: vega", "Model B: lyra"}
    share = reveal.get_by_role("link", name="Share this battle").get_attribute("href")
    assert re.fullmatch(r"/b/[0-9a-f-]{36}/", share)

    page.get_by_role("button", name="New round").click()
    expect(reveal).to_be_hidden()
    expect(page.locator(".answer")).to_have_count(0)
    expect(prompt_box(page)).to_be_focused()
    expect(page.locator("#pane-a .pane-title")).to_have_text("Model A")

    page.goto(share)
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^(lyra vs vega|vega vs lyra)$"))
    expect(page.get_by_role("region", name="Who was who")).to_contain_text("Vote: A is better")
    expect(page.locator(".answer pre code")).to_have_count(2)
    expect(page.get_by_role("button", name="Copy code")).to_have_count(2)


def test_it_asks_a_follow_up_in_the_same_battle_even_after_a_reload(page, serving, endpoints):
    page.goto("/")
    send(page, "First question")
    wait_until_answered(page)
    page.reload()  # the battle goes on in this tab
    expect(pane(page, "a").locator(".user")).to_have_text("Prompt: First question")
    expect(answer(page, "b")).to_have_attribute("data-status", "done")
    expect(prompt_box(page)).to_have_attribute("placeholder", "Ask a follow-up…")
    send(page, "Second question")
    wait_until_answered(page, turn=1)
    for side in "ab":
        expect(pane(page, side).locator(".user")).to_have_text(["Prompt: First question", "Prompt: Second question"])
        expect(answer(page, side, 1)).to_have_attribute("data-status", "done")
    expect(vote_button(page, "tie")).to_be_enabled()


def test_it_stops_both_answers(page, arena_db, serving, scripted_models):
    scripted_endpoint(scripted_models, "lyra", "endless")
    scripted_endpoint(scripted_models, "vega", "endless")
    page.goto("/")
    send(page, "Write a very long essay.")
    text_length_while_streaming(page, "b", longer_than=40)
    page.get_by_role("button", name="Stop").click()

    for side in "ab":
        expect(answer(page, side)).to_have_attribute("data-status", "stopped")
        expect(pane(page, side).locator(".meta")).to_have_text(re.compile("^Stopped"))
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(vote_button(page, "bothbad")).to_be_enabled()  # stopped answers may be judged; the vote does not count
    expect(page.get_by_role("button", name="Regenerate")).to_be_visible()
    vote_button(page, "bothbad").click()
    expect(page.locator(".reveal .excluded")).to_contain_text("stopped")


def test_it_regenerates_after_an_answer_fails(page, arena_db, serving, scripted_models):
    scripted_endpoint(scripted_models, "lyra", "markdown-a")
    flaky = scripted_endpoint(f"http://127.0.0.1:{free_port()}/v1", "vega", "markdown-b")  # nothing listens there
    page.goto("/named/")
    page.get_by_role("combobox", name="Model A").select_option("lyra")
    page.get_by_role("combobox", name="Model B").select_option("vega")
    expect(pane(page, "b").get_by_role("heading")).to_have_text("Model B: vega")
    send(page, "How do I make tea?")

    wait_until_answered(page)
    expect(answer(page, "b")).to_have_attribute("data-status", "failed")
    expect(pane(page, "b").locator(".meta")).to_have_text("This answer failed. Regenerate to try again.")
    expect(pane(page, "b").locator(".badge")).to_have_text("Failed")
    expect(page.locator("#status")).to_have_text(re.compile("^Model B failed"))
    expect(vote_button(page, "a")).to_be_disabled()

    ModelEndpoint.objects.filter(pk=flaky.pk).update(params={**flaky.params, "base_url": scripted_models.base_url})
    page.get_by_role("button", name="Regenerate").click()
    wait_until_answered(page)
    expect(answer(page, "b")).to_have_attribute("data-status", "done")
    expect(answer(page, "b")).to_contain_text("Patience makes good tea.")
    expect(vote_button(page, "a")).to_be_enabled()


def test_it_votes_with_the_keyboard_alone(page, scripted_pair):
    page.goto("/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the prompt")).to_be_focused()
    page.keyboard.press("Enter")
    expect(prompt_box(page)).to_be_focused()

    page.keyboard.type("Line one")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("line two")
    expect(prompt_box(page)).to_have_value("Line one\nline two")  # Shift+Enter is a new line, not a send
    page.keyboard.press("Enter")
    wait_until_answered(page)
    expect(pane(page, "a").locator(".user")).to_have_text("Prompt: Line one\nline two")

    page.keyboard.press("Escape")
    page.keyboard.press("2")
    expect(page.get_by_role("region", name="The models are revealed")).to_contain_text("B is better")
    new_round = page.get_by_role("button", name="New round")
    expect(new_round).to_be_focused()
    outline = new_round.evaluate("el => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth")
    assert outline.startswith("solid") and not outline.endswith(" 0px"), outline  # focus is visible
    page.keyboard.press("Enter")
    expect(prompt_box(page)).to_be_focused()
    expect(page.locator(".answer")).to_have_count(0)


def test_the_reveal_shows_what_a_search_model_spent(page, arena_db, serving, tiny_model_dir):
    base = tiny_endpoint("tiny-base", tiny_model_dir, max_new_tokens=16)
    ModelEndpoint.objects.create(
        name="tiny-best-of-4", organisation="Search Lab", backend=Backend.SEARCH, queue=TINY_QUEUE,
        params={"base": base.name, "strategy": "best_of_n", "n": 4, "max_new_tokens": 16, "seed": 7,
                "verifiers": {"loglik": 1.0}})
    page.goto("/")
    send(page, "What is 2 + 3?")
    wait_until_answered(page)
    vote_button(page, "tie").click()

    reveal = page.get_by_role("region", name="The models are revealed")
    expect(reveal).to_contain_text("tiny-best-of-4")
    expect(reveal.get_by_role("row", name=re.compile("^Search strategy"))).to_contain_text("best_of_n")
    expect(reveal.get_by_role("row", name=re.compile("^Candidates"))).to_contain_text("4")
    expect(reveal.get_by_role("row", name=re.compile("^Tokens generated"))).to_contain_text(
        re.compile(r"\d+ / \d+"))
    expect(reveal.get_by_role("row", name=re.compile("^Search wall time"))).to_contain_text(re.compile(r"\d\.\d s"))
    # No calculator here: no row for the tokens it writes (the shared page shows 0).
    expect(reveal.get_by_role("row", name=re.compile("^Tokens written by the calculator"))).to_have_count(0)

    reveal.get_by_role("link", name="Share this battle").click()
    expect(page.get_by_role("row", name=re.compile("^Candidates"))).to_contain_text("4")
    expect(page.get_by_role("row", name=re.compile("^Tokens written by the calculator"))).to_contain_text("0")

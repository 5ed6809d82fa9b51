"""Before the vote, a blind battle shows both answers the same way, whatever way they were made:
one shared waiting state with a timer, then both answers appear together and grow in step."""

import re

from playwright.sync_api import expect

from tests.browser.battle_page import answer, send, wait_until_answered
from tests.browser.conftest import scripted_endpoint


def test_both_sides_wait_together_and_then_appear_together(page, arena_db, serving, scripted_models):
    scripted_endpoint(scripted_models, "lyra", "markdown-a")  # streams from the first moment
    scripted_endpoint(scripted_models, "vega", "thinks-first")  # silent for 4 s, then all at once
    page.goto("/")
    send(page, "What is a good name for a cat?")

    waiting = page.locator("#waiting")
    expect(waiting).to_be_visible()
    expect(waiting).to_contain_text("Both models are thinking…")
    expect(waiting.locator(".elapsed")).to_have_text(re.compile(r"^[2-9] s$"), timeout=5_000)  # the timer runs
    for side in "ab":
        expect(page.locator(f"#pane-{side} .badge")).to_have_text("Thinking…")
        assert answer(page, side).text_content() == ""  # the fast side shows nothing either

    # The first text on either side, and how much the other side has then: they start together.
    handle = page.wait_for_function(
        """() => {
            const lengths = ["a", "b"].map(
                (s) => (document.querySelector(`#pane-${s} .answer`) || {}).textContent || "");
            return lengths.some((t) => t.length) && lengths.map((t) => t.length);
        }""", timeout=30_000, polling=10)
    first = handle.json_value()
    assert min(first) > 0, f"one side showed text while the other was still blank: {first}"
    expect(waiting).to_be_hidden()
    wait_until_answered(page)
    expect(page.get_by_role("button", name="A is better")).to_be_enabled()

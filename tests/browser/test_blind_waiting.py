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

    # When text first shows on either side, and how long until the other side has text too: the
    # pacer releases both in the same tick, so the page draws them at most a frame or two apart.
    handle = page.wait_for_function(
        """() => {
            const lengths = ["a", "b"].map((s) => ((document.querySelector(`#pane-${s} .answer`) || {}).textContent
                || "").length);
            if (lengths.some((n) => n > 0) && window.firstTextAt === undefined) window.firstTextAt = performance.now();
            return lengths.every((n) => n > 0) && { apartMs: performance.now() - window.firstTextAt };
        }""", timeout=30_000, polling=10)
    apart = handle.json_value()["apartMs"]
    assert apart < 250, f"one side showed text {apart:.0f} ms before the other"
    expect(waiting).to_be_hidden()
    wait_until_answered(page)
    expect(page.get_by_role("button", name="A is better")).to_be_enabled()

"""What the browser tests do on the battle page, in the words a person would use."""

import re

from playwright.sync_api import Locator, Page, expect

VOTES = {"a": "A is better", "b": "B is better", "tie": "Tie", "bothbad": "Both are bad"}
ANSWER_TIMEOUT = 30_000


def prompt_box(page: Page) -> Locator:
    return page.get_by_role("textbox", name="Prompt")


def send(page: Page, text: str) -> None:
    prompt_box(page).fill(text)
    prompt_box(page).press("Enter")


def pane(page: Page, side: str) -> Locator:
    return page.locator(f"#pane-{side}")


def answer(page: Page, side: str, turn: int = 0) -> Locator:
    return pane(page, side).locator(f'.turn[data-turn="{turn}"] .answer')


def vote_button(page: Page, choice: str) -> Locator:
    return page.get_by_role("button", name=VOTES[choice])


def wait_until_answered(page: Page, sides: str = "ab", turn: int = 0) -> None:
    """Both answers are finished and drawn from the server's rendering."""
    for side in sides:
        expect(answer(page, side, turn)).to_have_attribute("data-status", re.compile("done|stopped|failed"),
                                                           timeout=ANSWER_TIMEOUT)
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()


def text_length_while_streaming(page: Page, side: str, *, longer_than: int = 0) -> int:
    """Wait until this side's answer is streaming and longer than ``longer_than`` characters."""
    handle = page.wait_for_function(
        """([selector, longerThan]) => {
            const el = document.querySelector(selector);
            return el && el.dataset.status === "streaming" && el.textContent.length > longerThan
                && el.textContent.length;
        }""",
        arg=[f'#pane-{side} .turn[data-turn="0"] .answer', longer_than], timeout=ANSWER_TIMEOUT, polling=20)
    return handle.json_value()


def in_view(page: Page, locator: Locator) -> bool:
    """Whether the element is wholly inside the window as it stands, without scrolling."""
    box = locator.bounding_box()
    size = page.viewport_size
    return bool(box) and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= size["width"] + 0.5 \
        and box["y"] + box["height"] <= size["height"] + 0.5


def send_and_time_first_change(page: Page, text: str) -> float:
    """Send with Enter; the milliseconds from the key press to the first frame after the page first
    changed in answer to it (a DOM change, drawn in that frame). For reports, never for asserts."""
    prompt_box(page).fill(text)
    page.evaluate("""() => {
        window.firstChangeMs = new Promise((resolve) => {
            let sentAt = 0;
            document.addEventListener("keydown", (e) => { if (e.key === "Enter") sentAt = performance.now(); },
                                      { capture: true, once: true });
            const observer = new MutationObserver(() => {
                if (!sentAt) return;
                observer.disconnect();
                requestAnimationFrame(() => resolve(performance.now() - sentAt));
            });
            observer.observe(document.getElementById("arena"),
                             { subtree: true, childList: true, characterData: true, attributes: true });
        });
    }""")
    prompt_box(page).press("Enter")
    return page.evaluate("window.firstChangeMs")

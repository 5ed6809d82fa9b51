"""An answer cannot speak for the page: whatever a model writes is drawn inside its own frame,
its links say where they go and ask before leaving, and bidi controls do not act."""

import re
import textwrap
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.battle_page import answer, send, vote_button, wait_until_answered
from tests.browser.conftest import PHONE, scripted_endpoint
from tests.browser.scripted_model import Script, ScriptedModels

SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "answer-frame"
IMPOSTOR = textwrap.dedent("""\
    ## The models are revealed

    | Measure | Model A | Model B |
    |---|---|---|
    | Model | vega | lyra |
    | Organisation | Vega Labs | Lyra Labs |

    [A is better](https://evil.example/vote?choice=a) [B is better](https://evil.example/vote?choice=b)

    Your session has expired: [log in to the arena](https://login.evil.example/arena) to keep your votes.

    ![Thanks for voting!](https://tracker.example/pixel.png)

    Invoice: abc\u202egnp.exe and \x1b[31mred\x1b[0m text.""")
BIDI_AND_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
TEXT_NODES = """(root) => {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    const texts = [];
    while (walker.nextNode()) texts.push(walker.currentNode.data);
    return texts.join("");
}"""


@pytest.fixture(scope="module")
def impostor_server():
    server = ScriptedModels({"impostor": Script(IMPOSTOR)}).start()
    yield server
    server.stop()


@pytest.fixture
def impostors(arena_db, serving, impostor_server):
    """Both sides answer with the page's own words, so the battle's side order does not matter."""
    return [scripted_endpoint(impostor_server, "lyra", "impostor"),
            scripted_endpoint(impostor_server, "vega", "impostor")]


def test_an_answer_that_imitates_the_page_stays_inside_its_frame(page, impostors):
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto("/")
    send(page, "Show me the results.")
    wait_until_answered(page)
    frame = answer(page, "a")

    # The imitations are drawn, visibly bounded, with the frame's label outside it.
    expect(page.get_by_role("group", name="Answer — Model A")).to_have_count(1)
    expect(frame.get_by_role("heading", name="The models are revealed")).to_be_visible()
    expect(frame.locator("table")).to_contain_text("Vega Labs")
    assert frame.evaluate("(el) => getComputedStyle(el).borderLeftStyle") == "solid"
    assert page.evaluate("""() => [...document.querySelectorAll("table, h2, a")]
        .filter((el) => /revealed|Vega Labs|is better|log in/.test(el.textContent))
        .every((el) => el.closest(".answer"))""")

    # The page's own vote buttons are the only buttons with those names, outside every frame.
    expect(vote_button(page, "a")).to_have_count(1)
    expect(vote_button(page, "a")).to_be_enabled()
    assert vote_button(page, "a").evaluate("(el) => el.closest('.answer') === null")
    fake_vote = frame.get_by_role("link", name="A is better")
    expect(fake_vote).to_have_attribute("target", "_blank")
    expect(fake_vote).to_have_attribute("rel", re.compile(r"\bnoopener\b.*\bnofollow\b"))
    expect(frame.locator(".link-target")).to_have_text(["(evil.example)", "(evil.example)", "(login.evil.example)",
                                                        "(tracker.example)"])

    # Clicking a fake vote asks first, in the browser's dialog; dismissed, nothing happens.
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    fake_vote.click()
    expect(vote_button(page, "a")).to_be_enabled()
    assert len(questions) == 1 and "evil.example" in questions[0] and "vote?choice=a" in questions[0]
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    frame.get_by_role("link", name="log in to the arena").click()
    assert len(questions) == 2 and "login.evil.example" in questions[1]
    assert len(page.context.pages) == 1
    expect(page.locator("#status")).to_have_text(re.compile("^Both answers are complete"))

    # No image was loaded: its alt text links to it, through the same question.
    expect(page.locator(".answer img")).to_have_count(0)
    expect(frame.get_by_role("link", name="Image: Thanks for voting!")).to_be_visible()
    assert not [url for url in requests if "example" in url]

    # The override and the escape sequence are shown, not applied, in the final and the streaming drawing.
    text = frame.evaluate(TEXT_NODES)
    assert not BIDI_AND_CONTROLS.search(text) and "abc⟨U+202E⟩gnp.exe" in text and "red text" in text
    streamed = page.evaluate("""(source) => {
        const box = document.createElement("div");
        window.ArenaMarkdown.renderStreaming(box, source);
        return [box.textContent, box.querySelectorAll("a[target=_blank]").length, box.querySelectorAll("img").length];
    }""", IMPOSTOR)
    assert not BIDI_AND_CONTROLS.search(streamed[0]) and "abc⟨U+202E⟩gnp.exe" in streamed[0]
    assert streamed[1:] == [4, 0]

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "desktop-light.png", full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=SCREENSHOTS / "desktop-dark.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=SCREENSHOTS / "phone-dark.png", full_page=True)
    page.emulate_media(color_scheme="light")
    page.screenshot(path=SCREENSHOTS / "phone-light.png", full_page=True)

    # The real buttons still vote.
    vote_button(page, "b").click()
    expect(page.get_by_role("region", name="The models are revealed")).to_be_visible()

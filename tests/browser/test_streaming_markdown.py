"""While an answer streams, the page draws markdown itself from DOM nodes (static/arena/markdown.js);
the finished answer is the server's rendering. The two should look alike, so that the answer does
not jump when it ends, and the page's version must never turn model text into markup."""

from pathlib import Path

import pytest

from arena.markdown import render_markdown

MARKDOWN_JS = Path(__file__).resolve().parents[2] / "static" / "arena" / "markdown.js"
SAMPLES = [
    "Hello **bold**, *em*, `code` and a [link](https://example.com/a).",
    "# Title\n\nPara one\nline two\n\n## Sub\n\n- a\n- b\n  continued\n- c\n\n1. x\n2. y\n\n"
    "> quote\n> more\n\n---\n\nafter",
    "Title\n=====\n\ntext",
    "a * b * c, snake_case_name and 2*3*4",
    "3. three\n4. four",
    "```python\ndef f():\n    return 1\n```\n\nafter the code",
    "**bold with `code` inside**",
]
# Structure of the drawn nodes without the copy buttons the page adds, as tag names in order.
TAGS = """(text) => {
    const box = document.createElement("div");
    window.ArenaMarkdown.renderStreaming(box, text);
    box.querySelectorAll("button.copy").forEach((b) => b.remove());
    const tags = [];
    const walk = (node) => { for (const child of node.children) {
        if (!child.classList.contains("code-block")) tags.push(child.tagName.toLowerCase());
        walk(child);
    } };
    walk(box);
    return tags;
}"""


@pytest.fixture(scope="module")
def renderer(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_content("<!doctype html><title>markdown</title>")
    page.add_script_tag(path=str(MARKDOWN_JS))
    yield page
    context.close()


def server_tags(text: str, renderer) -> list[str]:
    return renderer.evaluate("""(html) => {
        const box = document.createElement("div");
        box.innerHTML = html;  // the test's own trusted input, inside the test page
        return Array.from(box.querySelectorAll("*"), (el) => el.tagName.toLowerCase());
    }""", render_markdown(text))


@pytest.mark.parametrize("text", SAMPLES)
def test_streaming_markdown_has_the_structure_of_the_final_answer(renderer, text):
    assert renderer.evaluate(TAGS, text) == server_tags(text, renderer)


def test_an_unclosed_code_fence_shows_as_code_while_it_streams(renderer):
    assert renderer.evaluate(TAGS, "Look:\n\n```js\nlet a = 1;") == ["p", "pre", "code"]


def test_streaming_markdown_never_turns_model_text_into_markup(renderer):
    text = ('<img src=x onerror="window.pwned=1"> <script>window.pwned=2</script> '
            '[click](javascript:window.pwned=3) <a href="https://x">a</a>')
    assert renderer.evaluate(TAGS, text) == ["p"]
    assert renderer.evaluate("""(text) => {
        const box = document.createElement("div");
        window.ArenaMarkdown.renderStreaming(box, text);
        return box.textContent;
    }""", text) == text
    assert renderer.evaluate("window.pwned") is None

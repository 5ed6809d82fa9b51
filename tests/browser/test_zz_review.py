from playwright.sync_api import expect
from tests.browser.battle_page import send, wait_until_answered, text_length_while_streaming

def test_review(page, scripted_pair):
    from arena.models import ModelEndpoint
    ModelEndpoint.objects.filter(name="lyra").update(description="A scripted model that writes markdown.", license="MIT")
    page.goto("/")
    page.screenshot(path="/tmp/rev-empty.png", full_page=True)
    send(page, "How do I make tea?")
    text_length_while_streaming(page, "a", longer_than=120)
    page.screenshot(path="/tmp/rev-streaming.png", full_page=True)
    wait_until_answered(page)
    page.get_by_role("button", name="B is better").click()
    expect(page.locator("#reveal")).to_be_visible()
    page.screenshot(path="/tmp/rev-reveal.png", full_page=True)
    page.get_by_role("link", name="Share this battle").click()
    page.screenshot(path="/tmp/rev-shared.png", full_page=True)
    page.goto("/models/")
    page.screenshot(path="/tmp/rev-models.png", full_page=True)
    page.goto("/named/")
    page.screenshot(path="/tmp/rev-named.png", full_page=True)
    page.goto("/about/")
    page.screenshot(path="/tmp/rev-about.png", full_page=True)
